"""Step-up challenges: an operation on funds or account security runs only with a fresh,
satisfied challenge bound to that operation, that customer and that exact payload.

The policy for each operation type (code defaults below, administrators' overrides in the
database) says which factors the customer may prove (`totp`, `sms`, `recovery_code`,
`id_review`), which are required, whether the acting agent must prove their own TOTP too,
how fresh the proofs must be, whether SMS is allowed at all, whether a second agent must
approve (four-eyes) and whether a cooling-off period applies.

`consume_step_up` is the one seam every such operation calls before it acts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.core.clock import utcnow
from kefu.core.errors import NotFound, PermissionDenied
from kefu.core.i18n import N_
from kefu.core.settings import Settings, get_settings
from kefu.identity.documents import service as documents
from kefu.identity.mfa import sms as sms_factor
from kefu.identity.mfa import totp
from kefu.identity.mfa.errors import (
    ApprovalRequired,
    FactorNotAccepted,
    StepUpCoolingOff,
    StepUpIncomplete,
    StepUpMismatch,
    StepUpRequired,
    StepUpStale,
    StepUpUsed,
    UnknownOperation,
)
from kefu.identity.mfa.models import (
    ApprovalRequest,
    ApprovalStatus,
    ChallengeStatus,
    OwnerType,
    SmsCode,
    StepUpChallenge,
    StepUpPolicyOverride,
    StepUpVerification,
)
from kefu.identity.models import Agent, Customer, Role

Factor = Literal["totp", "sms", "recovery_code", "id_review"]
CODE_FACTORS = ("totp", "sms", "recovery_code")


class StepUpPolicy(BaseModel):
    """What one operation type requires before it runs."""

    model_config = ConfigDict(frozen=True)

    # Factors the customer may prove; at least one of them is needed (when any are listed).
    factors: list[Factor] = Field(default_factory=list)
    # Factors the customer must prove in any case (e.g. an ID-document re-verification).
    required_factors: list[Factor] = Field(default_factory=list)
    # Whose proofs count: the customer's, the acting agent's own TOTP, or both.
    who: Literal["customer", "agent", "both"] = "both"
    freshness_seconds: int = Field(default=300, ge=30, le=86_400)
    # SMS is a restricted authenticator (NIST SP 800-63B); off for the riskiest operations.
    allow_sms: bool = False
    four_eyes: bool = False
    approver_roles: list[Role] = Field(default_factory=list)
    cooling_off_seconds: int = Field(default=0, ge=0, le=30 * 86_400)
    # How recent an approved ID-document review must be to count as `id_review`.
    id_review_max_age_seconds: int = Field(default=30 * 86_400, ge=60, le=365 * 86_400)

    @field_validator("factors", "required_factors", "approver_roles")
    @classmethod
    def _unique(cls, value: list[Any]) -> list[Any]:
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _satisfiable(self) -> StepUpPolicy:
        if self.needs_customer and not self.customer_factors:
            raise ValueError("the customer must be able to prove at least one factor")
        one_of = set(self.factors) - set(self.required_factors)
        if one_of and not (self.customer_factors & one_of):
            raise ValueError("SMS is the only listed factor but SMS is not allowed")
        if self.four_eyes and not self.approver_roles:
            raise ValueError("four-eyes approval needs at least one approver role")
        return self

    @property
    def customer_factors(self) -> set[str]:
        accepted: set[str] = set(self.factors) | set(self.required_factors)
        if not self.allow_sms:
            accepted.discard("sms")
        return accepted

    @property
    def needs_customer(self) -> bool:
        return self.who in ("customer", "both")

    @property
    def needs_agent(self) -> bool:
        return self.who in ("agent", "both")


_APPROVERS = [Role.SUPERVISOR, Role.RISK_OFFICER, Role.ADMIN]

DEFAULT_POLICIES: dict[str, StepUpPolicy] = {
    "withdrawal.unlock": StepUpPolicy(
        factors=["totp", "sms"], who="both", freshness_seconds=300, allow_sms=True
    ),
    "account.unfreeze": StepUpPolicy(
        factors=["totp"],
        required_factors=["id_review"],
        who="both",
        freshness_seconds=600,
        four_eyes=True,
        approver_roles=[Role.RISK_OFFICER, Role.ADMIN],
        cooling_off_seconds=24 * 3600,
    ),
    "2fa.reset": StepUpPolicy(
        factors=["id_review"],
        required_factors=["id_review"],
        who="both",
        freshness_seconds=900,
        four_eyes=True,
        approver_roles=_APPROVERS,
    ),
    "email.change": StepUpPolicy(
        factors=["totp", "sms", "recovery_code"], who="both", freshness_seconds=300, allow_sms=True
    ),
    "withdrawal_address.add": StepUpPolicy(factors=["totp"], who="customer", freshness_seconds=300),
    "compensation.payout": StepUpPolicy(
        who="agent",
        freshness_seconds=300,
        four_eyes=True,
        approver_roles=[Role.RISK_OFFICER, Role.ADMIN],
    ),
}


def payload_hash(payload: Any) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of the payload."""
    canonical = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# --- policies ------------------------------------------------------------------------------


