"""Agent API over the exchange port: a customer's exchange data, read for support work.

Each read needs `exchange.read` and writes an audit entry naming the customer and what was
read. Routes are sync (FastAPI runs them in a worker thread) and call the async port with
`anyio.from_thread.run`. The request's own transaction is committed before the exchange is
called: on SQLite the demo exchange lives in the same database file, and the request's open
write transaction would otherwise block it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

import anyio.from_thread
from fastapi import APIRouter, Depends, Query, Request

from kefu.audit.service import record
from kefu.core.web import DbSession
from kefu.exchange import service
from kefu.exchange.port import (
    Account,
    ApiKey,
    Balance,
    Candle,
    CandleInterval,
    CandleKind,
    DepositAddress,
    Exchange,
    Incident,
    KycState,
    Liquidation,
    LoginEvent,
    Position,
    Transfer,
    UtcTime,
)
from kefu.identity import service as identity
from kefu.identity.deps import Principal, require
from kefu.identity.permissions import Permission

router = APIRouter(prefix="/api/v1", tags=["exchange"])

T = TypeVar("T")
Reader = Annotated[Principal, Depends(require(Permission.EXCHANGE_READ))]
Since = Annotated[UtcTime | None, Query(description="RFC 3339 time with an offset")]
Asset = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9]{2,12}$")]
TxHash = Annotated[str | None, Query(max_length=80)]


def _exchange(request: Request) -> Exchange:
    exchange: Exchange = request.app.state.exchange
    return exchange


ExchangeDep = Annotated[Exchange, Depends(_exchange)]


def _read(
    db: DbSession,
    principal: Principal,
    customer_id: str,
    what: str,
    fetch: Callable[[str], Coroutine[Any, Any, T]],
    **details: Any,
) -> T:
    customer = identity.get_customer(db, customer_id)
    external_id = customer.external_id
    db.commit()  # see the module docstring: release the database before the exchange runs
    result: T = anyio.from_thread.run(fetch, external_id)
    record(
        db,
        principal.actor,
        f"exchange.{what}_read",
        subject_type="customer",
        subject_id=customer_id,
        data={k: v for k, v in details.items() if v is not None},
    )
    return result


_BASE = "/customers/{customer_id}/exchange"


@router.get(f"{_BASE}/account", response_model=Account)
def account(customer_id: str, db: DbSession, principal: Reader, ex: ExchangeDep) -> Account:
    return _read(db, principal, customer_id, "account", ex.get_account)


@router.get(f"{_BASE}/kyc", response_model=KycState)
def kyc(customer_id: str, db: DbSession, principal: Reader, ex: ExchangeDep) -> KycState:
    return _read(db, principal, customer_id, "kyc", ex.get_kyc)


@router.get(f"{_BASE}/balances", response_model=list[Balance])
def balances(customer_id: str, db: DbSession, principal: Reader, ex: ExchangeDep) -> list[Balance]:
    return _read(db, principal, customer_id, "balances", ex.list_balances)


@router.get(f"{_BASE}/deposit-addresses", response_model=list[DepositAddress])
def deposit_addresses(
    customer_id: str, db: DbSession, principal: Reader, ex: ExchangeDep
) -> list[DepositAddress]:
    return _read(db, principal, customer_id, "deposit_addresses", ex.list_deposit_addresses)


@router.get(f"{_BASE}/deposits", response_model=list[Transfer])
def deposits(
    customer_id: str,
    db: DbSession,
    principal: Reader,
    ex: ExchangeDep,
    since: Since = None,
    asset: Asset = None,
) -> list[Transfer]:
    up = asset.upper() if asset else None

    async def fetch(external_id: str) -> list[Transfer]:
        return await ex.list_deposits(external_id, since=since, asset=up)

    return _read(db, principal, customer_id, "deposits", fetch, since=since, asset=up)


@router.get(f"{_BASE}/withdrawals", response_model=list[Transfer])
def withdrawals(
    customer_id: str,
    db: DbSession,
    principal: Reader,
    ex: ExchangeDep,
    since: Since = None,
    asset: Asset = None,
) -> list[Transfer]:
    up = asset.upper() if asset else None

    async def fetch(external_id: str) -> list[Transfer]:
        return await ex.list_withdrawals(external_id, since=since, asset=up)

    return _read(db, principal, customer_id, "withdrawals", fetch, since=since, asset=up)


@router.get(f"{_BASE}/positions", response_model=list[Position])
def positions(
    customer_id: str, db: DbSession, principal: Reader, ex: ExchangeDep
) -> list[Position]:
    return _read(db, principal, customer_id, "positions", ex.list_positions)


@router.get(f"{_BASE}/liquidations", response_model=list[Liquidation])
def liquidations(
    customer_id: str, db: DbSession, principal: Reader, ex: ExchangeDep, since: Since = None
) -> list[Liquidation]:
    async def fetch(external_id: str) -> list[Liquidation]:
        return await ex.list_liquidations(external_id, since=since)

    return _read(db, principal, customer_id, "liquidations", fetch, since=since)


@router.get(f"{_BASE}/logins", response_model=list[LoginEvent])
def logins(
    customer_id: str, db: DbSession, principal: Reader, ex: ExchangeDep, since: Since = None
) -> list[LoginEvent]:
    async def fetch(external_id: str) -> list[LoginEvent]:
        return await ex.list_logins(external_id, since=since)

    return _read(db, principal, customer_id, "logins", fetch, since=since)


@router.get(f"{_BASE}/api-keys", response_model=list[ApiKey])
def api_keys(customer_id: str, db: DbSession, principal: Reader, ex: ExchangeDep) -> list[ApiKey]:
    return _read(db, principal, customer_id, "api_keys", ex.list_api_keys)


@router.get(f"{_BASE}/deposit-status", response_model=service.DepositLookup)
def deposit_status(
    customer_id: str,
    db: DbSession,
    principal: Reader,
    ex: ExchangeDep,
    tx_hash: TxHash = None,
    asset: Asset = None,
) -> service.DepositLookup:
    """Deposit not credited: match by tx hash, or list the asset's deposits still pending."""

    async def fetch(external_id: str) -> service.DepositLookup:
        return await service.deposit_status(ex, external_id, tx_hash=tx_hash, asset=asset)

    return _read(db, principal, customer_id, "deposit_status", fetch, tx_hash=tx_hash, asset=asset)


