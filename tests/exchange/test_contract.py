"""The port's contract, asserted identically for the demo adapter and for the http adapter
talking to the reference server over a real socket."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import anyio
import pytest
from sqlalchemy import Engine, select

from kefu.core.clock import clock
from kefu.core.db import session_factory
from kefu.exchange.errors import (
    AccountFrozen,
    ExchangeIdempotencyConflict,
    ExchangeInvalidRequest,
    InsufficientBalance,
    UnknownAccount,
    UnknownRecord,
    WithdrawalLocked,
)
from kefu.exchange.models import DemoApiKey, DemoPayout, DemoSession
from kefu.exchange.port import (
    AccountStatus,
    CandleInterval,
    CandleKind,
    CustomerSimulator,
    Exchange,
    FreezeScope,
    KycStage,
    TransferStatus,
    WithdrawalRequest,
)
from tests.exchange.conftest import BTC_TX, DEPOSIT_BTC, ETH_ADDR, T0, Books

pytestmark = pytest.mark.anyio

WITHDRAW_BTC = WithdrawalRequest(
    asset="BTC", chain="BTC", amount=Decimal("0.1"), address=DEPOSIT_BTC
)


class Both(Exchange, CustomerSimulator):  # type: ignore[misc]
    """Typing only: both adapters offer the port and the simulated customer."""


async def test_reads(exchange: Both, books: Books) -> None:
    assert isinstance(exchange, Exchange) and isinstance(exchange, CustomerSimulator)
    account = await exchange.get_account("acct-1")
    assert (account.external_id, account.status, account.jurisdiction) == (
        "acct-1",
        AccountStatus.ACTIVE,
        "SG",
    )
    assert account.frozen_scopes == [] and account.created_at.tzinfo is not None

    kyc = await exchange.get_kyc("acct-1")
    assert (kyc.level, kyc.stage) == (2, KycStage.APPROVED)

    balances = {b.asset: b for b in await exchange.list_balances("acct-1")}
    assert balances["BTC"].available == Decimal("1.5")
    assert balances["USDT"].available == Decimal("250.5")
    assert all(isinstance(b.available, Decimal) for b in balances.values())

    addresses = await exchange.list_deposit_addresses("acct-1")
    assert {(a.asset, a.address) for a in addresses} == {("BTC", DEPOSIT_BTC), ("ETH", ETH_ADDR)}

    deposits = await exchange.list_deposits("acct-1")
    assert [d.asset for d in deposits] == ["BTC", "ETH"]  # newest first
    assert deposits[0].tx_hash == BTC_TX
    assert (deposits[0].confirmations, deposits[0].confirmations_required) == (1, 2)
    assert [d.asset for d in await exchange.list_deposits("acct-1", asset="ETH")] == ["ETH"]
    recent = await exchange.list_deposits("acct-1", since=T0 - timedelta(hours=1))
    assert [d.tx_hash for d in recent] == [BTC_TX]

    (withdrawal,) = await exchange.list_withdrawals("acct-1")
    # 18 decimal places survive both adapters exactly.
    assert withdrawal.amount == Decimal("1.000000000000000001")
    assert withdrawal.fee == Decimal("0.0015")

    (position,) = await exchange.list_positions("acct-1")
    assert (position.contract_type, position.margin_mode, position.leverage) == (
        "linear",
        "isolated",
        Decimal(20),
    )
    assert position.maintenance.maintenance_margin_rate == Decimal("0.004")
    # The symbol's whole table travels with the position (Binance's BTCUSDT-style brackets).
    assert [(t.tier, t.max_notional, t.maintenance_amount) for t in position.maintenance_tiers] == [
        (1, Decimal(50_000), Decimal(0)),
        (2, Decimal(600_000), Decimal(50)),
        (3, Decimal(3_000_000), Decimal(3_050)),
    ]

    (liquidation,) = await exchange.list_liquidations("acct-1")
    assert liquidation.id == books.liquidation_id
    assert liquidation.position.id == position.id
    assert liquidation.liquidation_price == Decimal("86812.85")
    assert await exchange.get_liquidation(books.liquidation_id) == liquidation

    (login,) = await exchange.list_logins("acct-1")
    assert (login.ip, login.country, login.result) == ("203.0.113.7", "SG", "success")
    (key,) = await exchange.list_api_keys("acct-1")
    assert key.permissions == ["read", "trade"] and key.revoked_at is None


async def test_candles_one_minute_and_aggregated(exchange: Both, books: Books) -> None:
    end = T0 + timedelta(minutes=10)
    ones = await exchange.list_candles("BTCUSDT", CandleKind.LAST, CandleInterval.M1, T0, end)
    assert len(ones) == 10
    assert ones[3].low == Decimal(87000 - 3 - 900)  # the wick
    fives = await exchange.list_candles("BTCUSDT", CandleKind.LAST, CandleInterval.M5, T0, end)
    assert [c.open_time for c in fives] == [T0, T0 + timedelta(minutes=5)]
    first = fives[0]
    assert (first.open, first.close) == (Decimal(87100), Decimal(87046))
    assert (first.high, first.low) == (Decimal(87200), Decimal(86097))
    assert first.volume == Decimal("7.5")
    index = await exchange.list_candles("BTCUSDT", CandleKind.INDEX, CandleInterval.H1, T0, end)
    assert len(index) == 1 and index[0].low == Decimal(86991)
    with pytest.raises(ExchangeInvalidRequest):
        await exchange.list_candles("BTCUSDT", CandleKind.LAST, CandleInterval.M1, end, T0)
    with pytest.raises(ExchangeInvalidRequest):  # too many candles in one request
        await exchange.list_candles(
            "BTCUSDT", CandleKind.LAST, CandleInterval.M1, T0, T0 + timedelta(days=30)
        )


async def test_incidents_overlapping_a_window(exchange: Both, books: Books) -> None:
    found = await exchange.list_incidents(T0, T0 + timedelta(minutes=10))
    assert [i.title for i in found] == ["Order latency"]
    assert found[0].severity == "major"


async def test_unknown_account_and_record(exchange: Both, books: Books) -> None:
    with pytest.raises(UnknownAccount) as caught:
        await exchange.get_account("nobody")
    assert caught.value.status == 404 and caught.value.code == "exchange_unknown_account"
    with pytest.raises(UnknownAccount):
        await exchange.list_balances("nobody")
    with pytest.raises(UnknownAccount):
        await exchange.freeze("nobody", frozenset({FreezeScope.ALL}), "test", "k-unknown")
    with pytest.raises(UnknownRecord):
        await exchange.get_liquidation("no-such-liquidation")


async def test_freeze_refuses_withdrawal_until_unfrozen(
    exchange: Both, books: Books, engine: Engine
) -> None:
    first = await exchange.request_withdrawal("acct-1", WITHDRAW_BTC)
    assert first.status == TransferStatus.PENDING and first.fee == Decimal("0.0002")

    frozen = await exchange.freeze(
        "acct-1",
        frozenset({FreezeScope.WITHDRAWALS, FreezeScope.SESSIONS, FreezeScope.API_KEYS}),
        "customer reports a stolen phone",
        "freeze-1",
    )
    assert frozen.account.status == AccountStatus.FROZEN
    assert set(frozen.account.frozen_scopes) == {"withdrawals", "sessions", "api_keys"}
    assert (frozen.sessions_revoked, frozen.api_keys_revoked) == (2, 1)
    with session_factory(engine)() as s:
        assert all(x.revoked_at for x in s.scalars(select(DemoSession)))
        assert all(k.revoked_at for k in s.scalars(select(DemoApiKey)))
    assert (await exchange.list_api_keys("acct-1"))[0].revoked_at is not None

    with pytest.raises(AccountFrozen) as caught:
        await exchange.request_withdrawal("acct-1", WITHDRAW_BTC)
    assert caught.value.status == 423

    # A retry of the same freeze replays it; the same key for another request is refused.
    again = await exchange.freeze(
        "acct-1",
        frozenset({FreezeScope.WITHDRAWALS, FreezeScope.SESSIONS, FreezeScope.API_KEYS}),
        "customer reports a stolen phone",
        "freeze-1",
    )
    assert again == frozen
    with pytest.raises(ExchangeIdempotencyConflict):
        await exchange.freeze("acct-1", frozenset({FreezeScope.ALL}), "other", "freeze-1")

    partly = await exchange.unfreeze(
        "acct-1", frozenset({FreezeScope.SESSIONS}), "verified", "unfreeze-1"
    )
    assert set(partly.frozen_scopes) == {"withdrawals", "api_keys"}
    with pytest.raises(AccountFrozen):
        await exchange.request_withdrawal("acct-1", WITHDRAW_BTC)
    lifted = await exchange.unfreeze(
        "acct-1",
        frozenset({FreezeScope.WITHDRAWALS, FreezeScope.API_KEYS}),
        "verified",
        "unfreeze-2",
    )
    assert lifted.status == AccountStatus.ACTIVE and lifted.frozen_scopes == []
    assert (await exchange.request_withdrawal("acct-1", WITHDRAW_BTC)).amount == Decimal("0.1")
    btc = next(b for b in await exchange.list_balances("acct-1") if b.asset == "BTC")
    assert btc.available == Decimal("1.5") - 2 * Decimal("0.1002")
    assert btc.locked == 2 * Decimal("0.1002")


async def test_freeze_all_then_unfreeze_one_scope(exchange: Both, books: Books) -> None:
    await exchange.freeze("acct-2", frozenset({FreezeScope.ALL}), "report", "f-all")
    account = await exchange.unfreeze(
        "acct-2", frozenset({FreezeScope.TRADING}), "partial", "u-trading"
    )
    assert set(account.frozen_scopes) == {"withdrawals", "api_keys", "sessions"}
    assert account.status == AccountStatus.FROZEN


async def test_withdrawal_lock_and_password_reset(exchange: Both, books: Books) -> None:
    locked = await exchange.lock_withdrawals("acct-1", 48, "new device", "lock-1")
    assert locked.withdrawals_locked_until is not None
    with pytest.raises(WithdrawalLocked):
        await exchange.request_withdrawal("acct-1", WITHDRAW_BTC)
    reset = await exchange.trigger_password_reset("acct-2", "customer asked", "reset-1")
    assert reset.withdrawals_locked_until is not None
    assert await exchange.trigger_password_reset("acct-2", "customer asked", "reset-1") == reset
    with pytest.raises(ExchangeInvalidRequest):
        await exchange.lock_withdrawals("acct-1", 0, "bad", "lock-2")


async def test_withdrawal_needs_funds(exchange: Both, books: Books) -> None:
    big = WITHDRAW_BTC.model_copy(update={"amount": Decimal("1.4999")})
    with pytest.raises(InsufficientBalance):
        await exchange.request_withdrawal("acct-1", big)
    with pytest.raises(InsufficientBalance):
        await exchange.request_withdrawal("acct-2", WITHDRAW_BTC)


async def test_payout_paid_exactly_once_under_retries(
    exchange: Both, books: Books, engine: Engine
) -> None:
    results = []

    async def pay() -> None:
        results.append(
            await exchange.request_payout(
                "acct-2", "USDT", Decimal("125.50"), "compensation case 42", "payout-42"
            )
        )

    async with anyio.create_task_group() as tg:  # concurrent retries race on the key
        for _ in range(4):
            tg.start_soon(pay)
    await pay()  # and a late one
    assert len({p.id for p in results}) == 1
    assert results[0].amount == Decimal("125.50") and results[0].asset == "USDT"
    (usdt,) = await exchange.list_balances("acct-2")
    assert usdt.available == Decimal("125.50")
    with session_factory(engine)() as s:
        assert len(s.scalars(select(DemoPayout)).all()) == 1

    with pytest.raises(ExchangeIdempotencyConflict):
        await exchange.request_payout("acct-2", "USDT", Decimal("999"), "other", "payout-42")
    with pytest.raises(ExchangeInvalidRequest):
        await exchange.request_payout("acct-2", "USDT", Decimal(0), "zero", "payout-0")
    with pytest.raises(ExchangeInvalidRequest):
        await exchange.request_payout("acct-2", "usdt!", Decimal(1), "asset", "payout-x")


async def test_freeze_needs_a_scope(exchange: Both, books: Books) -> None:
    with pytest.raises(ExchangeInvalidRequest):
        await exchange.freeze("acct-1", frozenset(), "no scope", "f-empty")


async def test_controls_use_the_exchange_clock(exchange: Both, books: Books) -> None:
    clock.freeze(T0)
    # (The reference server runs in this process, so it shares the frozen clock.)
    locked = await exchange.lock_withdrawals("acct-1", 2, "test", "lock-clock")
    assert locked.withdrawals_locked_until == T0 + timedelta(hours=2)
