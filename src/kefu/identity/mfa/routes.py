"""Second factors, step-up challenges, four-eyes approvals and the SMS outbox.

`/mfa/...` serves whoever calls — an agent (even one whose sign-in still owes its second
factor, for enrolling and proving it) or a customer. Enrolment answers are never stored for
Idempotency-Key replays: they carry the seed.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from kefu.audit.service import record
from kefu.core.errors import BadRequest, NotFound, PermissionDenied
from kefu.core.i18n import N_
from kefu.core.settings import Settings
from kefu.core.web import DbSession, IdempotencyKey, idempotent_create
from kefu.identity.adapters.outbox import list_outbox
from kefu.identity.deps import CurrentPrincipal, PendingPrincipal, Principal, require
from kefu.identity.mfa import agents as agent_mfa
from kefu.identity.mfa import approvals, reset, stepup, totp
from kefu.identity.mfa.models import ApprovalRequest, ApprovalStatus, ChallengeStatus, OwnerType
from kefu.identity.mfa.schemas import (
    ApprovalCreate,
    ApprovalDecision,
    ApprovalOut,
    ChallengeCreate,
    ChallengeOut,
    ChallengeVerify,
    CodeIn,
    EnrolmentOut,
    FactorCodeIn,
    MfaStatusOut,
    OutboxMessageOut,
    PolicyOut,
    RecoveryCodesOut,
    ResetIn,
    ResetOut,
    SmsSentOut,
)
from kefu.identity.mfa.stepup import StepUpPolicy
from kefu.identity.permissions import Permission

router = APIRouter(prefix="/api/v1", tags=["second factors and step-up"])

Starter = Annotated[Principal, Depends(require(Permission.STEP_UP_START))]
Approver = Annotated[Principal, Depends(require(Permission.APPROVALS_DECIDE))]
PolicyManager = Annotated[Principal, Depends(require(Permission.STEP_UP_POLICY_MANAGE))]
Resetter = Annotated[Principal, Depends(require(Permission.MFA_RESET))]
OutboxReader = Annotated[Principal, Depends(require(Permission.SMS_OUTBOX_READ))]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _owner(principal: Principal) -> totp.Owner:
    if principal.agent is not None:
        return totp.Owner(OwnerType.AGENT, principal.agent.id)
    assert principal.customer is not None
    return totp.Owner(OwnerType.CUSTOMER, principal.customer.id)


def _status(db: DbSession, principal: Principal, settings: Settings) -> MfaStatusOut:
    owner = _owner(principal)
    status = MfaStatusOut(
        enrolled=totp.active_credential(db, owner) is not None,
        recovery_codes_left=totp.recovery_codes_left(db, owner),
    )
    if principal.agent is not None and principal.agent_session is not None:
        status.required = agent_mfa.mfa_required_for(principal.agent, settings)
        status.verified = principal.agent_session.mfa_verified_at is not None
    return status


# --- one's own factors ---------------------------------------------------------------------


@router.get("/mfa", response_model=MfaStatusOut)
def mfa_status(request: Request, db: DbSession, principal: PendingPrincipal) -> MfaStatusOut:
    return _status(db, principal, _settings(request))


@router.post("/mfa/totp", response_model=EnrolmentOut, status_code=201)
def begin_enrolment(request: Request, db: DbSession, principal: PendingPrincipal) -> EnrolmentOut:
    """Start setting up an authenticator app: scan the QR code (or type the secret)."""
    settings = _settings(request)
    if principal.agent is not None:
        enrolment = agent_mfa.begin_totp_enrolment(db, principal.agent, settings)
    else:
        assert principal.customer is not None
        account = principal.customer.email or principal.customer.external_id
        enrolment = totp.begin_totp_enrolment(
            db, _owner(principal), account=account, settings=settings
        )
    return EnrolmentOut(
        credential_id=enrolment.credential_id,
        secret=enrolment.secret,
        otpauth_uri=enrolment.otpauth_uri,
        qr_svg=enrolment.qr_svg,
    )


@router.post("/mfa/totp/confirm", response_model=RecoveryCodesOut)
def confirm_enrolment(
    request: Request, body: CodeIn, db: DbSession, principal: PendingPrincipal
) -> RecoveryCodesOut:
    """Activate the app with its first code; an agent's sign-in is then complete too."""
    settings = _settings(request)
    if principal.agent is not None and principal.agent_session is not None:
        codes = agent_mfa.confirm_totp_enrolment(
            db, principal.agent, principal.agent_session, body.code, settings
        )
    else:
        codes = totp.confirm_totp_enrolment(db, _owner(principal), body.code, settings=settings)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/mfa/verify", response_model=MfaStatusOut)
def verify_sign_in(
    request: Request, body: FactorCodeIn, db: DbSession, principal: PendingPrincipal
) -> MfaStatusOut:
    """Agents: complete this sign-in with a TOTP code or a recovery code."""
    if principal.agent is None or principal.agent_session is None:
        raise PermissionDenied()
    settings = _settings(request)
    agent_mfa.verify_agent_second_factor(
        db, principal.agent_session, body.code, factor=body.factor, settings=settings
    )
    return _status(db, principal, settings)


