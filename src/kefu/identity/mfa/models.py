"""Second factors (TOTP, recovery codes, SMS codes), step-up challenges and four-eyes approvals.

A factor belongs to an owner: an agent or a customer (`owner_type`, `owner_id`). Nothing here
stores a code or a seed in the clear: seeds are sealed (AES-256-GCM bound to their owner),
recovery and SMS codes are kept as digests.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.clock import utcnow
from kefu.core.db import Base, IdMixin, JSONType


class OwnerType(StrEnum):
    AGENT = "agent"
    CUSTOMER = "customer"


class TotpStatus(StrEnum):
    PENDING = "pending"  # enrolment started, not yet confirmed with a first code
    ACTIVE = "active"
    DISABLED = "disabled"


class TotpCredential(IdMixin, Base):
    """An authenticator app (RFC 6238). `last_used_step` makes every code single-use."""

    __tablename__ = "mfa_totp_credentials"
    __table_args__ = (Index("ix_mfa_totp_credentials_owner", "owner_type", "owner_id"),)

    owner_type: Mapped[str] = mapped_column(String(10))
    owner_id: Mapped[str] = mapped_column(String(36))
    sealed_seed: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(12), default=TotpStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)


class RecoveryCode(IdMixin, Base):
    """A single-use fallback code; only its SHA-256 is kept (the code has 80 random bits)."""

    __tablename__ = "mfa_recovery_codes"
    __table_args__ = (Index("ix_mfa_recovery_codes_owner", "owner_type", "owner_id"),)

    owner_type: Mapped[str] = mapped_column(String(10))
    owner_id: Mapped[str] = mapped_column(String(36))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class FactorFailure(IdMixin, Base):
    """A wrong second-factor code; enough of them in the window lock the owner's factors."""

    __tablename__ = "mfa_failures"
    __table_args__ = (Index("ix_mfa_failures_owner_at", "owner_type", "owner_id", "at"),)

    owner_type: Mapped[str] = mapped_column(String(10))
    owner_id: Mapped[str] = mapped_column(String(36))
    factor: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]


class SmsCode(IdMixin, Base):
    """A one-time code sent by SMS for one purpose (e.g. one step-up challenge)."""

    __tablename__ = "sms_codes"
    __table_args__ = (Index("ix_sms_codes_phone_digest_created_at", "phone_digest", "created_at"),)

    owner_type: Mapped[str] = mapped_column(String(10))
    owner_id: Mapped[str] = mapped_column(String(36))
    phone_digest: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(80), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None]


class SmsOutboxMessage(IdMixin, Base):
    """A text message kept by the `outbox` SMS adapter (the embedded demo's phone)."""

    __tablename__ = "sms_outbox"

    to: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class StepUpPolicyOverride(IdMixin, Base):
    """An administrator's change to one operation's step-up policy (code defaults otherwise)."""

    __tablename__ = "step_up_policy_overrides"

    operation: Mapped[str] = mapped_column(String(60), unique=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSONType)
    updated_by: Mapped[str | None] = mapped_column(String(36))
    updated_at: Mapped[datetime]


class ChallengeStatus(StrEnum):
    OPEN = "open"
    CONSUMED = "consumed"


class StepUpChallenge(IdMixin, Base):
    """A request to run one operation, for one customer, with one payload (by its hash)."""

    __tablename__ = "step_up_challenges"

    operation: Mapped[str] = mapped_column(String(60))
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    payload_hash: Mapped[str] = mapped_column(String(64))
    payload: Mapped[Any] = mapped_column(JSONType)
    created_by_type: Mapped[str] = mapped_column(String(10))
    created_by_id: Mapped[str | None] = mapped_column(String(36))
    acting_agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    status: Mapped[str] = mapped_column(String(12), default=ChallengeStatus.OPEN)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    consumed_at: Mapped[datetime | None]


class StepUpVerification(IdMixin, Base):
    """One factor proven for a challenge: which factor, by whom (customer or agent), when."""

    __tablename__ = "step_up_verifications"

    challenge_id: Mapped[str] = mapped_column(
        ForeignKey("step_up_challenges.id", ondelete="CASCADE"), index=True
    )
    factor: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(10))
    actor_id: Mapped[str] = mapped_column(String(36))
    verified_at: Mapped[datetime]


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXECUTED = "executed"


class ApprovalRequest(IdMixin, Base):
    """Four-eyes: a second agent, not the requester, approves one challenge's operation."""

    __tablename__ = "approval_requests"

    challenge_id: Mapped[str] = mapped_column(
        ForeignKey("step_up_challenges.id", ondelete="CASCADE"), unique=True
    )
    operation: Mapped[str] = mapped_column(String(60))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    payload_hash: Mapped[str] = mapped_column(String(64))
    requester_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=ApprovalStatus.PENDING, index=True)
    decided_by_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    executed_at: Mapped[datetime | None]
