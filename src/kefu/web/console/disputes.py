"""Console pages for liquidation disputes: analyse a ticket's liquidation (a CSRF-protected
form) and read the analysis — verdict, numbers, findings, report — with its chart served as an
image from its own route (never inline), under the console's strict CSP."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from kefu.core.errors import KefuError
from kefu.core.settings import Settings
from kefu.core.web import DbSession
from kefu.disputes import report, service
from kefu.disputes.chart import render_chart
from kefu.exchange.port import Exchange
from kefu.identity.permissions import Permission
from kefu.web.console.auth import ConsoleAgent, console_require
from kefu.web.rendering import render
from kefu.web.security import verify_csrf

router = APIRouter(prefix="/console/disputes", include_in_schema=False)

Csrf = Depends(verify_csrf)
Analyst = Annotated[ConsoleAgent, Depends(console_require(Permission.DISPUTES_ANALYSE))]


def _exchange(request: Request) -> Exchange:
    exchange: Exchange = request.app.state.exchange
    return exchange


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get("")
def new_dispute(request: Request, user: Analyst, ticket_id: str = "") -> Response:
    return render(request, "console/dispute_new.html", {"ticket_id": ticket_id[:36]})


@router.post("", dependencies=[Csrf])
def create_dispute(
    request: Request,
    db: DbSession,
    user: Analyst,
    exchange: Annotated[Exchange, Depends(_exchange)],
    settings: Annotated[Settings, Depends(_settings)],
    ticket_id: Annotated[str, Form(max_length=36)],
    liquidation_id: Annotated[str, Form(max_length=64)],
    send_summary: Annotated[bool, Form()] = False,
) -> Response:
    try:
        dispute = service.create_dispute(
            db,
            exchange,
            settings,
            agent=user.agent,
            ticket_id=ticket_id.strip(),
            liquidation_id=liquidation_id.strip(),
            send_summary=send_summary,
        )
    except KefuError as error:
        db.rollback()
        return render(
            request,
            "console/dispute_new.html",
            {"ticket_id": ticket_id, "liquidation_id": liquidation_id, "error": error},
            status_code=error.status,
        )
    return RedirectResponse(f"/console/disputes/{dispute.id}", status_code=303)


@router.get("/{dispute_id}")
def dispute_page(request: Request, dispute_id: str, db: DbSession, user: Analyst) -> Response:
    dispute = service.get_dispute(db, dispute_id, agent=user.agent, what="report")
    analysis = service.stored_analysis(dispute)
    language = dispute.language
    return render(
        request,
        "console/dispute.html",
        {
            "dispute": dispute,
            "analysis": analysis,
            "happened": report.happened(analysis, language),
            "numbers": report.numbers(analysis, language),
            "findings": [(f, report.finding_text(f, language)) for f in analysis.findings],
            "verdict_text": report.VERDICT_TEXT[analysis.verdict],
            "report_text": report.full_report(analysis, language),
        },
    )


@router.get("/{dispute_id}/chart.svg")
def dispute_chart(dispute_id: str, db: DbSession, user: Analyst) -> Response:
    dispute = service.get_dispute(db, dispute_id, agent=user.agent, what="chart")
    return Response(
        render_chart(service.stored_analysis(dispute), dispute.language),
        media_type="image/svg+xml",
        headers={
            "Content-Security-Policy": "default-src 'none'",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
