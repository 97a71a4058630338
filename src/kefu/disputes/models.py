"""A stored liquidation-dispute analysis, attached to the ticket it was made for."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.clock import utcnow
from kefu.core.db import Base, IdMixin, JSONType


class Dispute(IdMixin, Base):
    """One analysis of one liquidation for one ticket. `analysis` is the whole
    `service.Analysis` (position, candles, incidents, recomputation, findings) as JSON, so the
    report and the chart show what the agent saw even if the exchange's data later changes."""

    __tablename__ = "disputes"
    __table_args__ = (Index("ix_disputes_ticket_created", "ticket_id", "created_at"),)

    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"))
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"), index=True)
    liquidation_id: Mapped[str] = mapped_column(String(64))
    verdict: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(10))
    analysis: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_by: Mapped[str] = mapped_column(String(36))
    note_message_id: Mapped[str | None] = mapped_column(String(36))
    summary_message_id: Mapped[str | None] = mapped_column(String(36))
    escalated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
