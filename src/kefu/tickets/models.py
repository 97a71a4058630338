"""A ticket is one customer problem; its messages are the conversation, its events the history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kefu.core.clock import utcnow
from kefu.core.db import Base, IdMixin, JSONType, TimestampMixin


class Category(StrEnum):
    ACCOUNT = "account"
    KYC = "kyc"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    TRADING = "trading"
    FUTURES = "futures"
    SECURITY = "security"
    POLICY = "policy"
    OTHER = "other"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class Status(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING_CUSTOMER = "pending_customer"
    PENDING_INTERNAL = "pending_internal"
    SOLVED = "solved"
    CLOSED = "closed"


class Tier(StrEnum):
    BOT = "bot"
    AGENT = "agent"
    RISK = "risk"


class Team(StrEnum):
    SUPPORT = "support"
    RISK = "risk"
    COMPLIANCE = "compliance"


class MessageKind(StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    INTERNAL_NOTE = "internal_note"
    SYSTEM = "system"


class Channel(StrEnum):
    WEB = "web"
    EMAIL = "email"
    API = "api"
    BOT = "bot"


class Ticket(IdMixin, TimestampMixin, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_queue_status", "team", "language", "status"),
        Index("ix_tickets_assignee_status", "assignee_id", "status"),
    )

    reference: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(10), default=Priority.NORMAL)
    status: Mapped[str] = mapped_column(String(20), default=Status.NEW)
    tier: Mapped[str] = mapped_column(String(10), default=Tier.AGENT)
    team: Mapped[str] = mapped_column(String(20), default=Team.SUPPORT)
    language: Mapped[str] = mapped_column(String(10))
    channel: Mapped[str] = mapped_column(String(10), default=Channel.API)
    # Flagged by whoever opens it (or the bot) when the customer's assets may be at risk.
    asset_related: Mapped[bool] = mapped_column(Boolean, default=False)
    assignee_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_responded_at: Mapped[datetime | None]
    solved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    tags: Mapped[list[TicketTag]] = relationship(
        cascade="all, delete-orphan", order_by="TicketTag.tag", lazy="selectin"
    )

    @property
    def queue(self) -> str:
        return f"{self.team}:{self.language}"

    @property
    def tag_names(self) -> list[str]:
        return sorted(t.tag for t in self.tags)


class TicketTag(Base):
    __tablename__ = "ticket_tags"

    ticket_id: Mapped[str] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(50), primary_key=True, index=True)


class Message(IdMixin, Base):
    __tablename__ = "ticket_messages"
    __table_args__ = (Index("ix_ticket_messages_ticket_created", "ticket_id", "created_at"),)

    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    author_type: Mapped[str] = mapped_column(String(20))  # customer, agent, bot, system
    author_id: Mapped[str | None] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketEvent(IdMixin, Base):
    """The ticket's history: status changes, escalations, assignments, SLA breaches."""

    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket_at", "ticket_id", "at"),)

    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(30))
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    from_value: Mapped[str | None] = mapped_column(String(60))
    to_value: Mapped[str | None] = mapped_column(String(60))
    reason: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


__all__ = [
    "Category",
    "Channel",
    "Message",
    "MessageKind",
    "Priority",
    "Status",
    "Team",
    "Ticket",
    "TicketEvent",
    "TicketTag",
    "Tier",
]
