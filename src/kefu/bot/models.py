"""A bot conversation and its messages, kept apart from tickets until a handoff makes one."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.clock import utcnow
from kefu.core.db import Base, IdMixin, JSONType, TimestampMixin


class ConversationStatus(StrEnum):
    BOT = "bot"  # the bot is answering
    HANDED_OFF = "handed_off"  # a ticket exists; people answer from now on


class Author(StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"


class Conversation(IdMixin, TimestampMixin, Base):
    __tablename__ = "bot_conversations"
    __table_args__ = (Index("ix_bot_conversations_customer_created", "customer_id", "created_at"),)

    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    language: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20), default=ConversationStatus.BOT)
    # The flow in progress and what it has collected so far (tx hash, asset, ...).
    intent: Mapped[str | None] = mapped_column(String(40))
    confidence: Mapped[float | None] = mapped_column(Float)
    flow_step: Mapped[str | None] = mapped_column(String(40))
    facts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Consecutive messages the bot did not understand; the second one hands off.
    misunderstood: Mapped[int] = mapped_column(default=0)
    ticket_id: Mapped[str | None] = mapped_column(ForeignKey("tickets.id"))
    handoff_reason: Mapped[str | None] = mapped_column(String(30))


class BotMessage(IdMixin, Base):
    """Customer text is stored only after redaction; `redactions` names what was masked."""

    __tablename__ = "bot_messages"
    __table_args__ = (
        Index("ix_bot_messages_conversation_created", "conversation_id", "created_at"),
    )

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("bot_conversations.id", ondelete="CASCADE")
    )
    author: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(10))
    intent: Mapped[str | None] = mapped_column(String(40))
    confidence: Mapped[float | None] = mapped_column(Float)
    redactions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = ["Author", "BotMessage", "Conversation", "ConversationStatus"]