def policy_for(session: Session, operation: str) -> StepUpPolicy:
    if operation not in DEFAULT_POLICIES:
        raise UnknownOperation(operation=operation)
    override = session.scalar(
        select(StepUpPolicyOverride).where(StepUpPolicyOverride.operation == operation)
    )
    if override is None:
        return DEFAULT_POLICIES[operation]
    return StepUpPolicy.model_validate(override.rules)


def list_policies(session: Session) -> list[tuple[str, StepUpPolicy, bool]]:
    """(operation, effective policy, overridden?) for every known operation."""
    overrides = {o.operation: o for o in session.scalars(select(StepUpPolicyOverride))}
    return [
        (
            operation,
            StepUpPolicy.model_validate(overrides[operation].rules)
            if operation in overrides
            else default,
            operation in overrides,
        )
        for operation, default in sorted(DEFAULT_POLICIES.items())
    ]


def set_policy(
    session: Session, operation: str, policy: StepUpPolicy, actor: Actor
) -> StepUpPolicy:
    before = policy_for(session, operation)
    override = session.scalar(
        select(StepUpPolicyOverride).where(StepUpPolicyOverride.operation == operation)
    )
    rules = policy.model_dump(mode="json")
    if override is None:
        override = StepUpPolicyOverride(operation=operation, rules=rules, updated_at=utcnow())
        session.add(override)
    override.rules = rules
    override.updated_at = utcnow()
    override.updated_by = actor.id
    record(
        session,
        actor,
        "step_up.policy_changed",
        subject_type="step_up_policy",
        subject_id=operation,
        data={"before": before.model_dump(mode="json"), "after": rules},
    )
    return policy


def reset_policy(session: Session, operation: str, actor: Actor) -> StepUpPolicy:
    before = policy_for(session, operation)
    override = session.scalar(
        select(StepUpPolicyOverride).where(StepUpPolicyOverride.operation == operation)
    )
    if override is not None:
        session.delete(override)
        record(
            session,
            actor,
            "step_up.policy_reset",
            subject_type="step_up_policy",
            subject_id=operation,
            data={"before": before.model_dump(mode="json")},
        )
    return DEFAULT_POLICIES[operation]


# --- challenges ----------------------------------------------------------------------------


