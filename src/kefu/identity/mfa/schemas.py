"""API shapes for second factors, step-up challenges, approvals and the SMS outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kefu.identity.mfa.stepup import ChallengeState, StepUpPolicy

CodeField = Field(min_length=4, max_length=64)


class MfaStatusOut(BaseModel):
    enrolled: bool
    recovery_codes_left: int
    # Agents only: whether the role requires a second factor and whether this sign-in has it.
    required: bool | None = None
    verified: bool | None = None


class EnrolmentOut(BaseModel):
    """Shown once: the seed as text (manual entry), as an otpauth URI and as an SVG QR code."""

    credential_id: str
    secret: str
    otpauth_uri: str
    qr_svg: str


class CodeIn(BaseModel):
    code: str = CodeField


class FactorCodeIn(BaseModel):
    code: str = CodeField
    factor: Literal["totp", "recovery_code"] = "totp"


class RecoveryCodesOut(BaseModel):
    """Shown once; keep them somewhere safe. Each works one time."""

    recovery_codes: list[str]


class PolicyOut(BaseModel):
    operation: str
    overridden: bool
    policy: StepUpPolicy


class ChallengeCreate(BaseModel):
    operation: str = Field(min_length=1, max_length=60)
    customer_id: str | None = Field(default=None, max_length=36)
    # The exact request the operation will run with; the challenge is bound to its hash.
    payload: dict[str, Any] = Field(default_factory=dict)


class ChallengeVerify(BaseModel):
    factor: Literal["totp", "sms", "recovery_code"]
    code: str = CodeField


class VerificationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    factor: str
    subject: str
    verified_at: datetime


class ChallengeOut(BaseModel):
    id: str
    operation: str
    customer_id: str
    payload: Any
    payload_hash: str
    acting_agent_id: str | None
    status: str
    created_at: datetime
    expires_at: datetime
    consumed_at: datetime | None
    policy: StepUpPolicy
    # The customer's factors this challenge accepts now (SMS only where the policy allows it).
    customer_factors: list[str]
    verifications: list[VerificationOut]
    missing: list[str]
    stale: list[str]
    cooling_off_until: datetime | None
    approval_id: str | None
    approval_status: str | None
    ready: bool

    @classmethod
    def of(cls, state: ChallengeState) -> ChallengeOut:
        c = state.challenge
        return cls(
            id=c.id,
            operation=c.operation,
            customer_id=c.customer_id,
            payload=c.payload,
            payload_hash=c.payload_hash,
            acting_agent_id=c.acting_agent_id,
            status=c.status,
            created_at=c.created_at,
            expires_at=c.expires_at,
            consumed_at=c.consumed_at,
            policy=state.policy,
            customer_factors=sorted(state.policy.customer_factors)
            if state.policy.needs_customer
            else [],
            verifications=[VerificationOut.model_validate(v) for v in state.verifications],
            missing=state.missing,
            stale=state.stale,
            cooling_off_until=state.cooling_off_until,
            approval_id=state.approval.id if state.approval else None,
            approval_status=state.approval.status if state.approval else None,
            ready=state.ready,
        )


class SmsSentOut(BaseModel):
    sent: bool
    expires_at: datetime


class ApprovalCreate(BaseModel):
    challenge_id: str = Field(min_length=1, max_length=36)
    reason: str = Field(min_length=1, max_length=2000)


class ApprovalDecision(BaseModel):
    code: str = CodeField
    reason: str | None = Field(default=None, max_length=2000)


class ApprovalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    challenge_id: str
    operation: str
    customer_id: str
    payload_hash: str
    requester_id: str
    reason: str
    status: str
    decided_by_id: str | None
    decided_at: datetime | None
    decision_reason: str | None
    created_at: datetime
    executed_at: datetime | None
    # What the operation will run with (the challenge's payload, bound by its hash).
    payload: Any = None


class ResetIn(BaseModel):
    challenge_id: str | None = Field(default=None, max_length=36)


class ResetOut(BaseModel):
    customer_id: str
    disabled: int


class OutboxMessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    to: str
    body: str
    created_at: datetime
