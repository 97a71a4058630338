"""The console's chain check: a transaction hash on a chain → its status, confirmations,
transfers with amounts and labels, explorer links, and (given an expected address and amount)
whether that address received it. Through `kefu.chain.service.check_transaction` (audited);
bad input and an unreachable backend are messages on the page, never a 500."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from kefu.chain import service as chain
from kefu.core.errors import KefuError, ValidationFailed
from kefu.core.i18n import N_
from kefu.core.settings import Settings
from kefu.core.web import DbSession
from kefu.identity.permissions import Permission
from kefu.web.console.auth import ConsoleAgent, console_require
from kefu.web.rendering import render
from kefu.web.security import verify_csrf

router = APIRouter(prefix="/console/chain", include_in_schema=False)

Csrf = Depends(verify_csrf)
Checker = Annotated[ConsoleAgent, Depends(console_require(Permission.CHAIN_CHECK))]

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


def _page(request: Request, form: dict[str, str], **context: Any) -> Response:
    status = context.pop("status_code", 200)
    values = {
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