def create_challenge(
    session: Session,
    *,
    operation: str,
    customer_id: str,
    payload: Any,
    actor: Actor,
    acting_agent: Agent | None = None,
    settings: Settings | None = None,
) -> StepUpChallenge:
    """Open a challenge for one operation on one customer with one payload.

    An agent opening it becomes the acting agent (whose own TOTP the policy may ask for);
    a customer may open one only for operations that need no agent."""
    settings = settings or get_settings()
    policy = policy_for(session, operation)
    if session.get(Customer, customer_id) is None:
        raise NotFound(kind=N_("Customer"), id=customer_id)
    if acting_agent is None and policy.needs_agent:
        raise PermissionDenied(N_("An agent must start this operation."))
    now = utcnow()
    challenge = StepUpChallenge(
        operation=operation,
        customer_id=customer_id,
        payload_hash=payload_hash(payload),
        payload=json.loads(json.dumps(payload, default=str)),
        created_by_type=actor.type,
        created_by_id=actor.id,
        acting_agent_id=acting_agent.id if acting_agent else None,
        status=ChallengeStatus.OPEN,
        created_at=now,
        # A cooling-off period comes before the usual window: otherwise a challenge whose
        # policy waits a day would expire after half an hour and could never be used.
        expires_at=now
        + timedelta(seconds=policy.cooling_off_seconds)
        + timedelta(minutes=settings.step_up_challenge_minutes),
    )
    session.add(challenge)
    session.flush()
    record(
        session,
        actor,
        "step_up.challenge_created",
        subject_type="customer",
        subject_id=customer_id,
        data={
            "challenge_id": challenge.id,
            "operation": operation,
            "payload_hash": challenge.payload_hash,
        },
    )
    return challenge


def get_challenge(session: Session, challenge_id: str) -> StepUpChallenge:
    challenge = session.get(StepUpChallenge, challenge_id)
    if challenge is None:
        raise NotFound(kind=N_("Step-up challenge"), id=challenge_id)
    return challenge


def list_challenges(
    session: Session, *, customer_id: str, status: str | None = None
) -> list[StepUpChallenge]:
    stmt = select(StepUpChallenge).where(StepUpChallenge.customer_id == customer_id)
    if status:
        stmt = stmt.where(StepUpChallenge.status == status)
    stmt = stmt.order_by(StepUpChallenge.created_at.desc(), StepUpChallenge.id.desc())
    return list(session.scalars(stmt.limit(100)))


def _purpose(challenge: StepUpChallenge) -> str:
    return f"step_up:{challenge.id}"


def _open_challenge(session: Session, challenge_id: str) -> StepUpChallenge:
    challenge = get_challenge(session, challenge_id)
    if challenge.status == ChallengeStatus.CONSUMED:
        raise StepUpUsed()
    if challenge.expires_at <= utcnow():
        raise StepUpStale()
    return challenge


def send_challenge_sms(
    session: Session,
    challenge_id: str,
    *,
    actor: Actor,
    settings: Settings | None = None,
) -> SmsCode:
    """Text a code to the customer's phone on file, if the policy accepts SMS."""
    challenge = _open_challenge(session, challenge_id)
    policy = policy_for(session, challenge.operation)
    if not policy.needs_customer or "sms" not in policy.customer_factors:
        raise FactorNotAccepted(factor="sms")
    customer = session.get(Customer, challenge.customer_id)
    assert customer is not None
    return sms_factor.send_code(
        session,
        totp.Owner(OwnerType.CUSTOMER, customer.id),
        customer.phone,
        purpose=_purpose(challenge),
        language=customer.language,
        settings=settings,
        actor=actor,
    )


