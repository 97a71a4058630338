"""Console pages of the security protocol (risk officers): the list of security cases and a
case page — timeline, frozen scopes, trace, and the decisions (unfreeze, assessment,
approvals, payout) with a form for each step a risk officer can take."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from kefu.audit.service import record
from kefu.core.errors import KefuError
from kefu.core.settings import Settings
from kefu.core.web import DbSession
from kefu.exchange.port import Exchange, FreezeScope
from kefu.identity import service as identity
from kefu.identity.mfa import approvals, stepup
from kefu.identity.permissions import Permission
from kefu.security import labels, service
from kefu.security.errors import AmountsInvalid
from kefu.security.models import AssessmentStatus, CaseStatus, FreezeState, SecurityCase
from kefu.tickets.models import Ticket
from kefu.web.console.auth import ConsoleAgent, console_require
from kefu.web.rendering import render
from kefu.web.security import verify_csrf

router = APIRouter(prefix="/console/cases", include_in_schema=False)

Csrf = Depends(verify_csrf)
RiskOfficer = Annotated[ConsoleAgent, Depends(console_require(Permission.SECURITY_CASES))]
Reason = Annotated[str, Form(max_length=2000)]


def _exchange(request: Request) -> Exchange:
    exchange: Exchange = request.app.state.exchange
    return exchange


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


@router.get("")
def case_list(request: Request, db: DbSession, user: RiskOfficer) -> Response:
    open_cases = service.list_cases(db, status=CaseStatus.OPEN)
    closed = service.list_cases(db, status=CaseStatus.CLOSED, limit=20)
    customers = {
        c.customer_id: identity.get_customer(db, c.customer_id) for c in [*open_cases, *closed]
    }
    record(
        db,
        user.actor,
        "security.cases_listed",
        subject_type="security_case",
        data={"count": len(open_cases) + len(closed), "via": "console"},
    )
    return render(
        request,
        "console/security_cases.html",
        {"open_cases": open_cases, "closed": closed, "customers": customers, **labels.ALL},
    )


def _challenges(
    db: Session, case: SecurityCase, operation: str, match: dict[str, Any]
) -> list[stepup.ChallengeState]:
    found = []
    for challenge in stepup.list_challenges(db, customer_id=case.customer_id, status="open"):
        if challenge.operation != operation or not isinstance(challenge.payload, dict):
            continue
        if stepup.payload_hash(match) != challenge.payload_hash:
            continue
        found.append(stepup.challenge_state(db, challenge))
    return found


def _case_page(
    request: Request,
    db: Session,
    user: ConsoleAgent,
    case_id: str,
    *,
    error: KefuError | None = None,
) -> Response:
    case = service.read_case(db, case_id, user.actor)
    customer = identity.get_customer(db, case.customer_id)
    ticket = db.get(Ticket, case.ticket_id)
    events = service.timeline(db, case.id)
    found = service.assessments(db, case.id)
    approvals_by = {a.id: service.approvals_of(db, a.id) for a in found}
    payout_challenges = {
        a.id: _challenges(db, case, service.PAYOUT, service.payout_payload(a))
        for a in found
        if a.status == AssessmentStatus.PENDING
    }
    unfreeze_challenges = (
        _challenges(db, case, service.UNFREEZE, service.unfreeze_payload(case))
        if case.freeze_state == FreezeState.FROZEN
        else []
    )
    agent_ids = {a.assessor_id for a in found} | {
        x.approver_id for xs in approvals_by.values() for x in xs
    }
    agent_ids |= {e.actor_id for e in events if e.actor_type == "agent" and e.actor_id}
    agents = {i: identity.get_agent(db, i).display_name for i in agent_ids}
    return render(
        request,
        "console/security_case.html",
        {
            "case": case,
            "customer": customer,
            "ticket": ticket,
            "events": events,
            "trace": case.trace or {},
            "assessments": found,
            "approvals_by": approvals_by,
            "payout_challenges": payout_challenges,
            "unfreeze_challenges": unfreeze_challenges,
            "agents": agents,
            "scopes": [s.value for s in FreezeScope],
            "error": error,
            "me": user.agent.id,
            **labels.ALL,
        },
        status_code=error.status if error else 200,
    )


@router.get("/{case_id}")
def case_page(request: Request, case_id: str, db: DbSession, user: RiskOfficer) -> Response:
    return _case_page(request, db, user, case_id)


def _act(request: Request, db: Session, user: ConsoleAgent, case_id: str, action: Any) -> Response:
    """Run one step; on a refusal show the case page with the reason (a refusal that keeps its
    audit entry keeps it; anything else is rolled back first)."""
    try:
        action()
    except KefuError as error:
        if not error.keep_writes:
            db.rollback()
        else:
            db.commit()
        return _case_page(request, db, user, case_id, error=error)
    return _see_other(f"/console/cases/{case_id}")


@router.post("/{case_id}/freeze", dependencies=[Csrf])
def freeze(
    request: Request,
    case_id: str,
    db: DbSession,
    user: RiskOfficer,
    reason: Reason,
    scopes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    def run() -> None:
        chosen = [
            FreezeScope(s).value for s in (scopes or []) if s in FreezeScope._value2member_map_
        ]
        service.freeze_case(
            db, _exchange(request), case_id, actor=user.actor, scopes=chosen, reason=reason
        )

    return _act(request, db, user, case_id, run)


@router.post("/{case_id}/trace", dependencies=[Csrf])
def trace(request: Request, case_id: str, db: DbSession, user: RiskOfficer) -> Response:
    return _act(
        request,
        db,
        user,
        case_id,
        lambda: service.refresh_trace(
            db, _exchange(request), case_id, actor=user.actor, settings=_settings(request)
        ),
    )


@router.post("/{case_id}/challenges", dependencies=[Csrf])
def start_challenge(
    request: Request,
    case_id: str,
    db: DbSession,
    user: RiskOfficer,
    operation: Annotated[str, Form(max_length=40)],
    assessment_id: Annotated[str, Form(max_length=36)] = "",
) -> Response:
    """Open the step-up challenge an unfreeze or a payout needs, bound to its payload."""

    def run() -> None:
        case = service.get_case(db, case_id)
        if operation == service.UNFREEZE:
            payload = service.unfreeze_payload(case)
        else:
            assessment = service.get_assessment(db, assessment_id)
            if assessment.case_id != case.id:
                raise AmountsInvalid(reason="the assessment belongs to another case")
            payload = service.payout_payload(assessment)
        stepup.create_challenge(
            db,
            operation=service.UNFREEZE if operation == service.UNFREEZE else service.PAYOUT,
            customer_id=case.customer_id,
            payload=payload,
            actor=user.actor,
            acting_agent=user.agent,
            settings=_settings(request),
        )

    return _act(request, db, user, case_id, run)


@router.post("/{case_id}/challenges/{challenge_id}/confirm", dependencies=[Csrf])
def confirm_challenge(
    request: Request,
    case_id: str,
    challenge_id: str,
    db: DbSession,
    user: RiskOfficer,
    code: Annotated[str, Form(max_length=10)],
) -> Response:
    return _act(
        request,
        db,
        user,
        case_id,
        lambda: stepup.verify_challenge_factor(
            db,
            challenge_id,
            actor=user.actor,
            factor="totp",
            code=code,
            settings=_settings(request),
        ),
    )


@router.post("/{case_id}/challenges/{challenge_id}/approval", dependencies=[Csrf])
def ask_approval(
    request: Request,
    case_id: str,
    challenge_id: str,
    db: DbSession,
    user: RiskOfficer,
    reason: Reason,
) -> Response:
    return _act(
        request,
        db,
        user,
        case_id,
        lambda: approvals.request_approval(db, challenge_id, requester=user.agent, reason=reason),
    )


@router.post("/{case_id}/unfreeze", dependencies=[Csrf])
def unfreeze(
    request: Request,
    case_id: str,
    db: DbSession,
    user: RiskOfficer,
    reason: Reason,
    challenge_id: Annotated[str, Form(max_length=36)] = "",
) -> Response:
    return _act(
        request,
        db,
        user,
        case_id,
        lambda: service.unfreeze(
            db,
            _exchange(request),
            case_id,
            agent=user.agent,
            challenge_id=challenge_id or None,
            reason=reason,
        ),
    )


def _amounts(text: str) -> dict[str, str]:
    """One `ASSET AMOUNT` per line, e.g. `BTC 0.015`."""
    amounts: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise AmountsInvalid(reason=f"write one 'ASSET AMOUNT' per line, not {line[:40]!r}")
        if parts[0].upper() in amounts:
            raise AmountsInvalid(reason=f"{parts[0].upper()} is listed twice")
        amounts[parts[0].upper()] = parts[1]
    return amounts


@router.post("/{case_id}/assessments", dependencies=[Csrf])
def assess(
    request: Request,
    case_id: str,
    db: DbSession,
    user: RiskOfficer,
    reasoning: Annotated[str, Form(max_length=10_000)],
    fault: Annotated[str, Form(max_length=10)] = "no",
    amounts: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _act(
        request,
        db,
        user,
        case_id,
        lambda: service.record_assessment(
            db,
            case_id,
            assessor=user.agent,
            platform_fault=fault == "yes",
            amounts=_amounts(amounts),
            reasoning=reasoning,
        ),
    )


@router.post("/{case_id}/assessments/{assessment_id}/decision", dependencies=[Csrf])
def decide(
    request: Request,
    case_id: str,
    assessment_id: str,
    db: DbSession,
    user: RiskOfficer,
    decision: Annotated[str, Form(max_length=10)],
    code: Annotated[str, Form(max_length=10)],
    reason: Reason = "",
) -> Response:
    return _act(
        request,
        db,
        user,
        case_id,
        lambda: service.decide_assessment(
            db,
            assessment_id,
            approver=user.agent,
            approve=decision == "approve",
            code=code,
            reason=reason,
            settings=_settings(request),
        ),
    )


@router.post("/{case_id}/assessments/{assessment_id}/payout", dependencies=[Csrf])
def payout(
    request: Request,
    case_id: str,
    assessment_id: str,
    db: DbSession,
    user: RiskOfficer,
    challenge_id: Annotated[str, Form(max_length=36)] = "",
) -> Response:
    return _act(
        request,
        db,
        user,
        case_id,
        lambda: service.pay_compensation(
            db,
            _exchange(request),
            assessment_id,
            agent=user.agent,
            challenge_id=challenge_id or None,
        ),
    )


@router.post("/{case_id}/close", dependencies=[Csrf])
def close(
    request: Request,
    case_id: str,
    db: DbSession,
    user: RiskOfficer,
    resolution: Annotated[str, Form(min_length=3, max_length=5000)],
) -> Response:
    return _act(
        request,
        db,
        user,
        case_id,
        lambda: service.close_case(db, case_id, agent=user.agent, resolution=resolution),
    )
