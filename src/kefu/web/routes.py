"""The landing page: what is running, the queues at a glance, and where the API lives."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select

from kefu.core.web import DbSession
from kefu.tickets.models import Ticket
from kefu.tickets.service import OPEN_STATUSES
from kefu.web.rendering import render

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, db: DbSession) -> HTMLResponse:
    rows = db.execute(
        select(Ticket.team, Ticket.language, func.count(Ticket.id))
        .where(Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.team, Ticket.language)
        .order_by(Ticket.team, Ticket.language)
    ).all()
    return render(
        request, "home.html", {"queues": [(f"{team}:{lang}", count) for team, lang, count in rows]}
    )


@router.get("/healthz")
def healthz(db: DbSession) -> dict[str, str]:
    db.execute(select(1))
    return {"status": "ok"}