def verify_challenge_factor(
    session: Session,
    challenge_id: str,
    *,
    actor: Actor,
    factor: str,
    code: str,
    settings: Settings | None = None,
) -> StepUpVerification:
    """The customer proves one of their factors, or the acting agent proves their TOTP."""
    challenge = _open_challenge(session, challenge_id)
    policy = policy_for(session, challenge.operation)
    purpose = _purpose(challenge)
    if actor.type == "customer":
        if actor.id != challenge.customer_id:
            raise NotFound(kind=N_("Step-up challenge"), id=challenge_id)
        if not policy.needs_customer or factor not in policy.customer_factors - {"id_review"}:
            raise FactorNotAccepted(factor=factor)
        owner = totp.Owner(OwnerType.CUSTOMER, challenge.customer_id)
        if factor == "sms":
            sms_factor.verify_code(session, owner, code, purpose=purpose, settings=settings)
        else:
            totp.verify_factor(session, owner, factor, code, purpose=purpose, settings=settings)
        subject = "customer"
    elif actor.type == "agent":
        if challenge.acting_agent_id is None or actor.id != challenge.acting_agent_id:
            raise PermissionDenied(N_("Only the agent who started this operation confirms it."))
        if not policy.needs_agent or factor != "totp":
            raise FactorNotAccepted(factor=factor)
        owner = totp.Owner(OwnerType.AGENT, challenge.acting_agent_id)
        totp.verify_totp(session, owner, code, purpose=purpose, settings=settings)
        subject = "agent"
    else:
        raise PermissionDenied()
    assert actor.id is not None
    verification = StepUpVerification(
        challenge_id=challenge.id,
        factor=factor,
        subject=subject,
        actor_id=actor.id,
        verified_at=utcnow(),
    )
    session.add(verification)
    session.flush()
    record(
        session,
        actor,
        "step_up.factor_verified",
        subject_type="customer",
        subject_id=challenge.customer_id,
        data={"challenge_id": challenge.id, "factor": factor, "by": subject},
    )
    return verification


@dataclass
class ChallengeState:
    """Where a challenge stands: what is proven, what is missing or stale, what waits."""

    challenge: StepUpChallenge
    policy: StepUpPolicy
    verifications: list[StepUpVerification]
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    cooling_off_until: datetime | None = None
    approval: ApprovalRequest | None = None

    @property
    def approved(self) -> bool:
        return not self.policy.four_eyes or (
            self.approval is not None and self.approval.status == ApprovalStatus.APPROVED
        )

    @property
    def ready(self) -> bool:
        return (
            self.challenge.status == ChallengeStatus.OPEN
            and not self.missing
            and not self.stale
            and self.cooling_off_until is None
            and self.approved
        )


def challenge_state(session: Session, challenge: StepUpChallenge) -> ChallengeState:
    policy = policy_for(session, challenge.operation)
    now = utcnow()
    fresh_after = now - timedelta(seconds=policy.freshness_seconds)
    verifications = list(
        session.scalars(
            select(StepUpVerification)
            .where(StepUpVerification.challenge_id == challenge.id)
            .order_by(StepUpVerification.verified_at)
        )
    )
    state = ChallengeState(challenge, policy, verifications)
    latest: dict[tuple[str, str], datetime] = {}
    for v in verifications:
        latest[(v.subject, v.factor)] = v.verified_at
    if policy.needs_customer:
        reviewed = documents.identity_reverified_at(session, challenge.customer_id)
        if reviewed is not None and reviewed >= now - timedelta(
            seconds=policy.id_review_max_age_seconds
        ):
            latest[("customer", "id_review")] = now
        accepted = policy.customer_factors
        for factor in policy.required_factors:
            _check(state, latest.get(("customer", factor)), fresh_after, f"customer:{factor}")
        optional = accepted - set(policy.required_factors)
        if optional:
            times = [t for (s, f), t in latest.items() if s == "customer" and f in optional]
            _check(
                state,
                max(times) if times else None,
                fresh_after,
                "customer:" + "|".join(sorted(optional)),
            )
    if policy.needs_agent:
        _check(state, latest.get(("agent", "totp")), fresh_after, "agent:totp")
    if policy.cooling_off_seconds:
        until = challenge.created_at + timedelta(seconds=policy.cooling_off_seconds)
        if until > now:
            state.cooling_off_until = until
    state.approval = session.scalar(
        select(ApprovalRequest).where(ApprovalRequest.challenge_id == challenge.id)
    )
    return state


def _check(state: ChallengeState, at: datetime | None, fresh_after: datetime, name: str) -> None:
    if at is None:
        state.missing.append(name)
    elif at < fresh_after:
        state.stale.append(name)


