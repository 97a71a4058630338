"""Request and response bodies of the security API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kefu.exchange.port import FreezeScope, UtcTime


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Agents name the customer; customers report their own account and leave it out.
    customer_id: str | None = Field(default=None, max_length=36)
    description: str = Field(default="", max_length=5000)
    # When the compromise may have started; default: KEFU_SECURITY_TRACE_HOURS before now.
    suspected_since: UtcTime | None = None
    include_trading: bool = False
    channel: Literal["api", "console", "bot", "email", "web"] = "api"


class FreezeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scopes: list[FreezeScope] = Field(default_factory=list, max_length=5)
    reason: str = Field(min_length=3, max_length=2000)


class UnfreezeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge_id: str | None = Field(default=None, max_length=36)
    reason: str = Field(min_length=3, max_length=2000)


class AssessmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    platform_fault: bool
    # {asset: decimal string}, e.g. {"BTC": "0.015"}; empty when not a fault.
    amounts: dict[str, str] = Field(default_factory=dict, max_length=20)
    reasoning: str = Field(min_length=3, max_length=10_000)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    code: str = Field(min_length=6, max_length=10)
    reason: str = Field(default="", max_length=2000)


class PayoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge_id: str | None = Field(default=None, max_length=36)


class CloseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolution: str = Field(min_length=3, max_length=5000)


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    kind: str
    actor_type: str
    actor_id: str | None
    note: str
    data: dict[str, Any]


class ApprovalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    approver_id: str
    approve: bool
    reason: str
    decided_at: datetime


class AssessmentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    case_id: str
    assessor_id: str
    platform_fault: bool
    amounts: dict[str, str]
    reasoning: str
    status: str
    created_at: datetime
    decided_at: datetime | None
    payout_challenge_id: str | None
    payouts: list[dict[str, Any]]
    paid_at: datetime | None
    approvals: list[ApprovalOut] = Field(default_factory=list)
    # What a `compensation.payout` challenge must be bound to.
    payout_payload: dict[str, Any] = Field(default_factory=dict)


class CaseSummaryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    customer_id: str
    ticket_id: str
    status: str
    channel: str
    reports: int
    freeze_state: str
    frozen_scopes: list[str]
    freeze_error: str | None
    suspected_since: datetime
    created_at: datetime
    frozen_at: datetime | None
    unfrozen_at: datetime | None
    closed_at: datetime | None


class CaseOut(CaseSummaryOut):
    description: str
    reported_by_type: str
    reported_by_id: str | None
    resolution: str | None
    trace: dict[str, Any]
    timeline: list[EventOut] = Field(default_factory=list)
    assessments: list[AssessmentOut] = Field(default_factory=list)
    # What an `account.unfreeze` challenge must be bound to.
    unfreeze_payload: dict[str, Any] = Field(default_factory=dict)


class ReportOut(BaseModel):
    """What the reporter learns: the case, whether it joined an open one, and the freeze."""

    case_id: str
    joined: bool
    ticket_id: str
    freeze_state: str
    frozen_scopes: list[str]
    created_at: datetime


class CustomerCaseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    status: str
    freeze_state: str
    frozen_scopes: list[str]
    created_at: datetime
    closed_at: datetime | None
