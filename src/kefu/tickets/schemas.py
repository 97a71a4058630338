"""API shapes for tickets, messages and their history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kefu.tickets.models import Category, Channel, MessageKind, Priority, Status, Ticket, Tier


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)
    category: Category = Category.OTHER
    priority: Priority = Priority.NORMAL
    channel: Channel = Channel.API
    asset_related: bool = False
    language: str | None = Field(default=None, max_length=10)
    tags: list[str] = Field(default_factory=list, max_length=20)
    # Required when an agent files on a customer's behalf; ignored for customers themselves.
    customer_id: str | None = None


class TicketOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    reference: str
    customer_id: str
    subject: str
    category: str
    priority: str
    status: str
    tier: str
    team: str
    queue: str
    language: str
    channel: str
    asset_related: bool
    assignee_id: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    first_responded_at: datetime | None
    solved_at: datetime | None
    closed_at: datetime | None

    @classmethod
    def of(cls, ticket: Ticket, tags: list[str] | None = None) -> TicketOut:
        """`tags`: the ticket's tag names when the caller already has them (a listed page)."""
        data: dict[str, Any] = {
            name: getattr(ticket, name) for name in cls.model_fields if name != "tags"
        }
        return cls(**data, tags=ticket.tag_names if tags is None else tags)


class TicketPage(BaseModel):
    items: list[TicketOut]
    next_before_id: str | None


class MessageCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=20_000)
    kind: MessageKind | None = None


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    ticket_id: str
    kind: str
    author_type: str
    author_id: str | None
    body: str
    created_at: datetime


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    at: datetime
    actor_type: str
    actor_id: str | None
    from_value: str | None
    to_value: str | None
    reason: str | None
    data: dict[str, Any]


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status
    reason: str | None = Field(default=None, max_length=2000)


class TierChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000)
    to_tier: Tier | None = None


class PriorityChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: Priority
    reason: str | None = Field(default=None, max_length=2000)


class Assignment(BaseModel):
    """Either a named agent, or `auto` for round-robin by load, or neither to unassign."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str | None = None
    auto: bool = False


class TagChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    add: list[str] = Field(default_factory=list, max_length=20)
    remove: list[str] = Field(default_factory=list, max_length=20)