@router.get(f"{_BASE}/withdrawal-status", response_model=service.WithdrawalLookup)
def withdrawal_status(
    customer_id: str,
    db: DbSession,
    principal: Reader,
    ex: ExchangeDep,
    withdrawal_id: Annotated[str | None, Query(max_length=64)] = None,
    tx_hash: TxHash = None,
    asset: Asset = None,
) -> service.WithdrawalLookup:
    async def fetch(external_id: str) -> service.WithdrawalLookup:
        return await service.withdrawal_status(
            ex, external_id, withdrawal_id=withdrawal_id, tx_hash=tx_hash, asset=asset
        )

    return _read(
        db,
        principal,
        customer_id,
        "withdrawal_status",
        fetch,
        withdrawal_id=withdrawal_id,
        tx_hash=tx_hash,
        asset=asset,
    )


@router.get("/exchange/incidents", response_model=list[Incident])
def incidents(
    _: Reader,
    db: DbSession,
    ex: ExchangeDep,
    start: Annotated[UtcTime, Query()],
    end: Annotated[UtcTime, Query()],
) -> list[Incident]:
    """The exchange's status timeline: incidents overlapping [start, end)."""
    db.commit()
    return anyio.from_thread.run(ex.list_incidents, start, end)


@router.get("/exchange/candles", response_model=list[Candle])
def candles(
    _: Reader,
    db: DbSession,
    ex: ExchangeDep,
    symbol: Annotated[str, Query(pattern=r"^[A-Z0-9]{2,32}$")],
    kind: CandleKind,
    interval: CandleInterval,
    start: Annotated[UtcTime, Query()],
    end: Annotated[UtcTime, Query()],
) -> list[Candle]:
    db.commit()
    return anyio.from_thread.run(ex.list_candles, symbol, kind, interval, start, end)
