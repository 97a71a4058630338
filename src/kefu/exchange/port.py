"""The exchange port: what kefu reads from and asks of an exchange's back office.

Results are immutable Pydantic models. The same models are the wire format of the REST
contract (`contract/exchange-api.yaml`): amounts and prices are `Decimal` in Python and
strings on the wire (never floats), times are timezone-aware UTC (RFC 3339 on the wire).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Protocol, runtime_checkable

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from kefu.core.clock import as_utc


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("a timezone is required")
    return as_utc(value)


UtcTime = Annotated[datetime, AfterValidator(_utc)]


def _no_float(value: object) -> object:
    if isinstance(value, float):
        raise ValueError("amounts are decimal strings, never floats")
    return value


# Amounts and prices: exact decimals, written as strings on the wire so no float touches them.
Amount = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$", "examples": ["0.015"]}),
]


class PortModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class FreezeScope(StrEnum):
    WITHDRAWALS = "withdrawals"
    TRADING = "trading"
    API_KEYS = "api_keys"
    SESSIONS = "sessions"
    ALL = "all"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


class KycStage(StrEnum):
    NOT_STARTED = "not_started"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    APPROVED = "approved"
    REJECTED = "rejected"


class TransferStatus(StrEnum):
    PENDING = "pending"
    CONFIRMING = "confirming"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class ContractType(StrEnum):
    LINEAR = "linear"  # USDT-margined
    INVERSE = "inverse"  # coin-margined


class MarginMode(StrEnum):
    ISOLATED = "isolated"
    CROSS = "cross"


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"


class CandleKind(StrEnum):
    LAST = "last"
    MARK = "mark"
    INDEX = "index"


class CandleInterval(StrEnum):
    M1 = "1m"
    M5 = "5m"
    M15 = "15m"
    H1 = "1h"
    H4 = "4h"
    D1 = "1d"

    @property
    def minutes(self) -> int:
        return {"1m": 1, "5m": 5, "15m": 15, "1h": 60, "4h": 240, "1d": 1440}[self.value]


class IncidentSeverity(StrEnum):
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


class LoginResult(StrEnum):
    SUCCESS = "success"
    FAILED_PASSWORD = "failed_password"  # noqa: S105 - an outcome, not a secret
    FAILED_2FA = "failed_2fa"
    BLOCKED = "blocked"


class Account(PortModel):
    external_id: str
    status: AccountStatus
    frozen_scopes: list[FreezeScope] = Field(default_factory=list)
    jurisdiction: str = Field(description="ISO 3166-1 alpha-2")
    withdrawals_locked_until: UtcTime | None = None
    created_at: UtcTime


class KycState(PortModel):
    level: int = Field(ge=0, description="0 = none; higher levels unlock higher limits")
    stage: KycStage
    submitted_at: UtcTime | None = None
    expected_by: UtcTime | None = None


class Balance(PortModel):
    asset: str
    available: Amount
    locked: Amount


class DepositAddress(PortModel):
    asset: str
    chain: str
    address: str
    memo: str | None = None


class Transfer(PortModel):
    """A deposit or a withdrawal: one shape so the trace can list both."""

    id: str
    asset: str
    chain: str
    amount: Amount
    fee: Amount
    address: str
    tx_hash: str | None = None
    status: TransferStatus
    confirmations: int = Field(ge=0)
    confirmations_required: int = Field(ge=0)
    created_at: UtcTime
    completed_at: UtcTime | None = None


class MaintenanceTier(PortModel):
    """One tier of the exchange's maintenance-margin table."""

    # Positions worth up to `max_notional` (USDT for linear, coin for inverse) need
    # `maintenance_margin_rate` of their value less `maintenance_amount` (Binance's cum; 0
    # where the exchange has none).

    tier: int
    max_notional: Amount
    maintenance_margin_rate: Amount
    maintenance_amount: Amount = Decimal(0)


class Position(PortModel):
    id: str
    symbol: str
    contract_type: ContractType
    margin_mode: MarginMode
    side: PositionSide
    leverage: Amount
    entry_price: Amount
    size: Amount = Field(description="contracts (inverse) or base-asset quantity (linear)")
    contract_size: Amount = Field(
        default=Decimal(1), description="USD per contract (inverse) or 1 (linear)"
    )
    margin: Amount
    margin_asset: str
    maintenance: MaintenanceTier = Field(
        description="the tier the position fell in at opening, as the exchange recorded it"
    )
    maintenance_tiers: list[MaintenanceTier] = Field(
        default_factory=list,
        description=(
            "the symbol's whole maintenance-margin table, lowest tier first, so the tier can "
            "be chosen by the position's value at the liquidation price; empty when the "
            "exchange sends only the position's tier"
        ),
    )
    opened_at: UtcTime
    closed_at: UtcTime | None = None


