"""The security protocol (seed FAQ 1, invariant 1): a reported compromise freezes the account
at once through the exchange port, opens a case with an urgent ticket in the risk queue and
records a trace; undoing the freeze, and paying compensation, go through step-up.

Why commits before the exchange: on SQLite the demo exchange lives in kefu's own database
file, and an open write transaction of the caller would block it. So every function here
reads what it needs, commits, calls the port, then writes its outcome. Controls are
idempotent by keys derived from the case or the assessment, so a retry after a failure acts
once. Step-up is consumed (`consume_step_up`) before anything of the operation is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.chain import service as chain
from kefu.core.clock import utcnow
from kefu.core.errors import NotFound
from kefu.core.i18n import N_, translate
from kefu.core.ids import new_id
from kefu.core.settings import Settings, get_settings
from kefu.exchange.errors import ExchangeError
from kefu.exchange.port import ApiKey, Exchange, FreezeScope, LoginEvent, Transfer
from kefu.exchange.service import run_port
from kefu.identity.mfa import totp
from kefu.identity.mfa.errors import StepUpError
from kefu.identity.mfa.models import ApprovalRequest, ApprovalStatus, OwnerType
from kefu.identity.mfa.stepup import consume_step_up, policy_for
from kefu.identity.models import Agent, Customer
from kefu.security.errors import (
    AlreadyApproved,
    AmountsInvalid,
    ApprovalsMissing,
    ApproverRoleRequired,
    AssessmentDecided,
    AssessmentExists,
    CaseClosed,
    NoPayout,
    NotFrozen,
    OwnAssessment,
    PayoutInFlight,
)
from kefu.security.models import (
    Assessment,
    AssessmentApproval,
    AssessmentStatus,
    CaseEvent,
    CaseStatus,
    FreezeState,
    SecurityCase,
)
from kefu.tickets import service as tickets
from kefu.tickets.models import Category, Channel, Priority

T = TypeVar("T")

UNFREEZE = "account.unfreeze"
PAYOUT = "compensation.payout"
CHANNELS = ("api", "console", "bot", "email", "web")


# --- reading ----------------------------------------------------------------------------------


def get_case(session: Session, case_id: str, *, for_update: bool = False) -> SecurityCase:
    stmt = select(SecurityCase).where(SecurityCase.id == case_id)
    if for_update:
        stmt = stmt.with_for_update()
    case = session.scalar(stmt)
    if case is None:
        raise NotFound(kind=N_("Security case"), id=case_id)
    return case


def open_case_for(session: Session, customer_id: str) -> SecurityCase | None:
    return session.scalar(select(SecurityCase).where(SecurityCase.open_key == customer_id))


def list_cases(
    session: Session, *, status: str | None = None, customer_id: str | None = None, limit: int = 200
) -> list[SecurityCase]:
    stmt = select(SecurityCase)
    if status:
        stmt = stmt.where(SecurityCase.status == status)
    if customer_id:
        stmt = stmt.where(SecurityCase.customer_id == customer_id)
    return list(
        session.scalars(
            stmt.order_by(SecurityCase.created_at.desc(), SecurityCase.id.desc()).limit(limit)
        )
    )


def timeline(session: Session, case_id: str) -> list[CaseEvent]:
    return list(
        session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id)
            .order_by(CaseEvent.at, CaseEvent.id)
        )
    )


def assessments(session: Session, case_id: str) -> list[Assessment]:
    return list(
        session.scalars(
            select(Assessment)
            .where(Assessment.case_id == case_id)
            .order_by(Assessment.created_at, Assessment.id)
        )
    )


def approvals_of(session: Session, assessment_id: str) -> list[AssessmentApproval]:
    return list(
        session.scalars(
            select(AssessmentApproval)
            .where(AssessmentApproval.assessment_id == assessment_id)
            .order_by(AssessmentApproval.decided_at)
        )
    )


def read_case(session: Session, case_id: str, actor: Actor) -> SecurityCase:
    """A risk officer opens a case: an audited read of the customer's security data."""
    case = get_case(session, case_id)
    record(
        session,
        actor,
        "security.case_read",
        subject_type="security_case",
        subject_id=case.id,
        data={"customer_id": case.customer_id},
    )
    return case


