"""The disputes API's request and response bodies."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kefu.exchange.port import Amount


class AccountIn(BaseModel):
    """Cross margin only: the account's numbers at the trigger, from the exchange's back office
    (Binance's WB, TMM1, UPNL1). Amounts are decimal strings in the margin asset."""

    model_config = ConfigDict(extra="forbid")

    wallet_balance: Amount | None = None
    other_maintenance: Amount = Decimal(0)
    other_unrealised: Amount = Decimal(0)


class DisputeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ticket_id: str = Field(min_length=1, max_length=36)
    liquidation_id: str = Field(min_length=1, max_length=64)
    # OKX-style: the taker fee to close, added to the maintenance rate (0 for Binance).
    fee_rate: Amount = Field(default=Decimal(0), ge=0, lt=Decimal("0.1"))
    # The exchange's convention: Binance and OKX value the maintenance margin at the price
    # itself ("mark") and add the fee on that value ("liquidation"); Bybit values it at the
    # entry price ("entry") and reserves the fee at the bankruptcy price ("bankruptcy").
    maintenance_basis: Literal["mark", "entry"] = "mark"
    fee_basis: Literal["liquidation", "bankruptcy"] = "liquidation"
    account: AccountIn | None = None
    # Also post the short summary to the customer (the full report is always an internal note).
    send_summary: bool = False


class DisputeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    ticket_id: str
    customer_id: str
    liquidation_id: str
    verdict: str
    language: str
    escalated: bool
    note_message_id: str | None
    summary_message_id: str | None
    created_by: str
    created_at: datetime
    report: str
    summary: str
    chart_url: str
    analysis: dict[str, Any]
