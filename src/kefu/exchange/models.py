"""Tables of the demo exchange (`adapters/demo.py`), prefixed `exchange_demo_`.

These are the simulated exchange's own books, not kefu's: a real deployment with the http
adapter leaves them empty. Amounts and prices are stored as exact decimal strings
(`DecimalText`): the demo exchange never computes in SQL, and SQLite has no exact decimal type.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from kefu.core.clock import utcnow
from kefu.core.db import Base, IdMixin, JSONType


class DecimalText(TypeDecorator[Decimal]):
    """An exact `Decimal`, stored as its canonical string on every engine."""

    impl = String(64)
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            raise TypeError("amounts are Decimal, never float")
        return format(value, "f")

    def process_result_value(self, value: str | None, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


_ACCOUNT_FK = "exchange_demo_accounts.external_id"


class DemoAccount(Base):
    __tablename__ = "exchange_demo_accounts"

    external_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jurisdiction: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="active")
    frozen_scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    withdrawals_locked_until: Mapped[datetime | None]
    kyc_level: Mapped[int] = mapped_column(Integer, default=0)
    kyc_stage: Mapped[str] = mapped_column(String(20), default="not_started")
    kyc_submitted_at: Mapped[datetime | None]
    kyc_expected_by: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DemoBalance(IdMixin, Base):
    __tablename__ = "exchange_demo_balances"
    __table_args__ = (UniqueConstraint("external_id", "asset"),)

    external_id: Mapped[str] = mapped_column(ForeignKey(_ACCOUNT_FK, ondelete="CASCADE"))
    asset: Mapped[str] = mapped_column(String(16))
    available: Mapped[Decimal] = mapped_column(DecimalText())
    locked: Mapped[Decimal] = mapped_column(DecimalText())


class DemoDepositAddress(IdMixin, Base):
    __tablename__ = "exchange_demo_deposit_addresses"

    external_id: Mapped[str] = mapped_column(
        ForeignKey(_ACCOUNT_FK, ondelete="CASCADE"), index=True
    )
    asset: Mapped[str] = mapped_column(String(16))
    chain: Mapped[str] = mapped_column(String(32))
    address: Mapped[str] = mapped_column(String(128), index=True)
    memo: Mapped[str | None] = mapped_column(String(64))


class DemoTransfer(IdMixin, Base):
    """Deposits and withdrawals (`direction`)."""

    __tablename__ = "exchange_demo_transfers"
    __table_args__ = (Index("ix_exchange_demo_transfers_account", "external_id", "created_at"),)

    external_id: Mapped[str] = mapped_column(ForeignKey(_ACCOUNT_FK, ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(10))
    asset: Mapped[str] = mapped_column(String(16))
    chain: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(DecimalText())
    fee: Mapped[Decimal] = mapped_column(DecimalText())
    address: Mapped[str] = mapped_column(String(128))
    tx_hash: Mapped[str | None] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(16))
    confirmations: Mapped[int] = mapped_column(Integer, default=0)
    confirmations_required: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class DemoPosition(IdMixin, Base):
    __tablename__ = "exchange_demo_positions"

    external_id: Mapped[str] = mapped_column(
        ForeignKey(_ACCOUNT_FK, ondelete="CASCADE"), index=True
    )
    symbol: Mapped[str] = mapped_column(String(32))
    contract_type: Mapped[str] = mapped_column(String(10))
    margin_mode: Mapped[str] = mapped_column(String(10))
    side: Mapped[str] = mapped_column(String(5))
    leverage: Mapped[Decimal] = mapped_column(DecimalText())
    entry_price: Mapped[Decimal] = mapped_column(DecimalText())
    size: Mapped[Decimal] = mapped_column(DecimalText())
    contract_size: Mapped[Decimal] = mapped_column(DecimalText())
    margin: Mapped[Decimal] = mapped_column(DecimalText())
    margin_asset: Mapped[str] = mapped_column(String(16))
    mm_tier: Mapped[int] = mapped_column(Integer)
    mm_max_notional: Mapped[Decimal] = mapped_column(DecimalText())
    mm_rate: Mapped[Decimal] = mapped_column(DecimalText())
    mm_amount: Mapped[Decimal] = mapped_column(DecimalText())
    opened_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class DemoLiquidation(IdMixin, Base):
    __tablename__ = "exchange_demo_liquidations"

    position_id: Mapped[str] = mapped_column(
        ForeignKey("exchange_demo_positions.id", ondelete="CASCADE"), index=True
    )
    external_id: Mapped[str] = mapped_column(
        ForeignKey(_ACCOUNT_FK, ondelete="CASCADE"), index=True
    )
    triggered_at: Mapped[datetime]
    trigger_price: Mapped[Decimal] = mapped_column(DecimalText())
    liquidation_price: Mapped[Decimal] = mapped_column(DecimalText())
    mark_price: Mapped[Decimal] = mapped_column(DecimalText())
    fee: Mapped[Decimal] = mapped_column(DecimalText())


class DemoCandle(Base):
    """One-minute candles; coarser intervals are aggregated from these when read."""

    __tablename__ = "exchange_demo_candles"

    symbol: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    open_time: Mapped[datetime] = mapped_column(primary_key=True)
    open: Mapped[Decimal] = mapped_column(DecimalText())
    high: Mapped[Decimal] = mapped_column(DecimalText())
    low: Mapped[Decimal] = mapped_column(DecimalText())
    close: Mapped[Decimal] = mapped_column(DecimalText())
    volume: Mapped[Decimal] = mapped_column(DecimalText())


class DemoIncident(IdMixin, Base):
    __tablename__ = "exchange_demo_incidents"

    component: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]


class DemoLogin(IdMixin, Base):
    __tablename__ = "exchange_demo_logins"
    __table_args__ = (Index("ix_exchange_demo_logins_account", "external_id", "at"),)

    external_id: Mapped[str] = mapped_column(ForeignKey(_ACCOUNT_FK, ondelete="CASCADE"))
    at: Mapped[datetime]
    ip: Mapped[str] = mapped_column(String(45))
    device: Mapped[str] = mapped_column(String(120))
    country: Mapped[str] = mapped_column(String(2))
    result: Mapped[str] = mapped_column(String(20))


class DemoSession(IdMixin, Base):
    """A signed-in session on the exchange; a `sessions` freeze revokes them all."""

    __tablename__ = "exchange_demo_sessions"

    external_id: Mapped[str] = mapped_column(
        ForeignKey(_ACCOUNT_FK, ondelete="CASCADE"), index=True
    )
    device: Mapped[str] = mapped_column(String(120))
    ip: Mapped[str] = mapped_column(String(45))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class DemoApiKey(IdMixin, Base):
    __tablename__ = "exchange_demo_api_keys"

    external_id: Mapped[str] = mapped_column(
        ForeignKey(_ACCOUNT_FK, ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(80))
    permissions: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class DemoControl(IdMixin, Base):
    """A control request (freeze, unfreeze, reset, lock, payout) by its idempotency key, with
    the first response, replayed for retries."""

    __tablename__ = "exchange_demo_controls"

    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    operation: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    response: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DemoPayout(IdMixin, Base):
    __tablename__ = "exchange_demo_payouts"

    external_id: Mapped[str] = mapped_column(
        ForeignKey(_ACCOUNT_FK, ondelete="CASCADE"), index=True
    )
    asset: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(DecimalText())
    reason: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
