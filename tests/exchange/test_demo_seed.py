"""The demo exchange's books: believable, well-formed, deterministic, idempotent, quick."""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import anyio
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kefu.exchange.adapters.demo import DemoExchange
from kefu.exchange.addresses import bech32_valid, eip55
from kefu.exchange.demo_data import DemoAccountSpec, seed_exchange
from kefu.exchange.models import (
    DemoAccount,
    DemoCandle,
    DemoDepositAddress,
    DemoIncident,
    DemoLiquidation,
    DemoTransfer,
)
from kefu.exchange.port import CandleInterval, CandleKind

NOW = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)
SPECS = [DemoAccountSpec(f"demo-{100001 + i}", ("SG", "DE", "HK", "US")[i % 4]) for i in range(24)]


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_seed_is_believable_and_idempotent(session: Session, engine: Engine) -> None:
    started = time.monotonic()
    summary = seed_exchange(session, SPECS, NOW, rng=random.Random(1))
    session.commit()
    print(f"seeded in {time.monotonic() - started:.2f}s: {summary}")
    assert time.monotonic() - started < 60
    assert "accounts" in summary

    accounts = session.scalars(select(DemoAccount)).all()
    assert {a.external_id for a in accounts} == {s.external_id for s in SPECS}
    assert {a.jurisdiction for a in accounts} == {"SG", "DE", "HK", "US"}
    assert len({a.kyc_stage for a in accounts}) >= 2

    transfers = session.scalars(select(DemoTransfer)).all()
    assert {t.asset for t in transfers} >= {"BTC", "ETH"}
    assert {t.direction for t in transfers} == {"deposit", "withdrawal"}
    for t in transfers:
        if t.tx_hash is not None:
            pattern = r"[0-9a-f]{64}" if t.chain == "BTC" else r"0x[0-9a-f]{64}"
            assert re.fullmatch(pattern, t.tx_hash), t.tx_hash
        if t.chain == "BTC":
            assert t.address.startswith("bc1q") and bech32_valid(t.address), t.address
        else:
            assert t.address == eip55(bytes.fromhex(t.address[2:])), t.address
    addresses = session.scalars(select(DemoDepositAddress)).all()
    assert all(bech32_valid(a.address) for a in addresses if a.chain == "BTC")

    liquidations = session.scalars(select(DemoLiquidation)).all()
    assert len(liquidations) >= 3
    candles = _count(session, DemoCandle)
    assert candles == 2 * 3 * 3 * 24 * 60  # two symbols, three kinds, three days of minutes
    assert _count(session, DemoIncident) >= 3

    # A liquidation sits on a wick: last fell far below index in that minute.
    session.commit()  # end this read (SQLite: one writer) before the exchange opens its own
    exchange = DemoExchange(engine)
    liquidation = min(liquidations, key=lambda x: x.triggered_at)
    minute = liquidation.triggered_at.replace(second=0)
    end = minute + timedelta(minutes=1)
    (last,) = anyio.run(
        exchange.list_candles, "BTCUSDT", CandleKind.LAST, CandleInterval.M1, minute, end
    )
    (index,) = anyio.run(
        exchange.list_candles, "BTCUSDT", CandleKind.INDEX, CandleInterval.M1, minute, end
    )
    assert last.low < index.low * Decimal("0.97")
    hourly = anyio.run(
        exchange.list_candles,
        "BTCUSDT",
        CandleKind.MARK,
        CandleInterval.H1,
        NOW - timedelta(days=1),
        NOW,
    )
    assert len(hourly) == 24

    before = {m: _count(session, m) for m in (DemoAccount, DemoTransfer, DemoCandle)}
    assert "nothing created" in seed_exchange(session, SPECS, NOW)
    assert {m: _count(session, m) for m in before} == before


def test_seed_is_deterministic(session: Session) -> None:
    seed_exchange(session, SPECS[:3], NOW, rng=random.Random(7))
    first = sorted(
        (t.external_id, t.asset, t.amount, t.tx_hash) for t in session.scalars(select(DemoTransfer))
    )
    session.rollback()
    seed_exchange(session, SPECS[:3], NOW, rng=random.Random(7))
    again = sorted(
        (t.external_id, t.asset, t.amount, t.tx_hash) for t in session.scalars(select(DemoTransfer))
    )
    assert first == again
