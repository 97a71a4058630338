"""API shapes for chatting with the bot."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Length is checked by the service (a clear `message_too_long` problem), not here.
    text: str


class ConversationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = None
    language: str | None = Field(default=None, max_length=10)


class BotMessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    author: str
    body: str
    language: str
    intent: str | None
    confidence: float | None
    redactions: list[str]
    created_at: datetime


class HandoffOut(BaseModel):
    ticket_id: str
    reference: str
    queue: str
    priority: str
    reason: str | None


class ConversationOut(BaseModel):
    id: str
    status: str
    language: str
    intent: str | None
    handoff: HandoffOut | None
    messages: list[BotMessageOut]


class ExchangeOut(BaseModel):
    """What one message produced: the stored (redacted) message, the bot's replies (none once
    a person owns the ticket), safety warnings, and the handoff if there is one."""

    conversation_id: str
    status: str
    language: str
    intent: str | None
    confidence: float | None
    message: BotMessageOut
    replies: list[BotMessageOut]
    warnings: list[str]
    handoff: HandoffOut | None


class PublicAnswerOut(BaseModel):
    language: str
    intent: str
    confidence: float
    replies: list[str]
    warnings: list[str]
