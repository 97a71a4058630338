"""Who is who: customers mirror exchange users; agents sign in to work tickets."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.db import Base, IdMixin, JSONType, TimestampMixin


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    RISK_OFFICER = "risk_officer"
    COMPLIANCE_OFFICER = "compliance_officer"
    ADMIN = "admin"


class CustomerTier(StrEnum):
    STANDARD = "standard"
    VIP = "vip"
    INSTITUTIONAL = "institutional"


class Customer(IdMixin, TimestampMixin, Base):
    __tablename__ = "customers"

    # The exchange's own user id: kefu mirrors users, the exchange stays the source of truth.
    external_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(10), default="en")
    jurisdiction: Mapped[str] = mapped_column(String(8))  # ISO 3166-1 alpha-2, e.g. SG, DE
    tier: Mapped[str] = mapped_column(String(20), default=CustomerTier.STANDARD)


class Agent(IdMixin, TimestampMixin, Base):
    __tablename__ = "agents"

    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(30), default=Role.AGENT)
    # Teams (support, risk, compliance) and languages decide which queues the agent serves.
    teams: Mapped[list[str]] = mapped_column(JSONType, default=list)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    language: Mapped[str] = mapped_column(String(10), default="en")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    max_open_tickets: Mapped[int] = mapped_column(Integer, default=30)
    last_assigned_at: Mapped[datetime | None]
    # The seam for MFA: set when a second factor is enrolled (its own issue).
    mfa_enrolled: Mapped[bool] = mapped_column(Boolean, default=False)


class AgentSession(IdMixin, Base):
    """A sign-in: only the SHA-256 of the bearer token is stored, never the token."""

    __tablename__ = "agent_sessions"

    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # Step-up freshness lives here once MFA lands: when the second factor was last proven.
    mfa_verified_at: Mapped[datetime | None]


class SignInFailure(IdMixin, Base):
    """A failed agent sign-in, keyed by a digest of the email typed (known or not), so that
    throttling treats real and unknown accounts alike and reveals neither."""

    __tablename__ = "sign_in_failures"
    __table_args__ = (Index("ix_sign_in_failures_email_digest_at", "email_digest", "at"),)

    email_digest: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime]