def _event(
    session: Session,
    case: SecurityCase,
    actor: Actor,
    kind: str,
    *,
    note: str = "",
    **data: Any,
) -> None:
    """One step of the protocol: on the case's timeline and in the audit log (who, when, why)."""
    now = utcnow()
    clean = {k: v for k, v in data.items() if v is not None}
    session.add(
        CaseEvent(
            case_id=case.id,
            at=now,
            kind=kind,
            actor_type=actor.type,
            actor_id=actor.id,
            note=note,
            data=clean,
        )
    )
    case.updated_at = now
    record(
        session,
        actor,
        f"security.{kind}",
        subject_type="security_case",
        subject_id=case.id,
        data={"customer_id": case.customer_id, "why": note or None, **clean},
    )


# --- report, freeze and trace -----------------------------------------------------------------


def freeze_scopes(settings: Settings, *, include_trading: bool = False) -> list[str]:
    """The policy's scopes (`KEFU_SECURITY_FREEZE_SCOPES`), plus trading when asked."""
    scopes = {FreezeScope(s).value for s in settings.security_freeze_scopes}
    if include_trading:
        scopes.add(FreezeScope.TRADING.value)
    return sorted(scopes)


@dataclass
class ReportOutcome:
    case: SecurityCase
    joined: bool  # True when the report joined a case already open


def _freeze(
    exchange: Exchange, external_id: str, scopes: list[str], reason: str, key: str
) -> tuple[str, str | None]:
    try:
        run_port(
            exchange.freeze,
            external_id,
            frozenset(FreezeScope(s) for s in scopes),
            reason,
            key,
        )
    except ExchangeError as error:
        return FreezeState.FAILED, error.code
    return FreezeState.FROZEN, None


def report_compromise(
    session: Session,
    exchange: Exchange,
    *,
    customer: Customer,
    actor: Actor,
    channel: str,
    description: str = "",
    suspected_since: datetime | None = None,
    include_trading: bool = False,
    settings: Settings | None = None,
) -> ReportOutcome:
    """The customer's account is reported compromised (by them, an agent or the bot).

    Freezes at once through the port, before any human looks and without step-up (a
    protective action, invariant 1); opens a security case with an urgent ticket in the risk
    queue and records the trace. A second report while a case is open joins it and does not
    freeze again (unless the first freeze failed or was lifted)."""
    settings = settings or get_settings()
    now = utcnow()
    since = suspected_since or now - timedelta(hours=settings.security_trace_hours)
    # Not in the future, and not further back than 90 days (a bounded trace).
    since = max(min(since, now), now - timedelta(days=90))
    scopes = freeze_scopes(settings, include_trading=include_trading)
    external_id = customer.external_id
    customer_id = customer.id
    language = customer.language
    existing = open_case_for(session, customer_id)
    if existing is not None:
        return ReportOutcome(
            _join(session, exchange, existing, actor, channel, description, scopes, external_id),
            True,
        )
    report_id = new_id()
    reason = f"kefu security report {report_id}: account reported compromised"
    session.commit()  # release the database before the exchange acts (module docstring)
    state, error = _freeze(exchange, external_id, scopes, reason, f"kefu-freeze-{report_id}")
    trace = collect_trace(session, exchange, settings, external_id, since)
    customer = session.get(Customer, customer_id) or customer
    try:
        with session.begin_nested():
            subject = translate(N_("Account reported compromised"), language)
            ticket = tickets.create_ticket(
                session,
                customer=customer,
                subject=subject,
                body=description or subject,
                category=Category.SECURITY,
                actor=actor,
                priority=Priority.URGENT,
                channel=Channel(channel) if channel in Channel._value2member_map_ else Channel.API,
                asset_related=True,
                language=language,
                tags=["security", "compromised"],
            )
            case = SecurityCase(
                id=report_id,
                customer_id=customer_id,
                ticket_id=ticket.id,
                open_key=customer_id,
                status=CaseStatus.OPEN,
                channel=channel,
                reported_by_type=actor.type,
                reported_by_id=actor.id,
                description=description,
                suspected_since=since,
                reports=1,
                freeze_state=state,
                frozen_scopes=scopes if state == FreezeState.FROZEN else [],
                freeze_error=error,
                frozen_at=utcnow() if state == FreezeState.FROZEN else None,
                trace=trace,
                created_at=now,
                updated_at=now,
            )
            session.add(case)
            session.flush()
    except IntegrityError:
        # A concurrent report opened the case first (one open case per customer): join it.
        other = open_case_for(session, customer_id)
        if other is None:
            raise
        return ReportOutcome(
            _join(session, exchange, other, actor, channel, description, [], external_id), True
        )
    _event(session, case, actor, "reported", note=description, channel=channel)
    _event(session, case, actor, "case_opened", ticket_id=ticket.id, reference=ticket.reference)
    if state == FreezeState.FROZEN:
        _event(
            session, case, Actor.system(), "frozen", scopes=scopes, key=f"kefu-freeze-{report_id}"
        )
    else:
        _event(session, case, Actor.system(), "freeze_failed", error=error, scopes=scopes)
    _trace_event(session, case)
    return ReportOutcome(case, False)


