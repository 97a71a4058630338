"""API shapes for identity documents and their reviews."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    kind: str
    content_type: str
    filename: str
    size: int
    sha256: str
    uploaded_at: datetime
    review_id: str | None


class ReviewStatusOut(BaseModel):
    """What a customer sees of their own review: its state, not the reviewer's notes."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    status: str
    submitted_at: datetime
    decided_at: datetime | None


class ReviewOut(BaseModel):
    """What a reviewer sees."""

    id: str
    customer_id: str
    status: str
    submitted_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reason: str | None
    documents: list[DocumentOut]


class DecisionIn(BaseModel):
    decision: Literal["approve", "reject"]
    reason: str | None = Field(default=None, max_length=2000)
