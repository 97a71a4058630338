"""A customer's personal data as agents see it: masked by default, revealed one field at a
time for a stated reason, and every reveal on the audit log (who, which field, why — never
the value itself)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.core.errors import BadRequest
from kefu.core.i18n import N_
from kefu.identity.models import Customer

MASK = "***"
MAX_REASON = 500


class PiiField(StrEnum):
    NAME = "name"
    EMAIL = "email"
    PHONE = "phone"


FIELD_LABELS: dict[PiiField, str] = {
    PiiField.NAME: N_("Name"),
    PiiField.EMAIL: N_("Email"),
    PiiField.PHONE: N_("Phone"),
}


class RevealReasonRequired(BadRequest):
    code = "reveal_reason_required"
    message = N_("Say why you need to see this value.")


class UnknownPiiField(BadRequest):
    code = "unknown_pii_field"
    message = N_("There is no such customer field to reveal.")


# ITU calling codes of one and two digits; every other code has three.
_ONE_DIGIT = {"1", "7"}
_TWO_DIGITS = {
    "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46",
    "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63",
    "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94", "95", "98",
}  # fmt: skip


def mask_email(value: str) -> str:
    """`alice@example.com` → `a***@example.com`: enough to tell two addresses apart when
    talking to the customer, not enough to write to them."""
    local, at, domain = value.strip().partition("@")
    if not at:
        return mask_text(value)
    return f"{local[:1]}{MASK}@{domain}"


def mask_phone(value: str) -> str:
    """`+6591234567` → `+65 ****-4567`: the country and the last four digits."""
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) < 6:
        return "****"
    prefix = ""
    if value.strip().startswith("+"):
        size = 1 if digits[0] in _ONE_DIGIT else 2 if digits[:2] in _TWO_DIGITS else 3
        prefix = f"+{digits[:size]} "
    return f"{prefix}****-{digits[-4:]}"


def mask_text(value: str) -> str:
    """A name: the first character of each word, the rest starred (`Alice Tan` → `A**** T**`)."""
    words = value.split()
    return " ".join(w[:1] + "*" * max(len(w) - 1, 1) for w in words) or MASK


def masked(customer: Customer, field: PiiField) -> str | None:
    value = raw_value(customer, field)
    if value is None:
        return None
    if field == PiiField.EMAIL:
        return mask_email(value)
    if field == PiiField.PHONE:
        return mask_phone(value)
    return mask_text(value)


def raw_value(customer: Customer, field: PiiField) -> str | None:
    if field == PiiField.NAME:
        return customer.display_name
    if field == PiiField.EMAIL:
        return customer.email
    return customer.phone


@dataclass(frozen=True)
class ProfileField:
    field: PiiField
    label: str
    shown: str | None
    revealed: bool


def masked_profile(customer: Customer, revealed: PiiField | None = None) -> list[ProfileField]:
    """The fields for a page: all masked but the one just revealed (if any)."""
    return [
        ProfileField(
            field,
            FIELD_LABELS[field],
            raw_value(customer, field) if field == revealed else masked(customer, field),
            field == revealed,
        )
        for field in PiiField
    ]


def parse_field(value: str) -> PiiField:
    try:
        return PiiField(value)
    except ValueError:
        raise UnknownPiiField() from None


def reveal(
    session: Session,
    customer: Customer,
    field: PiiField,
    reason: str,
    actor: Actor,
    *,
    ticket_id: str | None = None,
) -> str | None:
    """The unmasked value, for this one response; audited with the reason."""
    reason = reason.strip()
    if not reason:
        raise RevealReasonRequired()
    if len(reason) > MAX_REASON:
        raise BadRequest(N_("A reason is at most %(max)s characters long."), max=MAX_REASON)
    record(
        session,
        actor,
        "customer.pii_revealed",
        subject_type="customer",
        subject_id=customer.id,
        data={"field": field.value, "reason": reason, "ticket_id": ticket_id},
    )
    return raw_value(customer, field)