def _join(
    session: Session,
    exchange: Exchange,
    case: SecurityCase,
    actor: Actor,
    channel: str,
    description: str,
    scopes: list[str],
    external_id: str,
) -> SecurityCase:
    case.reports += 1
    _event(session, case, actor, "report_joined", note=description, channel=channel)
    if case.freeze_state in (FreezeState.FAILED, FreezeState.UNFROZEN) and scopes:
        return freeze_case(
            session, exchange, case.id, actor=actor, scopes=scopes, reason=description
        )
    return case


def freeze_case(
    session: Session,
    exchange: Exchange,
    case_id: str,
    *,
    actor: Actor,
    scopes: list[str],
    reason: str = "",
) -> SecurityCase:
    """Freeze (again) under an open case: after a failed attempt, a lifted freeze, or to add
    scopes. Protective, so no step-up."""
    case = get_case(session, case_id)
    if case.status != CaseStatus.OPEN:
        raise CaseClosed()
    customer = session.get(Customer, case.customer_id)
    assert customer is not None
    external_id = customer.external_id
    wanted = sorted(set(scopes) | set(case.frozen_scopes))
    key = f"kefu-freeze-{case.id}-{new_id()}"
    session.commit()
    state, error = _freeze(exchange, external_id, wanted, f"kefu security case {case_id}", key)
    case = get_case(session, case_id)
    if state == FreezeState.FROZEN:
        case.freeze_state = FreezeState.FROZEN
        case.frozen_scopes = wanted
        case.freeze_error = None
        case.frozen_at = utcnow()
        case.unfrozen_at = None
        _event(session, case, actor, "frozen", note=reason, scopes=wanted, key=key)
    else:
        if case.freeze_state != FreezeState.FROZEN:
            case.freeze_state = FreezeState.FAILED
        case.freeze_error = error
        _event(session, case, actor, "freeze_failed", note=reason, error=error, scopes=wanted)
    return case


def _chain_name(settings: Settings, exchange_chain: str) -> str | None:
    """kefu's chain name for the exchange's chain code (for explorer links and labels)."""
    if exchange_chain in settings.chains:
        return exchange_chain
    mapped = settings.security_chain_names.get(exchange_chain.upper())
    if mapped in settings.chains:
        return mapped
    for name in settings.chains:
        if name.lower() == exchange_chain.lower():
            return name
    return None


