"""A liquidation and its market, built from the exchange port's own models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

from kefu.disputes.service import Gathered
from kefu.exchange.port import (
    Candle,
    CandleInterval,
    CandleKind,
    Incident,
    Liquidation,
    MaintenanceTier,
    Position,
)

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TRIGGER = T0 + timedelta(minutes=10, seconds=20)
WINDOW = 15


def position(**kw: object) -> Position:
    # Long 0.5 BTC at 91,000, 20x, isolated margin 2,275: LP = (2275 − 45500)/(0.002 − 0.5)
    # = 86,797.19 (tier 1: 0.4 %, no maintenance amount).
    base: dict[str, object] = {
        "id": "pos-1",
        "symbol": "BTCUSDT",
        "contract_type": "linear",
        "margin_mode": "isolated",
        "side": "long",
        "leverage": D(20),
        "entry_price": D(91000),
        "size": D("0.5"),
        "margin": D(2275),
        "margin_asset": "USDT",
        "maintenance": MaintenanceTier(
            tier=1, max_notional=D(50000), maintenance_margin_rate=D("0.004")
        ),
        "opened_at": T0 - timedelta(hours=5),
    }
    base.update(kw)
    return Position.model_validate(base)


def liquidation(pos: Position | None = None, **kw: object) -> Liquidation:
    base: dict[str, object] = {
        "id": "liq-1",
        "position": pos or position(),
        "triggered_at": TRIGGER,
        "trigger_price": D("86790"),
        "liquidation_price": D("86797.19"),
        "mark_price": D("86790"),
        "fee": D("10"),
    }
    base.update(kw)
    return Liquidation.model_validate(base)


def candle(kind: CandleKind, at: datetime, low: D, high: D) -> Candle:
    mid = (low + high) / 2
    return Candle(
        symbol="BTCUSDT",
        kind=kind,
        interval=CandleInterval.M1,
        open_time=at,
        open=mid,
        high=high,
        low=low,
        close=mid,
        volume=D(1),
    )


def market(
    liq: Liquidation,
    *,
    wick_at: int | None = None,
    drop_minutes: tuple[int, ...] = (),
    incidents: list[Incident] | None = None,
) -> Gathered:
    """Candles on every minute of the window: prices drift down from 87,600 and the mark
    reaches 86,780 at the trigger minute; a wick drives the last price 3 % under the index."""
    trigger_minute = liq.triggered_at.replace(second=0)
    start = trigger_minute - timedelta(minutes=WINDOW)
    end = trigger_minute + timedelta(minutes=WINDOW + 1)
    candles: dict[CandleKind, list[Candle]] = {k: [] for k in CandleKind}
    minute, n = start, 0
    while minute < end:
        if n not in drop_minutes:
            if minute == trigger_minute:
                low, high = D(86780), D(86900)
            else:
                low = D(87600) - D(n * 10)
                high = low + D(150)
            for kind in CandleKind:
                k_low = low
                if kind == CandleKind.LAST and wick_at == n:
                    k_low = (low * D("0.97")).quantize(D("0.01"))
                candles[kind].append(candle(kind, minute, k_low, high))
        minute += timedelta(minutes=1)
        n += 1
    return Gathered(liq, candles, incidents or [], start, end)


def incident(start: datetime, minutes: int = 20) -> Incident:
    return Incident(
        id="inc-1",
        component="matching-engine",
        severity="major",
        title="Order matching delayed",
        description="Orders were matched up to 40 s late.",
        started_at=start,
        ended_at=start + timedelta(minutes=minutes),
    )
