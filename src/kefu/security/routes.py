"""The security API under /api/v1/security: reports of a compromised account (customers for
their own, any agent for a customer), and risk officers' work on the cases.

Routes are sync: FastAPI runs them in a worker thread, from which the service calls the
async exchange port on the application's event loop."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.core.errors import PermissionDenied
from kefu.core.settings import Settings
from kefu.core.web import DbSession
from kefu.exchange.port import Exchange
from kefu.identity import service as identity
from kefu.identity.deps import CurrentPrincipal, Principal, require
from kefu.identity.models import Customer
from kefu.identity.permissions import Permission
from kefu.security import service
from kefu.security.errors import NotYourAccount
from kefu.security.models import Assessment, SecurityCase
from kefu.security.schemas import (
    ApprovalOut,
    AssessmentIn,
    AssessmentOut,
    CaseOut,
    CaseSummaryOut,
    CloseIn,
    CustomerCaseOut,
    DecisionIn,
    EventOut,
    FreezeIn,
    PayoutIn,
    ReportIn,
    ReportOut,
    UnfreezeIn,
)

router = APIRouter(prefix="/api/v1/security", tags=["security"])

RiskOfficer = Annotated[Principal, Depends(require(Permission.SECURITY_CASES))]


def _exchange(request: Request) -> Exchange:
    exchange: Exchange = request.app.state.exchange
    return exchange


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


ExchangeDep = Annotated[Exchange, Depends(_exchange)]


def assessment_out(db: Session, assessment: Assessment) -> AssessmentOut:
    out = AssessmentOut.model_validate(assessment)
    out.approvals = [ApprovalOut.model_validate(a) for a in service.approvals_of(db, assessment.id)]
    out.payout_payload = service.payout_payload(assessment)
    return out


def case_out(db: Session, case: SecurityCase) -> CaseOut:
    out = CaseOut.model_validate(case, from_attributes=True)
    out.timeline = [EventOut.model_validate(e) for e in service.timeline(db, case.id)]
    out.assessments = [assessment_out(db, a) for a in service.assessments(db, case.id)]
    out.unfreeze_payload = service.unfreeze_payload(case)
    return out


@router.post("/reports", response_model=ReportOut, status_code=201)
def report(
    request: Request,
    body: ReportIn,
    db: DbSession,
    principal: CurrentPrincipal,
    exchange: ExchangeDep,
) -> JSONResponse:
    """Report a compromised account: frozen at once, a case and an urgent risk ticket opened,
    the trace recorded. No second factor is needed (a protective action). 201 for a new
    case; 200 when the report joins the customer's open case."""
    customer: Customer
    channel: str
    if principal.customer is not None:
        if body.customer_id not in (None, principal.customer.id):
            raise PermissionDenied()
        customer = principal.customer
        channel = body.channel if body.channel in ("web", "api") else "api"
    else:
        if not principal.can(Permission.SECURITY_REPORT):
            raise PermissionDenied()
        if body.customer_id is None:
            raise NotYourAccount()
        customer = identity.get_customer(db, body.customer_id)
        channel = body.channel
    outcome = service.report_compromise(
        db,
        exchange,
        customer=customer,
        actor=principal.actor,
        channel=channel,
        description=body.description,
        suspected_since=body.suspected_since,
        include_trading=body.include_trading,
        settings=_settings(request),
    )
    case = outcome.case
    out = ReportOut(
        case_id=case.id,
        joined=outcome.joined,
        ticket_id=case.ticket_id,
        freeze_state=case.freeze_state,
        frozen_scopes=list(case.frozen_scopes),
        created_at=case.created_at,
    )
    return JSONResponse(out.model_dump(mode="json"), status_code=200 if outcome.joined else 201)


@router.get("/cases/mine", response_model=list[CustomerCaseOut])
def my_cases(db: DbSession, principal: CurrentPrincipal) -> list[CustomerCaseOut]:
    if principal.customer is None:
        raise PermissionDenied()
    return [
        CustomerCaseOut.model_validate(c)
        for c in service.list_cases(db, customer_id=principal.customer.id, limit=50)
    ]


