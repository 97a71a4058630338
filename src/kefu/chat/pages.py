"""The demo "exchange app" (`/demo/exchange`): a stand-in for an exchange's signed-in page,
only when `demo_pages` is on (`kefu demo` turns it on). It picks a demo customer, mints a
short-lived customer token on the server (as an exchange's back end would) and embeds the
widget with one script tag; its "check a support code" box asks `kefu.chat.service` the way the
exchange's app would ask the chat API."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.chat import service
from kefu.core.clock import utcnow
from kefu.core.errors import KefuError, NotFound
from kefu.core.i18n import N_
from kefu.core.web import DbSession
from kefu.identity import service as identity
from kefu.identity.models import Customer
from kefu.web.rendering import render
from kefu.web.security import verify_csrf

router = APIRouter(prefix="/demo/exchange", include_in_schema=False)

DEMO_PREFIX = "demo-"
TOKEN_MINUTES = 30


def demo_enabled(request: Request) -> None:
    if not request.app.state.settings.demo_pages:
        raise NotFound(kind=N_("Page"), id=request.url.path)


Enabled = Depends(demo_enabled)


def _customers(db: Session) -> list[Customer]:
    return list(
        db.scalars(
            select(Customer)
            .where(Customer.external_id.like(f"{DEMO_PREFIX}%"))
            .order_by(Customer.external_id)
            .limit(40)
        )
    )


def _page(
    request: Request,
    db: Session,
    customer_id: str | None,
    *,
    check: service.ConversationSummary | None = None,
    checked: bool = False,
    code: str = "",
    error: KefuError | None = None,
) -> Response:
    customers = _customers(db)
    chosen = next((c for c in customers if c.external_id == customer_id), None)
    token = (
        identity.sign_customer_token(
            chosen.external_id, utcnow() + timedelta(minutes=TOKEN_MINUTES)
        )
        if chosen
        else ""
    )
    return render(
        request,
        "demo_exchange.html",
        {
            "customers": customers,
            "chosen": chosen,
            "token": token,
            "check": check,
            "checked": checked,
            "code": code,
            "error": error,
        },
        status_code=error.status if error else 200,
    )


@router.get("", dependencies=[Enabled])
def exchange_page(request: Request, db: DbSession, customer: str | None = None) -> Response:
    return _page(request, db, customer)


@router.post("/check", dependencies=[Enabled, Depends(verify_csrf)])
def check_code(
    request: Request,
    db: DbSession,
    customer: Annotated[str, Form(max_length=64)],
    code: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    found = db.scalar(select(Customer).where(Customer.external_id == customer))
    if found is None or not customer.startswith(DEMO_PREFIX):
        raise NotFound(kind=N_("Customer"), id=customer)
    try:
        summary = service.check_code(db, found.id, code)
    except KefuError as error:
        return _page(request, db, customer, code=code, error=error)
    return _page(request, db, customer, check=summary, checked=True, code=code)