def _withdrawal_row(session: Session, settings: Settings, w: Transfer) -> dict[str, Any]:
    name = _chain_name(settings, w.chain)
    links: list[str] = []
    label = None
    if name is not None:
        if w.tx_hash:
            links = chain.explorer_links(settings.chains[name], txid=w.tx_hash)
        found = chain.labels_for(session, name, {w.address}).get(chain._fold(name, w.address))
        if found is not None:
            label = {"kind": found.kind, "label": found.label, "source": found.source}
    return {
        "id": w.id,
        "asset": w.asset,
        "chain": w.chain,
        "chain_name": name,
        "amount": format(w.amount, "f"),
        "fee": format(w.fee, "f"),
        "address": w.address,
        "tx_hash": w.tx_hash,
        "status": str(w.status),
        "created_at": w.created_at.isoformat(),
        "explorer_links": links,
        "label": label,
    }


def _login_row(login: LoginEvent) -> dict[str, Any]:
    return {
        "at": login.at.isoformat(),
        "ip": login.ip,
        "device": login.device,
        "country": login.country,
        "result": str(login.result),
    }


def _api_key_rows(keys: list[ApiKey], since: datetime) -> list[dict[str, Any]]:
    rows = []
    for key in keys:
        for change, at in (("created", key.created_at), ("revoked", key.revoked_at)):
            if at is not None and at >= since:
                rows.append(
                    {
                        "at": at.isoformat(),
                        "change": change,
                        "key_id": key.id,
                        "label": key.label,
                        "permissions": list(key.permissions),
                    }
                )
    return sorted(rows, key=lambda r: r["at"])


def collect_trace(
    session: Session, exchange: Exchange, settings: Settings, external_id: str, since: datetime
) -> dict[str, Any]:
    """Withdrawals (chain, tx hash, explorer links, address labels), logins and API-key
    changes since `since`, as the exchange reports them now. Call with the session committed."""

    async def fetch() -> tuple[list[Transfer], list[LoginEvent], list[ApiKey]]:
        withdrawals = await exchange.list_withdrawals(external_id, since=since)
        logins = await exchange.list_logins(external_id, since=since)
        keys = await exchange.list_api_keys(external_id)
        return withdrawals, logins, keys

    trace: dict[str, Any] = {
        "since": since.isoformat(),
        "recorded_at": utcnow().isoformat(),
        "withdrawals": [],
        "logins": [],
        "api_keys": [],
        "error": None,
    }
    try:
        withdrawals, logins, keys = run_port(fetch)
    except ExchangeError as error:
        trace["error"] = error.code
        return trace
    trace["withdrawals"] = [
        _withdrawal_row(session, settings, w)
        for w in sorted(withdrawals, key=lambda w: w.created_at)
        if w.created_at >= since
    ]
    trace["logins"] = [_login_row(x) for x in sorted(logins, key=lambda x: x.at) if x.at >= since]
    trace["api_keys"] = _api_key_rows(keys, since)
    return trace


def _trace_event(session: Session, case: SecurityCase) -> None:
    trace = case.trace
    _event(
        session,
        case,
        Actor.system(),
        "trace_recorded",
        since=trace.get("since"),
        withdrawals=len(trace.get("withdrawals", [])),
        logins=len(trace.get("logins", [])),
        api_key_changes=len(trace.get("api_keys", [])),
        error=trace.get("error"),
    )


def refresh_trace(
    session: Session, exchange: Exchange, case_id: str, *, actor: Actor, settings: Settings
) -> SecurityCase:
    case = get_case(session, case_id)
    customer = session.get(Customer, case.customer_id)
    assert customer is not None
    external_id, since = customer.external_id, case.suspected_since
    session.commit()
    trace = collect_trace(session, exchange, settings, external_id, since)
    case = get_case(session, case_id)
    case.trace = trace
    _trace_event(session, case)
    return case


# --- unfreeze -----------------------------------------------------------------------------------


def unfreeze_payload(case: SecurityCase) -> dict[str, Any]:
    """What an `account.unfreeze` challenge for this case is bound to."""
    return {
        "case_id": case.id,
        "customer_id": case.customer_id,
        "scopes": sorted(case.frozen_scopes),
    }