def _refuse(
    session: Session,
    error: Exception,
    *,
    actor: Actor,
    operation: str,
    customer_id: str,
    challenge_id: str | None,
) -> Exception:
    record(
        session,
        actor,
        "step_up.refused",
        subject_type="customer",
        subject_id=customer_id,
        data={
            "operation": operation,
            "challenge_id": challenge_id,
            "reason": getattr(error, "code", "unknown"),
        },
    )
    return error


def consume_step_up(
    session: Session,
    challenge_id: str | None,
    *,
    operation: str,
    customer_id: str,
    payload: Any,
    acting_agent: Agent | None = None,
    actor: Actor | None = None,
) -> StepUpChallenge:
    """The gate every protected operation passes: the challenge must be bound to this very
    operation, customer and payload (and acting agent), satisfied with fresh factors, past
    any cooling-off, approved by a second agent when the policy says so, and unused. It is
    then spent, atomically: a second call (or a concurrent one) gets `step_up_used`.

    Refusals raise a `StepUpError` after writing `step_up.refused` to the audit log; the
    request keeps that entry (`keep_writes`). Call this before the operation writes anything.
    """
    actor = actor or (Actor.agent(acting_agent.id) if acting_agent else Actor.system())
    policy_for(session, operation)  # unknown operations are a programming error: say so

    def refuse(error: Exception) -> Exception:
        return _refuse(
            session,
            error,
            actor=actor,
            operation=operation,
            customer_id=customer_id,
            challenge_id=challenge_id,
        )

    challenge = (
        session.scalar(
            select(StepUpChallenge).where(StepUpChallenge.id == challenge_id).with_for_update()
        )
        if challenge_id
        else None
    )
    if challenge is None:
        raise refuse(StepUpRequired())
    if (
        challenge.operation != operation
        or challenge.customer_id != customer_id
        or challenge.payload_hash != payload_hash(payload)
    ):
        raise refuse(StepUpMismatch())
    policy = policy_for(session, operation)
    if policy.needs_agent and (
        acting_agent is None or acting_agent.id != challenge.acting_agent_id
    ):
        raise refuse(StepUpMismatch())
    if challenge.status == ChallengeStatus.CONSUMED:
        raise refuse(StepUpUsed())
    if challenge.expires_at <= utcnow():
        raise refuse(StepUpStale())
    state = challenge_state(session, challenge)
    if state.cooling_off_until is not None:
        raise refuse(StepUpCoolingOff(until=state.cooling_off_until.isoformat()))
    if state.missing:
        raise refuse(StepUpIncomplete(missing=", ".join(state.missing)))
    if state.stale:
        raise refuse(StepUpStale())
    if not state.approved:
        raise refuse(ApprovalRequired())
    now = utcnow()
    spent = session.execute(
        update(StepUpChallenge)
        .where(
            StepUpChallenge.id == challenge.id,
            StepUpChallenge.status == ChallengeStatus.OPEN,
        )
        .values(status=ChallengeStatus.CONSUMED, consumed_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise refuse(StepUpUsed())
    if state.approval is not None:
        state.approval.status = ApprovalStatus.EXECUTED
        state.approval.executed_at = now
    record(
        session,
        actor,
        "step_up.consumed",
        subject_type="customer",
        subject_id=customer_id,
        data={
            "operation": operation,
            "challenge_id": challenge.id,
            "payload_hash": challenge.payload_hash,
            "factors": [f"{v.subject}:{v.factor}" for v in state.verifications],
            "approval_id": state.approval.id if state.approval else None,
        },
    )
    return challenge


def challenges_started_by(
    session: Session, agent_id: str, *, limit: int = 50
) -> list[StepUpChallenge]:
    """The challenges an agent opened as the acting agent, newest first (the console)."""
    return list(
        session.scalars(
            select(StepUpChallenge)
            .where(StepUpChallenge.acting_agent_id == agent_id)
            .order_by(StepUpChallenge.created_at.desc(), StepUpChallenge.id.desc())
            .limit(limit)
        )
    )