@router.post("/mfa/recovery-codes", response_model=RecoveryCodesOut)
def regenerate_recovery_codes(
    request: Request, body: FactorCodeIn, db: DbSession, principal: CurrentPrincipal
) -> RecoveryCodesOut:
    codes = totp.regenerate_recovery_codes(
        db, _owner(principal), body.code, factor=body.factor, settings=_settings(request)
    )
    return RecoveryCodesOut(recovery_codes=codes)


@router.post("/mfa/totp/disable", status_code=204)
def disable(
    request: Request, body: FactorCodeIn, db: DbSession, principal: CurrentPrincipal
) -> Response:
    """Turn the authenticator off, with a fresh code (agents only where the role allows)."""
    settings = _settings(request)
    if principal.agent is not None:
        agent_mfa.disable_agent_totp(
            db, principal.agent, body.code, factor=body.factor, settings=settings
        )
    else:
        totp.disable_totp(db, _owner(principal), body.code, factor=body.factor, settings=settings)
    return Response(status_code=204)


# --- step-up policies ----------------------------------------------------------------------


@router.get("/step-up/policies", response_model=list[PolicyOut])
def list_policies(db: DbSession, _: Starter) -> list[PolicyOut]:
    return [
        PolicyOut(operation=op, policy=policy, overridden=overridden)
        for op, policy, overridden in stepup.list_policies(db)
    ]


@router.put("/step-up/policies/{operation}", response_model=PolicyOut)
def set_policy(
    operation: str, body: StepUpPolicy, db: DbSession, principal: PolicyManager
) -> PolicyOut:
    policy = stepup.set_policy(db, operation, body, principal.actor)
    return PolicyOut(operation=operation, policy=policy, overridden=True)


@router.delete("/step-up/policies/{operation}", response_model=PolicyOut)
def reset_policy(operation: str, db: DbSession, principal: PolicyManager) -> PolicyOut:
    """Back to the built-in default."""
    policy = stepup.reset_policy(db, operation, principal.actor)
    return PolicyOut(operation=operation, policy=policy, overridden=False)


# --- challenges ----------------------------------------------------------------------------


def _visible_challenge(db: DbSession, principal: Principal, challenge_id: str) -> ChallengeOut:
    challenge = stepup.get_challenge(db, challenge_id)
    if principal.customer is not None and principal.customer.id != challenge.customer_id:
        raise NotFound(kind=N_("Step-up challenge"), id=challenge_id)
    if principal.agent is not None and not principal.can(Permission.STEP_UP_START):
        raise PermissionDenied()
    return ChallengeOut.of(stepup.challenge_state(db, challenge))


