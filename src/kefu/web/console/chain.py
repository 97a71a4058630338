"""The console's chain check: a transaction hash on a chain → its status, confirmations,
transfers with amounts and labels, explorer links, and (given an expected address and amount)
whether that address received it. Through `kefu.chain.service.check_transaction` (audited);
bad input and an unreachable backend are messages on the page, never a 500."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from kefu.chain import service as chain
from kefu.chain.models import AddressChallenge
from kefu.core.errors import KefuError, ValidationFailed
from kefu.core.i18n import N_
from kefu.core.settings import Settings
from kefu.core.web import DbSession
from kefu.identity.permissions import Permission
from kefu.tickets import service as tickets
from kefu.tickets.models import Ticket
from kefu.web.console.auth import ConsoleAgent, console_require
from kefu.web.rendering import render
from kefu.web.security import verify_csrf

router = APIRouter(prefix="/console/chain", include_in_schema=False)

Csrf = Depends(verify_csrf)
Checker = Annotated[ConsoleAgent, Depends(console_require(Permission.CHAIN_CHECK))]
Prover = Annotated[ConsoleAgent, Depends(console_require(Permission.CHAIN_PROOFS))]

TX_STATUS_LABELS = {
    "not_found": N_("Not found on the chain"),
    "pending": N_("Pending (not in a block yet)"),
    "confirmed": N_("Confirmed"),
    "failed": N_("Failed"),
}
VERDICT_LABELS = {
    "received": N_("Received the expected amount"),
    "received_less": N_("Received less than expected"),
    "received_more": N_("Received more than expected"),
    "not_received": N_("Did not receive anything in this transaction"),
    "not_settled": N_("Not settled yet"),
}


class BadAmount(ValidationFailed):
    code = "bad_amount"
    message = N_("The expected amount must be a positive number.")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


CHALLENGE_STATUS_LABELS = {
    "open": N_("Waiting for the signature"),
    "verified": N_("Verified: the holder controls this address"),
    "failed": N_("Failed: too many wrong signatures"),
}
EMPTY_CHALLENGE = {"chain": "", "address": "", "ticket": ""}


def _page(request: Request, form: dict[str, str], **context: Any) -> Response:
    status = context.pop("status_code", 200)
    values = {
        "challenge_form": context.pop("challenge_form", EMPTY_CHALLENGE),
        "chains": sorted(_settings(request).chains),
        "form": form,
        "tx_status_labels": TX_STATUS_LABELS,
        "verdict_labels": VERDICT_LABELS,
        **context,
    }
    return render(request, "console/chain.html", values, status_code=status)


def _amount(value: str) -> Decimal | None:
    value = value.strip()
    if not value:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise BadAmount() from None
    if not amount.is_finite() or amount <= 0:
        raise BadAmount()
    return amount


@router.get("")
def chain_page(request: Request, user: Checker) -> Response:
    return _page(request, {"chain": "", "txid": "", "address": "", "amount": "", "asset": ""})


@router.post("", dependencies=[Csrf])
def check(
    request: Request,
    db: DbSession,
    user: Checker,
    chain_name: Annotated[str, Form(alias="chain", max_length=32)] = "",
    txid: Annotated[str, Form(max_length=100)] = "",
    address: Annotated[str, Form(max_length=128)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
    asset: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    form = {"chain": chain_name, "txid": txid, "address": address, "amount": amount, "asset": asset}
    try:
        if not txid.strip():
            raise ValidationFailed(N_("Enter a transaction hash."))
        result = chain.check_transaction(
            db,
            _settings(request),
            chain_name,
            txid.strip(),
            viewer=chain.Viewer(user.actor, internal=True),
            expected_address=address.strip() or None,
            expected_amount=_amount(amount),
            expected_asset=asset.strip() or None,
        )
    except KefuError as error:
        db.rollback()
        return _page(request, form, error=error, status_code=error.status)
    return _page(request, form, result=result)


# --- address-control challenges --------------------------------------------------------------


def _ticket_id(db: Session, user: ConsoleAgent, ref: str) -> str | None:
    """A ticket given by id or reference (KF-…), if the agent may see it (else 404)."""
    ref = ref.strip()
    if not ref:
        return None
    found = tickets.list_tickets(db, tickets.TicketFilter(text=ref, limit=2), agent=user.agent)
    exact = [t for t in found if t.reference.lower() == ref.lower()]
    if exact:
        return exact[0].id
    return tickets.get_visible_ticket(db, ref[:36], agent=user.agent).id


@router.post("/challenges", dependencies=[Csrf])
def issue_challenge(
    request: Request,
    db: DbSession,
    user: Prover,
    chain_name: Annotated[str, Form(alias="chain", max_length=32)] = "",
    address: Annotated[str, Form(max_length=128)] = "",
    ticket: Annotated[str, Form(max_length=36)] = "",
) -> Response:
    """A message with a nonce and an expiry for the address's holder to sign."""
    form = {"chain": chain_name, "address": address, "ticket": ticket}
    try:
        if not address.strip():
            raise ValidationFailed(N_("Enter the address to prove."))
        challenge = chain.issue_challenge(
            db,
            _settings(request),
            chain=chain_name,
            address=address,
            ticket_id=_ticket_id(db, user, ticket),
            actor=user.actor,
        )
    except KefuError as error:
        db.rollback()
        empty = {"chain": "", "txid": "", "address": "", "amount": "", "asset": ""}
        return _page(
            request, empty, challenge_form=form, challenge_error=error, status_code=error.status
        )
    return RedirectResponse(f"/console/chain/challenges/{challenge.id}", status_code=303)


