"""API shapes of the chat: what the exchange's app shows to let a customer check a code."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class AgentIdentityOut(BaseModel):
    name: str
    handle: str


class ConversationSummaryOut(BaseModel):
    conversation_id: str
    verification_code: str
    status: str
    started_at: datetime
    last_activity_at: datetime
    ticket_reference: str | None
    agent: AgentIdentityOut | None


class ConversationListOut(BaseModel):
    items: list[ConversationSummaryOut]


class CodeCheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(max_length=32)


class CodeCheckOut(BaseModel):
    """`genuine` False: no chat of yours has this code — whoever showed it is not us."""

    genuine: bool
    conversation: ConversationSummaryOut | None