class Liquidation(PortModel):
    id: str
    position: Position
    triggered_at: UtcTime
    trigger_price: Amount
    liquidation_price: Amount = Field(description="as the exchange recorded it")
    mark_price: Amount = Field(description="mark price at the trigger")
    fee: Amount = Decimal(0)


class Candle(PortModel):
    symbol: str
    kind: CandleKind
    interval: CandleInterval
    open_time: UtcTime
    open: Amount
    high: Amount
    low: Amount
    close: Amount
    volume: Amount


class Incident(PortModel):
    id: str
    component: str
    severity: IncidentSeverity
    title: str
    description: str
    started_at: UtcTime
    ended_at: UtcTime | None = None


class LoginEvent(PortModel):
    at: UtcTime
    ip: str
    device: str
    country: str
    result: LoginResult


class ApiKey(PortModel):
    id: str
    label: str
    permissions: list[str]
    created_at: UtcTime
    last_used_at: UtcTime | None = None
    revoked_at: UtcTime | None = None


class FreezeResult(PortModel):
    account: Account
    sessions_revoked: int = 0
    api_keys_revoked: int = 0


class PasswordReset(PortModel):
    id: str
    requested_at: UtcTime
    withdrawals_locked_until: UtcTime | None = None


class Payout(PortModel):
    id: str
    external_id: str
    asset: str
    amount: Amount
    reason: str
    status: str
    created_at: UtcTime


@runtime_checkable
class Exchange(Protocol):
    """The exchange's back office as kefu sees it. Every method may raise an `ExchangeError`.

    Controls take an idempotency key: repeating a call with the same key and the same request
    returns the first result and changes nothing more; the same key with a different request
    raises `ExchangeIdempotencyConflict`.
    """

    async def get_account(self, external_id: str) -> Account: ...

    async def get_kyc(self, external_id: str) -> KycState: ...

    async def list_balances(self, external_id: str) -> list[Balance]: ...

    async def list_deposit_addresses(self, external_id: str) -> list[DepositAddress]: ...

    async def list_deposits(
        self, external_id: str, *, since: datetime | None = None, asset: str | None = None
    ) -> list[Transfer]: ...

    async def list_withdrawals(
        self, external_id: str, *, since: datetime | None = None, asset: str | None = None
    ) -> list[Transfer]: ...

    async def list_positions(self, external_id: str) -> list[Position]: ...

    async def list_liquidations(
        self, external_id: str, *, since: datetime | None = None
    ) -> list[Liquidation]: ...

    async def get_liquidation(self, liquidation_id: str) -> Liquidation: ...

    async def list_candles(
        self,
        symbol: str,
        kind: CandleKind,
        interval: CandleInterval,
        start: datetime,
        end: datetime,
    ) -> list[Candle]: ...

    async def list_incidents(self, start: datetime, end: datetime) -> list[Incident]: ...

    async def list_logins(
        self, external_id: str, *, since: datetime | None = None
    ) -> list[LoginEvent]: ...

    async def list_api_keys(self, external_id: str) -> list[ApiKey]: ...

    async def freeze(
        self,
        external_id: str,
        scopes: frozenset[FreezeScope],
        reason: str,
        idempotency_key: str,
    ) -> FreezeResult: ...

    async def unfreeze(
        self,
        external_id: str,
        scopes: frozenset[FreezeScope],
        reason: str,
        idempotency_key: str,
    ) -> Account: ...

    async def trigger_password_reset(
        self, external_id: str, reason: str, idempotency_key: str
    ) -> PasswordReset: ...

    async def lock_withdrawals(
        self, external_id: str, hours: int, reason: str, idempotency_key: str
    ) -> Account: ...

    async def request_payout(
        self, external_id: str, asset: str, amount: Decimal, reason: str, idempotency_key: str
    ) -> Payout: ...


class WithdrawalRequest(PortModel):
    asset: str
    chain: str
    amount: Amount = Field(gt=0)
    address: str = Field(min_length=1, max_length=128)


@runtime_checkable
class CustomerSimulator(Protocol):
    """What the account's owner does on the exchange. kefu never calls this in production;
    the demo exchange and the reference server offer it so tests and demos can check that a
    freeze is really enforced."""

    async def request_withdrawal(
        self, external_id: str, request: WithdrawalRequest
    ) -> Transfer: ...
