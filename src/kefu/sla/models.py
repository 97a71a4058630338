"""SLA policies are matched in order (first match wins); breaches are recorded once per target."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.clock import utcnow
from kefu.core.db import Base, IdMixin, JSONType, TimestampMixin


class BusinessCalendar(IdMixin, TimestampMixin, Base):
    __tablename__ = "business_calendars"

    name: Mapped[str] = mapped_column(String(80), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))  # IANA name, e.g. Asia/Singapore
    # {"mon": [["09:00", "18:00"]], ...}; a missing day is closed.
    weekly_hours: Mapped[dict[str, list[list[str]]]] = mapped_column(JSONType)
    holidays: Mapped[list[str]] = mapped_column(JSONType, default=list)  # ISO dates, local


class SlaPolicy(IdMixin, TimestampMixin, Base):
    __tablename__ = "sla_policies"

    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Match criteria: an empty list matches anything.
    jurisdictions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    languages: Mapped[list[str]] = mapped_column(JSONType, default=list)
    categories: Mapped[list[str]] = mapped_column(JSONType, default=list)
    priorities: Mapped[list[str]] = mapped_column(JSONType, default=list)
    customer_tiers: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Targets in minutes; None means no target of that kind.
    first_response_minutes: Mapped[int | None] = mapped_column(Integer)
    next_response_minutes: Mapped[int | None] = mapped_column(Integer)
    resolution_minutes: Mapped[int | None] = mapped_column(Integer)
    # Business hours count only the calendar's open hours; otherwise every hour counts.
    business_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    calendar_id: Mapped[str | None] = mapped_column(ForeignKey("business_calendars.id"))


class TicketSla(Base):
    """The policy a ticket was matched to when it was opened; it keeps it for its life."""

    __tablename__ = "ticket_slas"

    ticket_id: Mapped[str] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    policy_id: Mapped[str] = mapped_column(ForeignKey("sla_policies.id"))
    matched_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaBreach(IdMixin, Base):
    __tablename__ = "sla_breaches"
    # The unique key is what makes escalation fire at most once per target (and cycle).
    __table_args__ = (UniqueConstraint("ticket_id", "target", "cycle"),)

    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    target: Mapped[str] = mapped_column(String(20))  # first_response, next_response, resolution
    cycle: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime]
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