@router.get("/cases", response_model=list[CaseSummaryOut])
def list_cases(
    db: DbSession,
    principal: RiskOfficer,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
) -> list[CaseSummaryOut]:
    cases = service.list_cases(db, status=status, customer_id=customer_id)
    record(
        db,
        principal.actor,
        "security.cases_listed",
        subject_type="security_case",
        data={"status": status, "customer_id": customer_id, "count": len(cases)},
    )
    return [CaseSummaryOut.model_validate(c) for c in cases]


@router.get("/cases/{case_id}", response_model=CaseOut)
def get_case(case_id: str, db: DbSession, principal: RiskOfficer) -> CaseOut:
    return case_out(db, service.read_case(db, case_id, principal.actor))


@router.post("/cases/{case_id}/freeze", response_model=CaseOut)
def freeze(
    case_id: str, body: FreezeIn, db: DbSession, principal: RiskOfficer, exchange: ExchangeDep
) -> CaseOut:
    """Freeze again (after a failure or an unfreeze) or add scopes; protective, no step-up."""
    case = service.freeze_case(
        db,
        exchange,
        case_id,
        actor=principal.actor,
        scopes=[s.value for s in body.scopes],
        reason=body.reason,
    )
    return case_out(db, case)


@router.post("/cases/{case_id}/trace", response_model=CaseOut)
def refresh_trace(
    request: Request, case_id: str, db: DbSession, principal: RiskOfficer, exchange: ExchangeDep
) -> CaseOut:
    case = service.refresh_trace(
        db, exchange, case_id, actor=principal.actor, settings=_settings(request)
    )
    return case_out(db, case)


@router.post("/cases/{case_id}/unfreeze", response_model=CaseOut)
def unfreeze(
    case_id: str, body: UnfreezeIn, db: DbSession, principal: RiskOfficer, exchange: ExchangeDep
) -> CaseOut:
    """Needs a satisfied `account.unfreeze` challenge bound to the case's `unfreeze_payload`."""
    assert principal.agent is not None
    case = service.unfreeze(
        db,
        exchange,
        case_id,
        agent=principal.agent,
        challenge_id=body.challenge_id,
        reason=body.reason,
    )
    return case_out(db, case)


@router.post("/cases/{case_id}/assessments", response_model=AssessmentOut, status_code=201)
def assess(
    case_id: str, body: AssessmentIn, db: DbSession, principal: RiskOfficer
) -> AssessmentOut:
    assert principal.agent is not None
    assessment = service.record_assessment(
        db,
        case_id,
        assessor=principal.agent,
        platform_fault=body.platform_fault,
        amounts=body.amounts,
        reasoning=body.reasoning,
    )
    return assessment_out(db, assessment)


@router.post("/assessments/{assessment_id}/decision", response_model=AssessmentOut)
def decide(
    request: Request,
    assessment_id: str,
    body: DecisionIn,
    db: DbSession,
    principal: RiskOfficer,
) -> AssessmentOut:
    assert principal.agent is not None
    assessment = service.decide_assessment(
        db,
        assessment_id,
        approver=principal.agent,
        approve=body.decision == "approve",
        code=body.code,
        reason=body.reason,
        settings=_settings(request),
    )
    return assessment_out(db, assessment)


@router.post("/assessments/{assessment_id}/payout", response_model=AssessmentOut)
def payout(
    assessment_id: str,
    body: PayoutIn,
    db: DbSession,
    principal: RiskOfficer,
    exchange: ExchangeDep,
) -> AssessmentOut:
    """Pays once: retries answer the paid assessment (same payouts, same keys)."""
    assert principal.agent is not None
    assessment = service.pay_compensation(
        db, exchange, assessment_id, agent=principal.agent, challenge_id=body.challenge_id
    )
    return assessment_out(db, assessment)


@router.post("/cases/{case_id}/close", response_model=CaseOut)
def close(case_id: str, body: CloseIn, db: DbSession, principal: RiskOfficer) -> CaseOut:
    assert principal.agent is not None
    case = service.close_case(db, case_id, agent=principal.agent, resolution=body.resolution)
    return case_out(db, case)
