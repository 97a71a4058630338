"""A chat is a bot conversation seen live: its durable, ordered event log, its
anti-impersonation code, and the public identity of the staff who answer in it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kefu.core.clock import utcnow
from kefu.core.db import Base, IdMixin


class ChatSession(Base):
    """One per chat conversation: the next sequence number and the verification code the
    customer can check in the exchange's app."""

    __tablename__ = "chat_sessions"
    __table_args__ = (Index("ix_chat_sessions_customer_created", "customer_id", "created_at"),)

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("bot_conversations.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id"))
    verification_code: Mapped[str] = mapped_column(String(16))
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    # The staff member answering now (the last agent who wrote), shown with the code.
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatEvent(IdMixin, Base):
    """One entry of a chat's log, numbered 1, 2, 3 ... per conversation. A customer message
    keeps the client's id: a resent message finds its first copy instead of a second one."""

    __tablename__ = "chat_events"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        UniqueConstraint("conversation_id", "client_id"),
    )

    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("chat_sessions.conversation_id", ondelete="CASCADE")
    )
    seq: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(20))  # customer, bot, agent, system
    body: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(String(64))
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id"))
    ticket_message_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SupportIdentity(Base):
    """How a staff member appears to customers: their display name and a public handle
    (never their email), so a customer can tell the real desk from an impostor."""

    __tablename__ = "support_identities"

    agent_id: Mapped[str] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    handle: Mapped[str] = mapped_column(String(40), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


__all__ = ["ChatEvent", "ChatSession", "SupportIdentity"]
