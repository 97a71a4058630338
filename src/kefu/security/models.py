"""Security cases: a reported compromise, its freeze, its trace, its timeline, and the
compensation decided for it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, IdMixin, JSONType


class CaseStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class FreezeState(StrEnum):
    FROZEN = "frozen"
    # The exchange did not answer: the case is open and a risk officer retries the freeze.
    FAILED = "failed"
    # Step-up consumed, the exchange not yet confirmed: a retry unfreezes without a new one.
    UNFREEZE_AUTHORIZED = "unfreeze_authorized"
    UNFROZEN = "unfrozen"


class AssessmentStatus(StrEnum):
    PENDING = "pending"  # waiting for approvers
    REJECTED = "rejected"
    NO_FAULT = "no_fault"  # closed without payout
    PAYOUT_AUTHORIZED = "payout_authorized"
    PAID = "paid"


class SecurityCase(IdMixin, Base):
    """One reported compromise of one customer's account. At most one is open per customer:
    `open_key` is the customer id while open and NULL once closed, under a unique constraint,
    so concurrent reports join one case."""

    __tablename__ = "security_cases"

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    open_key: Mapped[str | None] = mapped_column(String(36), unique=True)
    status: Mapped[str] = mapped_column(String(12), default=CaseStatus.OPEN, index=True)
    channel: Mapped[str] = mapped_column(String(12))
    reported_by_type: Mapped[str] = mapped_column(String(12))
    reported_by_id: Mapped[str | None] = mapped_column(String(36))
    description: Mapped[str] = mapped_column(Text)
    suspected_since: Mapped[datetime]
    reports: Mapped[int] = mapped_column(Integer, default=1)
    freeze_state: Mapped[str] = mapped_column(String(24))
    frozen_scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    freeze_error: Mapped[str | None] = mapped_column(String(80))
    frozen_at: Mapped[datetime | None]
    unfrozen_at: Mapped[datetime | None]
    unfreeze_challenge_id: Mapped[str | None] = mapped_column(String(36))
    # Withdrawals, logins and API-key changes since `suspected_since`, as found at the report.
    trace: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    resolution: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class CaseEvent(IdMixin, Base):
    """The case's timeline: who did what, when and why (the audit log has the same, chained)."""

    __tablename__ = "security_case_events"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("security_cases.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))
    actor_type: Mapped[str] = mapped_column(String(12))
    actor_id: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class Assessment(IdMixin, Base):
    """A risk officer's finding: was the platform at fault, and what is owed per asset."""

    __tablename__ = "security_assessments"

    case_id: Mapped[str] = mapped_column(
        ForeignKey("security_cases.id", ondelete="CASCADE"), index=True
    )
    assessor_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    platform_fault: Mapped[bool] = mapped_column(Boolean)
    # {asset: decimal string}; empty when not a fault.
    amounts: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    reasoning: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
    payout_challenge_id: Mapped[str | None] = mapped_column(String(36))
    # [{asset, amount, payout_id, status, idempotency_key}] as the exchange answered.
    payouts: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    paid_at: Mapped[datetime | None]


class AssessmentApproval(IdMixin, Base):
    """A co-signature of an assessment by an approver other than the assessor (with their own
    fresh TOTP). With the payout challenge's four-eyes approval these make the two approvers."""

    __tablename__ = "security_assessment_approvals"
    __table_args__ = (UniqueConstraint("assessment_id", "approver_id"),)

    assessment_id: Mapped[str] = mapped_column(
        ForeignKey("security_assessments.id", ondelete="CASCADE"), index=True
    )
    approver_id: Mapped[str] = mapped_column(ForeignKey("agents.id"))
    approve: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime]