def unfreeze(
    session: Session,
    exchange: Exchange,
    case_id: str,
    *,
    agent: Agent,
    challenge_id: str | None,
    reason: str,
) -> SecurityCase:
    """Lift the case's freeze: only through a consumed `account.unfreeze` step-up (customer
    factor, ID review, cooling-off, four-eyes). Once consumed, a retry after an exchange
    failure unfreezes with the same key and needs no new challenge."""
    actor = Actor.agent(agent.id)
    case = get_case(session, case_id, for_update=True)
    if case.status != CaseStatus.OPEN:
        raise CaseClosed()
    if case.freeze_state not in (FreezeState.FROZEN, FreezeState.UNFREEZE_AUTHORIZED):
        raise NotFrozen()
    if case.freeze_state == FreezeState.FROZEN:
        try:
            consume_step_up(
                session,
                challenge_id,
                operation=UNFREEZE,
                customer_id=case.customer_id,
                payload=unfreeze_payload(case),
                acting_agent=agent,
            )
        except StepUpError as error:
            _event(session, case, actor, "unfreeze_refused", note=reason, refusal=error.code)
            raise
        case.freeze_state = FreezeState.UNFREEZE_AUTHORIZED
        case.unfreeze_challenge_id = challenge_id
        _event(session, case, actor, "unfreeze_authorized", note=reason, challenge_id=challenge_id)
    customer = session.get(Customer, case.customer_id)
    assert customer is not None
    external_id, scopes = customer.external_id, list(case.frozen_scopes)
    session.commit()
    key = f"kefu-unfreeze-{case_id}"
    run_port(
        exchange.unfreeze,
        external_id,
        frozenset(FreezeScope(s) for s in scopes),
        f"kefu security case {case_id}: {reason}",
        key,
    )
    case = get_case(session, case_id)
    case.freeze_state = FreezeState.UNFROZEN
    case.unfrozen_at = utcnow()
    _event(session, case, actor, "unfrozen", note=reason, scopes=scopes, key=key)
    return case


# --- compensation -------------------------------------------------------------------------------


def parse_amounts(amounts: dict[str, str]) -> dict[str, str]:
    """{asset: decimal string} → normalised, positive, at most 18 decimal places."""
    clean: dict[str, str] = {}
    for asset, raw in amounts.items():
        code = asset.strip().upper()
        if not code.isalnum() or not 2 <= len(code) <= 12:
            raise AmountsInvalid(reason=f"unknown asset {asset[:16]!r}")
        if not isinstance(raw, str):
            raise AmountsInvalid(reason=f"{code}: write the amount as a decimal string")
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            raise AmountsInvalid(reason=f"{code}: {raw[:40]!r} is not a number") from None
        if not value.is_finite() or value <= 0:
            raise AmountsInvalid(reason=f"{code}: the amount must be above zero")
        exponent = value.as_tuple().exponent
        if (isinstance(exponent, int) and exponent < -18) or value >= Decimal(10) ** 20:
            raise AmountsInvalid(reason=f"{code}: too many digits")
        if code in clean:
            raise AmountsInvalid(reason=f"{code} is listed twice")
        clean[code] = format(value.normalize(), "f")
    return clean


def record_assessment(
    session: Session,
    case_id: str,
    *,
    assessor: Agent,
    platform_fault: bool,
    amounts: dict[str, str],
    reasoning: str,
) -> Assessment:
    """A risk officer's finding. Not a fault: it closes at once, without payout. A fault: it
    waits for approvers, then a payout."""
    case = get_case(session, case_id, for_update=True)
    if case.status != CaseStatus.OPEN:
        raise CaseClosed()
    clean = parse_amounts(amounts)
    if platform_fault and not clean:
        raise AmountsInvalid(reason="a platform fault needs at least one amount")
    if not platform_fault and clean:
        raise AmountsInvalid(reason="no amounts when the platform is not at fault")
    active = [a for a in assessments(session, case_id) if a.status != AssessmentStatus.REJECTED]
    if active:
        raise AssessmentExists()
    now = utcnow()
    assessment = Assessment(
        case_id=case.id,
        assessor_id=assessor.id,
        platform_fault=platform_fault,
        amounts=clean,
        reasoning=reasoning,
        status=AssessmentStatus.PENDING if platform_fault else AssessmentStatus.NO_FAULT,
        created_at=now,
        decided_at=None if platform_fault else now,
        payouts=[],
    )
    session.add(assessment)
    session.flush()
    _event(
        session,
        case,
        Actor.agent(assessor.id),
        "assessment_recorded",
        note=reasoning,
        assessment_id=assessment.id,
        platform_fault=platform_fault,
        amounts=clean,
    )
    if not platform_fault:
        _event(
            session,
            case,
            Actor.agent(assessor.id),
            "assessment_closed_without_payout",
            assessment_id=assessment.id,
        )
    return assessment


