"""Console pages for second factors (`kefu.identity.mfa`): the sign-in's second step
(enrolment with a QR code, or a TOTP or recovery code), the agent's security page, four-eyes
approvals, step-up challenges and the demo's SMS outbox. They call the mfa services
directly; every form carries a CSRF token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup

from kefu.audit.service import record
from kefu.core.errors import KefuError, NotFound, PermissionDenied
from kefu.core.i18n import N_
from kefu.core.settings import Settings
from kefu.core.web import DbSession
from kefu.identity import service as identity
from kefu.identity.adapters.outbox import list_outbox
from kefu.identity.mfa import agents as agent_mfa
from kefu.identity.mfa import approvals, stepup, totp
from kefu.identity.mfa.errors import (
    AlreadyEnrolled,
    ApprovalDecided,
    ApprovalNotAllowed,
    FactorLocked,
    FactorNotAccepted,
    InvalidCode,
    NoPendingEnrolment,
    NotEnrolled,
    SmsDeliveryFailed,
    SmsSendLimited,
    SmsUnavailable,
    StepUpStale,
    StepUpUsed,
)
from kefu.identity.mfa.models import ApprovalStatus
from kefu.identity.permissions import Permission
from kefu.web.console.auth import (
    ENROL,
    HOME,
    VERIFY,
    ConsoleAgent,
    Redirect,
    SignedIn,
    console_require,
    optional_console_agent,
    pending_step,
    safe_next,
    sign_in_url,
)
from kefu.web.rendering import render
from kefu.web.security import verify_csrf

router = APIRouter(prefix="/console", include_in_schema=False)

Csrf = Depends(verify_csrf)
MaybeSignedIn = Annotated[ConsoleAgent | None, Depends(optional_console_agent)]
ApprovalDecider = Annotated[ConsoleAgent, Depends(console_require(Permission.APPROVALS_DECIDE))]
StepUpStarter = Annotated[ConsoleAgent, Depends(console_require(Permission.STEP_UP_START))]
OutboxReader = Annotated[ConsoleAgent, Depends(console_require(Permission.SMS_OUTBOX_READ))]
Code = Annotated[str, Form(max_length=64)]

# The refusals a code form shows on its own page, in the agent's language.
CODE_ERRORS = (InvalidCode, FactorLocked, NotEnrolled, NoPendingEnrolment, AlreadyEnrolled)

FACTOR_LABELS = {
    "totp": N_("authenticator app code"),
    "sms": N_("SMS code"),
    "recovery_code": N_("recovery code"),
    "id_review": N_("approved ID-document review"),
}
OPERATION_LABELS = {
    "withdrawal.unlock": N_("Unlock withdrawals"),
    "account.unfreeze": N_("Unfreeze the account"),
    "2fa.reset": N_("Reset the customer's authenticator"),
    "email.change": N_("Change the email address"),
    "withdrawal_address.add": N_("Add a withdrawal address"),
    "compensation.payout": N_("Pay compensation"),
}


class InvalidDecision(KefuError):
    status = 400
    code = "unknown_decision"
    message = N_("Choose approve or reject.")


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)


def _factor(value: str) -> str:
    return "recovery_code" if value == "recovery_code" else "totp"


def _labels() -> dict[str, Any]:
    return {"factor_labels": FACTOR_LABELS, "operation_labels": OPERATION_LABELS}


# --- the sign-in's second step -------------------------------------------------------------


def _half_signed_in(
    request: Request, db: DbSession, user: ConsoleAgent | None, page: str
) -> ConsoleAgent:
    """The session on the second step's pages: signed out → sign-in; nothing owed → onward;
    owing the other step → that one."""
    if user is None:
        raise Redirect(sign_in_url(HOME))
    step = pending_step(db, user.agent, user.session, _settings(request))
    if step is None:
        raise Redirect(HOME)
    if step != page:
        raise Redirect(step)
    return user


def _verify_page(
    request: Request, next_path: str, *, error: KefuError | None = None, factor: str = "totp"
) -> Response:
    return render(
        request,
        "console/sign_in_verify.html",
        {"next": next_path, "error": error, "factor": factor, "second_step": True},
        status_code=error.status if error else 200,
    )


@router.get("/sign-in/verify")
def verify_page(
    request: Request, db: DbSession, user: MaybeSignedIn, next: str | None = None
) -> Response:
    _half_signed_in(request, db, user, VERIFY)
    return _verify_page(request, safe_next(next))


@router.post("/sign-in/verify", dependencies=[Csrf])
def verify(
    request: Request,
    db: DbSession,
    user: MaybeSignedIn,
    code: Code = "",
    factor: Annotated[str, Form(max_length=20)] = "totp",
    next: Annotated[str, Form(max_length=500)] = HOME,
) -> Response:
    signed_in = _half_signed_in(request, db, user, VERIFY)
    try:
        agent_mfa.verify_agent_second_factor(
            db, signed_in.session, code, factor=_factor(factor), settings=_settings(request)
        )
    except CODE_ERRORS as error:
        return _verify_page(request, safe_next(next), error=error, factor=_factor(factor))
    return _see_other(safe_next(next))


def _enrol_page(
    request: Request,
    db: DbSession,
    user: ConsoleAgent,
    next_path: str,
    *,
    error: KefuError | None = None,
) -> Response:
    settings = _settings(request)
    owner = agent_mfa.agent_owner(user.agent)
    enrolment = totp.pending_enrolment(db, owner, account=user.agent.email, settings=settings)
    if enrolment is None:
        enrolment = agent_mfa.begin_totp_enrolment(db, user.agent, settings)
    return render(
        request,
        "console/sign_in_enrol.html",
        {
            "next": next_path,
            "error": error,
            "second_step": True,
            "secret": " ".join(enrolment.secret[i : i + 4] for i in range(0, 32, 4)),
            # segno's SVG: only <svg>/<path> elements, no script; built from our own URI.
            "qr_svg": Markup(enrolment.qr_svg),  # noqa: S704
        },
        status_code=error.status if error else 200,
    )


@router.get("/sign-in/enrol")
def enrol_page(
    request: Request, db: DbSession, user: MaybeSignedIn, next: str | None = None
) -> Response:
    signed_in = _half_signed_in(request, db, user, ENROL)
    return _enrol_page(request, db, signed_in, safe_next(next))


@router.post("/sign-in/enrol", dependencies=[Csrf])
def enrol(
    request: Request,
    db: DbSession,
    user: MaybeSignedIn,
    code: Code = "",
    next: Annotated[str, Form(max_length=500)] = HOME,
) -> Response:
    signed_in = _half_signed_in(request, db, user, ENROL)
    try:
        codes = agent_mfa.confirm_totp_enrolment(
            db, signed_in.agent, signed_in.session, code, _settings(request)
        )
    except CODE_ERRORS as error:
        return _enrol_page(request, db, signed_in, safe_next(next), error=error)
    return render(
        request,
        "console/recovery_codes.html",
        {"codes": codes, "next": safe_next(next), "first_time": True},
    )


# --- the agent's own security page ---------------------------------------------------------


def _security_page(
    request: Request,
    db: DbSession,
    user: ConsoleAgent,
    *,
    error: KefuError | None = None,
) -> Response:
    owner = agent_mfa.agent_owner(user.agent)
    return render(
        request,
        "console/security.html",
        {
            "enrolled": totp.active_credential(db, owner) is not None,
            "required": agent_mfa.mfa_required_for(user.agent, _settings(request)),
            "codes_left": totp.recovery_codes_left(db, owner),
            "verified_at": user.session.mfa_verified_at,
            "error": error,
        },
        status_code=error.status if error else 200,
    )


@router.get("/security")
def security_page(request: Request, db: DbSession, user: SignedIn) -> Response:
    return _security_page(request, db, user)


@router.post("/security/recovery-codes", dependencies=[Csrf])
def regenerate_recovery_codes(
    request: Request,
    db: DbSession,
    user: SignedIn,
    code: Code = "",
    factor: Annotated[str, Form(max_length=20)] = "totp",
) -> Response:
    try:
        codes = totp.regenerate_recovery_codes(
            db,
            agent_mfa.agent_owner(user.agent),
            code,
            factor=_factor(factor),
            settings=_settings(request),
        )
    except CODE_ERRORS as error:
        return _security_page(request, db, user, error=error)
    return render(
        request,
        "console/recovery_codes.html",
        {"codes": codes, "next": "/console/security", "first_time": False},
    )


# --- four-eyes approvals -------------------------------------------------------------------


def _approvals_page(
    request: Request,
    db: DbSession,
    user: ConsoleAgent,
    *,
    error: KefuError | None = None,
    failed_id: str | None = None,
) -> Response:
    pending = approvals.list_approvals(db, status=ApprovalStatus.PENDING)
    decided = [a for a in approvals.list_approvals(db) if a.status != ApprovalStatus.PENDING][:20]
    shown = [*pending, *decided]
    agent_ids = {a.requester_id for a in shown} | {
        a.decided_by_id for a in shown if a.decided_by_id
    }
    return render(
        request,
        "console/approvals.html",
        {
            "pending": pending,
            "decided": decided,
            "customers": {a.customer_id: identity.get_customer(db, a.customer_id) for a in shown},
            "agents": {i: identity.get_agent(db, i) for i in agent_ids},
            "error": error,
            "failed_id": failed_id,
            **_labels(),
        },
        status_code=error.status if error else 200,
    )


@router.get("/approvals")
def approvals_page(request: Request, db: DbSession, user: ApprovalDecider) -> Response:
    return _approvals_page(request, db, user)


@router.post("/approvals/{approval_id}/decision", dependencies=[Csrf])
def decide_approval(
    request: Request,
    approval_id: str,
    db: DbSession,
    user: ApprovalDecider,
    decision: Annotated[str, Form(max_length=20)],
    code: Code = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    if decision not in ("approve", "reject"):
        raise InvalidDecision()
    try:
        approvals.decide_approval(
            db,
            approval_id,
            approver=user.agent,
            approve=decision == "approve",
            code=code,
            reason=reason.strip() or None,
            settings=_settings(request),
        )
    except (*CODE_ERRORS, ApprovalNotAllowed, ApprovalDecided) as error:
        return _approvals_page(request, db, user, error=error, failed_id=approval_id)
    return _see_other("/console/approvals")


# --- step-up challenges --------------------------------------------------------------------


def _describe(item: str) -> tuple[str, list[str]]:
    """'customer:totp|sms' → ('customer', ['totp', 'sms'])."""
    who, _, factors = item.partition(":")
    return who, factors.split("|")


@router.get("/step-up")
def challenges_page(request: Request, db: DbSession, user: StepUpStarter) -> Response:
    challenges = stepup.challenges_started_by(db, user.agent.id, limit=50)
    return render(
        request,
        "console/step_ups.html",
        {
            "challenges": challenges,
            "customers": {
                c.customer_id: identity.get_customer(db, c.customer_id) for c in challenges
            },
            **_labels(),
        },
    )


def _challenge_page(
    request: Request,
    db: DbSession,
    user: ConsoleAgent,
    challenge_id: str,
    *,
    error: KefuError | None = None,
    notice: str | None = None,
) -> Response:
    challenge = stepup.get_challenge(db, challenge_id)
    if challenge.acting_agent_id != user.agent.id and not user.can(Permission.APPROVALS_DECIDE):
        raise NotFound(kind=N_("Step-up challenge"), id=challenge_id[:40])
    state = stepup.challenge_state(db, challenge)
    record(
        db,
        user.actor,
        "step_up.challenge_viewed",
        subject_type="customer",
        subject_id=challenge.customer_id,
        data={"challenge_id": challenge.id},
    )
    mine = challenge.acting_agent_id == user.agent.id
    return render(
        request,
        "console/step_up.html",
        {
            "challenge": challenge,
            "state": state,
            "customer": identity.get_customer(db, challenge.customer_id),
            "missing": [_describe(m) for m in state.missing],
            "stale": [_describe(m) for m in state.stale],
            "mine": mine,
            "can_prove": mine
            and state.policy.needs_agent
            and challenge.status == "open"
            and ("agent:totp" in state.missing or "agent:totp" in state.stale),
            "can_ask": mine
            and challenge.status == "open"
            and state.policy.four_eyes
            and state.approval is None,
            "can_text": mine
            and challenge.status == "open"
            and state.policy.needs_customer
            and "sms" in state.policy.customer_factors,
            "error": error,
            "notice": notice,
            **_labels(),
        },
        status_code=error.status if error else 200,
    )


@router.get("/step-up/{challenge_id}")
def challenge_page(
    request: Request, challenge_id: str, db: DbSession, user: StepUpStarter
) -> Response:
    return _challenge_page(request, db, user, challenge_id)


@router.post("/step-up/{challenge_id}/verify", dependencies=[Csrf])
def prove_own_factor(
    request: Request, challenge_id: str, db: DbSession, user: StepUpStarter, code: Code = ""
) -> Response:
    """The acting agent enters their own authenticator code for the challenge."""
    try:
        stepup.verify_challenge_factor(
            db,
            challenge_id,
            actor=user.actor,
            factor="totp",
            code=code,
            settings=_settings(request),
        )
    except (*CODE_ERRORS, FactorNotAccepted, StepUpStale, StepUpUsed) as error:
        return _challenge_page(request, db, user, challenge_id, error=error)
    return _see_other(f"/console/step-up/{challenge_id}")


@router.post("/step-up/{challenge_id}/sms", dependencies=[Csrf])
def text_customer(
    request: Request, challenge_id: str, db: DbSession, user: StepUpStarter
) -> Response:
    """Text the customer a code to read back (where the policy accepts SMS)."""
    challenge = stepup.get_challenge(db, challenge_id)
    if challenge.acting_agent_id != user.agent.id:
        raise PermissionDenied(N_("Only the agent who started this operation confirms it."))
    try:
        stepup.send_challenge_sms(db, challenge_id, actor=user.actor, settings=_settings(request))
    except (
        FactorNotAccepted,
        SmsUnavailable,
        SmsSendLimited,
        SmsDeliveryFailed,
        StepUpStale,
        StepUpUsed,
    ) as error:
        return _challenge_page(request, db, user, challenge_id, error=error)
    return _challenge_page(
        request, db, user, challenge_id, notice=N_("A code was sent to the customer's phone.")
    )


@router.post("/step-up/{challenge_id}/approval", dependencies=[Csrf])
def ask_for_approval(
    request: Request,
    challenge_id: str,
    db: DbSession,
    user: StepUpStarter,
    reason: Annotated[str, Form(min_length=1, max_length=2000)],
) -> Response:
    """Four-eyes: the acting agent asks a second person to approve the operation."""
    approvals.request_approval(db, challenge_id, requester=user.agent, reason=reason.strip())
    return _see_other(f"/console/step-up/{challenge_id}")


# --- the demo's phone ----------------------------------------------------------------------


@router.get("/sms-outbox")
def outbox_page(request: Request, db: DbSession, user: OutboxReader) -> Response:
    messages = list_outbox(db, limit=50)
    record(db, user.actor, "sms.outbox_read", data={"count": len(messages), "via": "console"})
    return render(
        request,
        "console/sms_outbox.html",
        {"messages": messages, "adapter": _settings(request).sms_adapter},
    )