def _visible_challenge(
    db: Session, user: ConsoleAgent, challenge_id: str
) -> tuple[AddressChallenge, Ticket | None]:
    """A challenge on a ticket is as visible as the ticket (else the same 404)."""
    challenge = chain.get_challenge(db, challenge_id[:36])
    ticket = None
    if challenge.ticket_id is not None:
        ticket = tickets.get_visible_ticket(db, challenge.ticket_id, agent=user.agent)
    return challenge, ticket


def _challenge_page(
    request: Request,
    db: Session,
    user: ConsoleAgent,
    challenge_id: str,
    *,
    error: KefuError | None = None,
    verified: bool | None = None,
) -> Response:
    challenge, ticket = _visible_challenge(db, user, challenge_id)
    return render(
        request,
        "console/chain_challenge.html",
        {
            "challenge": challenge,
            "ticket": ticket,
            "challenge_status_labels": CHALLENGE_STATUS_LABELS,
            "error": error,
            "verified": verified,
        },
        status_code=error.status if error else 200,
    )


@router.get("/challenges/{challenge_id}")
def challenge_page(request: Request, challenge_id: str, db: DbSession, user: Prover) -> Response:
    return _challenge_page(request, db, user, challenge_id)


@router.post("/challenges/{challenge_id}/answer", dependencies=[Csrf])
def answer_challenge(
    request: Request,
    challenge_id: str,
    db: DbSession,
    user: Prover,
    signature: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Verifies the holder's signature once; a wrong one counts (three close the challenge)."""
    _visible_challenge(db, user, challenge_id)
    try:
        if not signature.strip():
            raise ValidationFailed(N_("Paste the signature the holder sent."))
        _, valid = chain.answer_challenge(
            db, _settings(request), challenge_id, signature.strip(), user.actor
        )
    except KefuError as error:
        db.rollback()
        return _challenge_page(request, db, user, challenge_id, error=error)
    if not valid:
        # The failed attempt and its audit entry stay; the page says it did not match.
        db.commit()
        mismatch = chain.SignatureMismatch()
        return _challenge_page(request, db, user, challenge_id, error=mismatch)
    return _challenge_page(request, db, user, challenge_id, verified=True)