def get_assessment(session: Session, assessment_id: str, *, for_update: bool = False) -> Assessment:
    stmt = select(Assessment).where(Assessment.id == assessment_id)
    if for_update:
        stmt = stmt.with_for_update()
    assessment = session.scalar(stmt)
    if assessment is None:
        raise NotFound(kind=N_("Assessment"), id=assessment_id)
    return assessment


def decide_assessment(
    session: Session,
    assessment_id: str,
    *,
    approver: Agent,
    approve: bool,
    code: str,
    reason: str = "",
    settings: Settings | None = None,
) -> Assessment:
    """An approver other than the assessor co-signs (or rejects) with their own fresh TOTP."""
    assessment = get_assessment(session, assessment_id, for_update=True)
    case = get_case(session, assessment.case_id)
    actor = Actor.agent(approver.id)
    if assessment.status != AssessmentStatus.PENDING:
        raise AssessmentDecided()
    refusal: OwnAssessment | ApproverRoleRequired | None = None
    if approver.id == assessment.assessor_id:
        refusal = OwnAssessment()
    elif approver.role not in {str(r) for r in policy_for(session, PAYOUT).approver_roles}:
        refusal = ApproverRoleRequired()
    if refusal is not None:
        _event(
            session,
            case,
            actor,
            "assessment_approval_refused",
            assessment_id=assessment.id,
            refusal=refusal.code,
        )
        raise refusal
    if any(a.approver_id == approver.id for a in approvals_of(session, assessment.id)):
        raise AlreadyApproved()
    totp.verify_totp(
        session,
        totp.Owner(OwnerType.AGENT, approver.id),
        code,
        purpose=f"assessment:{assessment.id}",
        settings=settings,
    )
    session.add(
        AssessmentApproval(
            assessment_id=assessment.id,
            approver_id=approver.id,
            approve=approve,
            reason=reason,
            decided_at=utcnow(),
        )
    )
    if not approve:
        assessment.status = AssessmentStatus.REJECTED
        assessment.decided_at = utcnow()
    _event(
        session,
        case,
        actor,
        "assessment_approved" if approve else "assessment_rejected",
        note=reason,
        assessment_id=assessment.id,
    )
    return assessment


def payout_payload(assessment: Assessment) -> dict[str, Any]:
    """What a `compensation.payout` challenge for this assessment is bound to."""
    return {
        "case_id": assessment.case_id,
        "assessment_id": assessment.id,
        "amounts": dict(sorted(assessment.amounts.items())),
    }


def approvers(session: Session, assessment: Assessment, challenge_id: str | None) -> set[str]:
    """Distinct approvers other than the assessor: the co-signers of the assessment and the
    second person who approved the payout challenge (four-eyes in `kefu.identity.mfa`)."""
    people = {a.approver_id for a in approvals_of(session, assessment.id) if a.approve}
    if challenge_id:
        approval = session.scalar(
            select(ApprovalRequest).where(ApprovalRequest.challenge_id == challenge_id)
        )
        if (
            approval is not None
            and approval.status == ApprovalStatus.APPROVED
            and approval.decided_by_id
        ):
            people.add(approval.decided_by_id)
    people.discard(assessment.assessor_id)
    return people