@router.post("/step-up/challenges", response_model=ChallengeOut, status_code=201)
def create_challenge(
    request: Request,
    body: ChallengeCreate,
    db: DbSession,
    principal: CurrentPrincipal,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Open a challenge for one operation, one customer and one exact payload."""
    if principal.agent is not None:
        if not principal.can(Permission.STEP_UP_START):
            raise PermissionDenied()
        if body.customer_id is None:
            raise BadRequest(N_("Name the customer (customer_id)."))
        customer_id = body.customer_id
    else:
        assert principal.customer is not None
        if body.customer_id not in (None, principal.customer.id):
            raise PermissionDenied()
        customer_id = principal.customer.id

    def create() -> ChallengeOut:
        challenge = stepup.create_challenge(
            db,
            operation=body.operation,
            customer_id=customer_id,
            payload=body.payload,
            actor=principal.actor,
            acting_agent=principal.agent,
            settings=_settings(request),
        )
        return ChallengeOut.of(stepup.challenge_state(db, challenge))

    return idempotent_create(
        request, db, principal=principal.key, key=idempotency_key, body=body, create=create
    )


@router.get("/step-up/challenges", response_model=list[ChallengeOut])
def list_challenges(
    db: DbSession,
    principal: CurrentPrincipal,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
    status: Annotated[ChallengeStatus | None, Query()] = None,
) -> list[ChallengeOut]:
    """A customer's challenges (customers see only their own): what waits for confirmation."""
    if principal.customer is not None:
        customer_id = principal.customer.id
    elif not principal.can(Permission.STEP_UP_START):
        raise PermissionDenied()
    elif customer_id is None:
        raise BadRequest(N_("Name the customer (customer_id)."))
    challenges = stepup.list_challenges(db, customer_id=customer_id, status=status)
    return [ChallengeOut.of(stepup.challenge_state(db, c)) for c in challenges]


@router.get("/step-up/challenges/{challenge_id}", response_model=ChallengeOut)
def get_challenge(challenge_id: str, db: DbSession, principal: CurrentPrincipal) -> ChallengeOut:
    return _visible_challenge(db, principal, challenge_id)


@router.post("/step-up/challenges/{challenge_id}/sms", response_model=SmsSentOut, status_code=202)
def send_sms(
    request: Request, challenge_id: str, db: DbSession, principal: CurrentPrincipal
) -> SmsSentOut:
    """Text a code to the customer's phone on file (where the policy accepts SMS)."""
    _visible_challenge(db, principal, challenge_id)
    sms = stepup.send_challenge_sms(
        db, challenge_id, actor=principal.actor, settings=_settings(request)
    )
    return SmsSentOut(sent=True, expires_at=sms.expires_at)


@router.post("/step-up/challenges/{challenge_id}/verify", response_model=ChallengeOut)
def verify_factor(
    request: Request,
    challenge_id: str,
    body: ChallengeVerify,
    db: DbSession,
    principal: CurrentPrincipal,
) -> ChallengeOut:
    """The customer proves a factor of theirs; the acting agent proves their own TOTP."""
    _visible_challenge(db, principal, challenge_id)
    stepup.verify_challenge_factor(
        db,
        challenge_id,
        actor=principal.actor,
        factor=body.factor,
        code=body.code,
        settings=_settings(request),
    )
    return _visible_challenge(db, principal, challenge_id)


# --- four-eyes approvals -------------------------------------------------------------------


def _approval_out(db: DbSession, approval: ApprovalRequest) -> ApprovalOut:
    """With the payload the approver is asked to approve, not just its hash."""
    out = ApprovalOut.model_validate(approval)
    out.payload = stepup.get_challenge(db, approval.challenge_id).payload
    return out


@router.post("/approvals", response_model=ApprovalOut, status_code=201)
def request_approval(
    request: Request,
    body: ApprovalCreate,
    db: DbSession,
    principal: Starter,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    assert principal.agent is not None
    agent = principal.agent

    def create() -> ApprovalOut:
        approval = approvals.request_approval(
            db, body.challenge_id, requester=agent, reason=body.reason
        )
        return _approval_out(db, approval)

    return idempotent_create(
        request, db, principal=principal.key, key=idempotency_key, body=body, create=create
    )


@router.get("/approvals", response_model=list[ApprovalOut])
def list_approvals(
    db: DbSession,
    _: Approver,
    status: Annotated[ApprovalStatus | None, Query()] = None,
) -> list[ApprovalOut]:
    return [_approval_out(db, a) for a in approvals.list_approvals(db, status=status)]


@router.get("/approvals/{approval_id}", response_model=ApprovalOut)
def get_approval(approval_id: str, db: DbSession, principal: Starter) -> ApprovalOut:
    approval = approvals.get_approval(db, approval_id)
    assert principal.agent is not None
    if approval.requester_id != principal.agent.id and not principal.can(
        Permission.APPROVALS_DECIDE
    ):
        raise NotFound(kind=N_("Approval"), id=approval_id)
    return _approval_out(db, approval)


def _decide(
    request: Request,
    approval_id: str,
    body: ApprovalDecision,
    db: DbSession,
    principal: Principal,
    *,
    approve: bool,
) -> ApprovalOut:
    assert principal.agent is not None
    approval = approvals.decide_approval(
        db,
        approval_id,
        approver=principal.agent,
        approve=approve,
        code=body.code,
        reason=body.reason,
        settings=_settings(request),
    )
    return _approval_out(db, approval)


@router.post("/approvals/{approval_id}/approve", response_model=ApprovalOut)
def approve(
    request: Request, approval_id: str, body: ApprovalDecision, db: DbSession, principal: Approver
) -> ApprovalOut:
    """A second agent (not the requester, with an approver role) approves with their TOTP."""
    return _decide(request, approval_id, body, db, principal, approve=True)


@router.post("/approvals/{approval_id}/reject", response_model=ApprovalOut)
def reject(
    request: Request, approval_id: str, body: ApprovalDecision, db: DbSession, principal: Approver
) -> ApprovalOut:
    return _decide(request, approval_id, body, db, principal, approve=False)


# --- operations owned by identity ----------------------------------------------------------


@router.post("/customers/{customer_id}/mfa/reset", response_model=ResetOut)
def reset_customer_totp(
    request: Request,
    customer_id: str,
    body: ResetIn,
    db: DbSession,
    principal: Resetter,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """`2fa.reset`: clear a customer's authenticator, with a satisfied, approved challenge
    bound to the payload `{"customer_id": ..., "factor": "totp"}`."""
    assert principal.agent is not None
    agent = principal.agent

    def run() -> ResetOut:
        disabled = reset.reset_customer_totp(
            db, customer_id=customer_id, challenge_id=body.challenge_id, agent=agent
        )
        return ResetOut(customer_id=customer_id, disabled=disabled)

    return idempotent_create(
        request,
        db,
        principal=principal.key,
        key=idempotency_key,
        body=body,
        create=run,
        status_code=200,
    )


# --- the demo's phone ----------------------------------------------------------------------


@router.get("/sms/outbox", response_model=list[OutboxMessageOut])
def outbox(
    db: DbSession,
    principal: OutboxReader,
    to: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[OutboxMessageOut]:
    """Messages the `outbox` SMS adapter kept instead of sending (the embedded demo)."""
    messages = list_outbox(db, to=to, limit=limit)
    record(db, principal.actor, "sms.outbox_read", data={"count": len(messages)})
    return [OutboxMessageOut.model_validate(m) for m in messages]
