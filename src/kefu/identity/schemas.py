"""API shapes for sign-in, agents and customers."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from kefu.identity.models import Customer, CustomerTier, Role

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class LoginRequest(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


class LoginResponse(BaseModel):
    token: str
    expires_at: datetime
    agent_id: str
    role: str
    # True: this sign-in must still enrol (`mfa_enrolled` false) or prove its second factor.
    mfa_required: bool = False
    mfa_enrolled: bool = False


class AgentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    display_name: str
    role: str
    teams: list[str]
    languages: list[str]
    language: str
    active: bool


class AgentCreate(BaseModel):
    email: str = Field(pattern=EMAIL_PATTERN, max_length=254)
    display_name: str = Field(min_length=1, max_length=120)
    password: str = Field(min_length=12, max_length=1024)
    role: Role = Role.AGENT
    teams: list[str] = Field(default_factory=lambda: ["support"])
    languages: list[str] = Field(default_factory=lambda: ["en"])
    language: str = "en"


class CustomerIn(BaseModel):
    external_id: str = Field(min_length=1, max_length=64)
    display_name: str = Field(min_length=1, max_length=120)
    jurisdiction: str = Field(min_length=2, max_length=2, pattern="^[A-Za-z]{2}$")
    language: str = "en"
    email: str | None = Field(default=None, max_length=254)
    phone: str | None = Field(default=None, max_length=32)
    tier: CustomerTier = CustomerTier.STANDARD


def mask_email(email: str | None) -> str | None:
    """Keep enough to recognise the address (first letter, domain), hide the rest."""
    if not email or "@" not in email:
        return email
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_phone(phone: str | None) -> str | None:
    if not phone:
        return phone
    return f"{phone[:3]}****{phone[-2:]}" if len(phone) > 6 else "****"


class CustomerOut(BaseModel):
    """A customer as agents see it: contact details masked unless revealed with a reason."""

    id: str
    external_id: str
    display_name: str
    jurisdiction: str
    language: str
    tier: str
    email: str | None
    phone: str | None

    @classmethod
    def of(cls, customer: Customer, *, reveal: bool = False) -> CustomerOut:
        return cls(
            id=customer.id,
            external_id=customer.external_id,
            display_name=customer.display_name,
            jurisdiction=customer.jurisdiction,
            language=customer.language,
            tier=customer.tier,
            email=customer.email if reveal else mask_email(customer.email),
            phone=customer.phone if reveal else mask_phone(customer.phone),
        )