def payout_key(assessment: Assessment, asset: str) -> str:
    """The idempotency key of one asset's payout: derived, so every retry pays once."""
    return f"kefu-compensation-{assessment.id}-{asset}"


def pay_compensation(
    session: Session,
    exchange: Exchange,
    assessment_id: str,
    *,
    agent: Agent,
    challenge_id: str | None,
) -> Assessment:
    """Two approvers other than the assessor, then the `compensation.payout` step-up (the
    acting agent's TOTP and four-eyes), then one payout request per asset with a derived
    idempotency key. Paid assessments answer as they are; an authorized but unconfirmed
    payout is retried with the same keys and needs no new challenge."""
    actor = Actor.agent(agent.id)
    assessment = get_assessment(session, assessment_id, for_update=True)
    case = get_case(session, assessment.case_id)
    if assessment.status == AssessmentStatus.PAID:
        return assessment
    if assessment.status not in (AssessmentStatus.PENDING, AssessmentStatus.PAYOUT_AUTHORIZED):
        raise NoPayout(status=assessment.status)
    if assessment.status == AssessmentStatus.PENDING:
        people = approvers(session, assessment, challenge_id)
        if len(people) < 2:
            _event(
                session,
                case,
                actor,
                "payout_refused",
                assessment_id=assessment.id,
                refusal=ApprovalsMissing.code,
                approvers=len(people),
            )
            raise ApprovalsMissing(count=len(people))
        try:
            consume_step_up(
                session,
                challenge_id,
                operation=PAYOUT,
                customer_id=case.customer_id,
                payload=payout_payload(assessment),
                acting_agent=agent,
            )
        except StepUpError as error:
            _event(
                session,
                case,
                actor,
                "payout_refused",
                assessment_id=assessment.id,
                refusal=error.code,
            )
            raise
        assessment.status = AssessmentStatus.PAYOUT_AUTHORIZED
        assessment.payout_challenge_id = challenge_id
        _event(
            session,
            case,
            actor,
            "payout_authorized",
            assessment_id=assessment.id,
            challenge_id=challenge_id,
            approvers=sorted(people),
        )
    customer = session.get(Customer, case.customer_id)
    assert customer is not None
    external_id = customer.external_id
    amounts = dict(assessment.amounts)
    reason = f"kefu compensation, security case {case.id}"
    keys = {asset: payout_key(assessment, asset) for asset in amounts}
    session.commit()
    paid = []
    for asset, amount in sorted(amounts.items()):
        payout = run_port(
            exchange.request_payout, external_id, asset, Decimal(amount), reason, keys[asset]
        )
        paid.append(
            {
                "asset": asset,
                "amount": format(payout.amount, "f"),
                "payout_id": payout.id,
                "status": payout.status,
                "idempotency_key": keys[asset],
            }
        )
    assessment = get_assessment(session, assessment_id, for_update=True)
    case = get_case(session, assessment.case_id)
    if assessment.status == AssessmentStatus.PAID:  # a concurrent retry finished first
        return assessment
    assessment.payouts = paid
    assessment.status = AssessmentStatus.PAID
    assessment.paid_at = utcnow()
    _event(session, case, actor, "compensation_paid", assessment_id=assessment.id, payouts=paid)
    return assessment


# --- closing ------------------------------------------------------------------------------------


def close_case(session: Session, case_id: str, *, agent: Agent, resolution: str) -> SecurityCase:
    case = get_case(session, case_id, for_update=True)
    if case.status != CaseStatus.OPEN:
        raise CaseClosed()
    if any(a.status == AssessmentStatus.PAYOUT_AUTHORIZED for a in assessments(session, case_id)):
        raise PayoutInFlight()
    case.status = CaseStatus.CLOSED
    case.open_key = None
    case.closed_at = utcnow()
    case.resolution = resolution
    _event(
        session,
        case,
        Actor.agent(agent.id),
        "case_closed",
        note=resolution,
        freeze_state=case.freeze_state,
    )
    return case
