"""The disputes API: analyse a customer's liquidation for their ticket (`disputes.analyse`),
read a stored analysis and its chart. Every call is audited.

Routes are sync: FastAPI runs them in a worker thread, from which the service calls the async
exchange port on the application's event loop."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from kefu.core.settings import Settings
from kefu.core.web import DbSession, IdempotencyKey, idempotent_create
from kefu.disputes import report, service
from kefu.disputes.chart import render_chart
from kefu.disputes.models import Dispute
from kefu.disputes.schemas import DisputeIn, DisputeOut
from kefu.exchange.port import Exchange
from kefu.identity.deps import Principal, require
from kefu.identity.models import Agent
from kefu.identity.permissions import Permission

router = APIRouter(prefix="/api/v1/disputes", tags=["disputes"])

Analyst = Annotated[Principal, Depends(require(Permission.DISPUTES_ANALYSE))]


def _exchange(request: Request) -> Exchange:
    exchange: Exchange = request.app.state.exchange
    return exchange


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def dispute_out(dispute: Dispute) -> DisputeOut:
    analysis = service.stored_analysis(dispute)
    return DisputeOut(
        id=dispute.id,
        ticket_id=dispute.ticket_id,
        customer_id=dispute.customer_id,
        liquidation_id=dispute.liquidation_id,
        verdict=dispute.verdict,
        language=dispute.language,
        escalated=dispute.escalated,
        note_message_id=dispute.note_message_id,
        summary_message_id=dispute.summary_message_id,
        created_by=dispute.created_by,
        created_at=dispute.created_at,
        report=report.full_report(analysis, dispute.language),
        summary=report.customer_summary(analysis, dispute.language),
        chart_url=f"/api/v1/disputes/{dispute.id}/chart.svg",
        analysis=dispute.analysis,
    )


@router.post("", status_code=201, response_model=DisputeOut)
def create_dispute(
    request: Request,
    body: DisputeIn,
    db: DbSession,
    principal: Analyst,
    exchange: Annotated[Exchange, Depends(_exchange)],
    settings: Annotated[Settings, Depends(_settings)],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """A retry with the same Idempotency-Key answers with the first analysis and attaches
    nothing more to the ticket."""
    agent = principal.agent
    assert agent is not None
    return idempotent_create(
        request,
        db,
        principal=principal.key,
        key=idempotency_key,
        body=body,
        create=lambda: _create(db, exchange, settings, body, agent),
    )


def _create(
    db: Session, exchange: Exchange, settings: Settings, body: DisputeIn, agent: Agent
) -> DisputeOut:
    account = body.account
    dispute = service.create_dispute(
        db,
        exchange,
        settings,
        agent=agent,
        ticket_id=body.ticket_id,
        liquidation_id=body.liquidation_id,
        account=service.AccountInputs(
            wallet_balance=account.wallet_balance if account else None,
            other_maintenance=account.other_maintenance if account else Decimal(0),
            other_unrealised=account.other_unrealised if account else Decimal(0),
            fee_rate=body.fee_rate,
            maintenance_basis=body.maintenance_basis,
            fee_basis=body.fee_basis,
        ),
        send_summary=body.send_summary,
    )
    return dispute_out(dispute)


@router.get("", response_model=list[DisputeOut])
def list_disputes(
    db: DbSession, principal: Analyst, ticket_id: Annotated[str, Query(max_length=36)]
) -> list[DisputeOut]:
    """A ticket's analyses, newest first."""
    assert principal.agent is not None
    return [dispute_out(d) for d in service.list_disputes(db, ticket_id, agent=principal.agent)]


@router.get("/{dispute_id}", response_model=DisputeOut)
def get_dispute(dispute_id: str, db: DbSession, principal: Analyst) -> DisputeOut:
    assert principal.agent is not None
    return dispute_out(service.get_dispute(db, dispute_id, agent=principal.agent, what="report"))


@router.get("/{dispute_id}/chart.svg", response_class=Response)
def get_chart(dispute_id: str, db: DbSession, principal: Analyst) -> Response:
    assert principal.agent is not None
    dispute = service.get_dispute(db, dispute_id, agent=principal.agent, what="chart")
    svg = render_chart(service.stored_analysis(dispute), dispute.language)
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
