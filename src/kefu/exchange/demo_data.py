"""Believable books for the demo exchange: accounts for the demo customers (same external
ids), KYC states, balances, BTC and ETH deposits and withdrawals with well-formed addresses and
tx hashes, futures positions and liquidations, three days of one-minute candles with a couple
of wicks, incidents, login history, sessions and API keys.

Deterministic for a given `now` (a seeded RNG), idempotent (accounts that exist are left
alone), and quick: rows go in with bulk inserts.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core.db import Base
from kefu.core.ids import new_id
from kefu.exchange.adapters.demo import CONFIRMATIONS, WITHDRAWAL_FEES
from kefu.exchange.addresses import eip55, segwit_v0_address
from kefu.exchange.demo_tiers import INVERSE_TIER, LINEAR_TIERS
from kefu.exchange.models import (
    DemoAccount,
    DemoApiKey,
    DemoBalance,
    DemoCandle,
    DemoDepositAddress,
    DemoIncident,
    DemoLiquidation,
    DemoLogin,
    DemoPosition,
    DemoSession,
    DemoTransfer,
)

SEED = 20260104
CANDLE_DAYS = 3
START_PRICES = {"BTCUSDT": Decimal(91_250), "ETHUSDT": Decimal(3_040)}
DEVICES = (
    "iPhone 15 Pro · iOS 18.1 · app 6.12.0",
    "Pixel 8 · Android 15 · app 6.12.0",
    "Chrome 131 · Windows 11",
    "Safari 18 · macOS 15",
    "Firefox 133 · Ubuntu 24.04",
    "Huawei Mate 60 · HarmonyOS 4 · app 6.11.2",
)
# Documentation address blocks (RFC 5737): real-looking, nobody's real address.
IP_BLOCKS = ("192.0.2.", "198.51.100.", "203.0.113.")
ZERO = Decimal(0)


def _q(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _hex(rng: random.Random, n_bytes: int) -> str:
    return rng.randbytes(n_bytes).hex()


def btc_address(rng: random.Random) -> str:
    return segwit_v0_address(rng.randbytes(20))


def eth_address(rng: random.Random) -> str:
    return eip55(rng.randbytes(20))


def tx_hash(rng: random.Random, chain: str) -> str:
    return ("0x" if chain == "ETH" else "") + _hex(rng, 32)


@dataclass(frozen=True)
class DemoAccountSpec:
    external_id: str
    jurisdiction: str


def open_demo_account(
    session: Session,
    external_id: str,
    jurisdiction: str = "SG",
    *,
    created_at: datetime,
    balances: dict[str, Decimal] | None = None,
    kyc_level: int = 2,
    kyc_stage: str = "approved",
) -> DemoAccount:
    """One account with balances: what tests and the seed start from."""
    account = DemoAccount(
        external_id=external_id,
        jurisdiction=jurisdiction,
        status="active",
        frozen_scopes=[],
        kyc_level=kyc_level,
        kyc_stage=kyc_stage,
        kyc_submitted_at=created_at + timedelta(hours=1),
        created_at=created_at,
    )
    session.add(account)
    session.flush()
    for asset, amount in (balances or {}).items():
        session.add(
            DemoBalance(external_id=external_id, asset=asset, available=amount, locked=Decimal(0))
        )
    session.flush()
    return account


# --- candles ---------------------------------------------------------------------------------


@dataclass
class _Wick:
    at: datetime
    depth: Decimal  # fraction below (negative: above) the index price the last price reached


def _candles(
    rng: random.Random, symbol: str, start: datetime, minutes: int, wicks: Sequence[_Wick]
) -> tuple[list[dict[str, Any]], dict[datetime, tuple[Decimal, Decimal]]]:
    """Index as a random walk; mark a hair off index; last around index, with wicks.
    Returns the rows and, per minute, (mark low, mark high) for placing liquidations."""
    rows: list[dict[str, Any]] = []
    marks: dict[datetime, tuple[Decimal, Decimal]] = {}
    price = float(START_PRICES[symbol])
    wick_at = {w.at: w.depth for w in wicks}
    for i in range(minutes):
        at = start + timedelta(minutes=i)
        drift = rng.gauss(0, 0.0009)
        o = price
        c = price * (1 + drift)
        hi = max(o, c) * (1 + abs(rng.gauss(0, 0.0004)))
        lo = min(o, c) * (1 - abs(rng.gauss(0, 0.0004)))
        price = c
        volume = abs(rng.gauss(40 if symbol == "BTCUSDT" else 600, 15))
        basis = rng.gauss(0, 0.00015)
        for kind in ("index", "mark", "last"):
            shift = 1.0 if kind == "index" else 1 + basis if kind == "mark" else 1 + basis * 1.5
            ko, kc, kh, kl = o * shift, c * shift, hi * shift, lo * shift
            if kind == "last" and at in wick_at:
                depth = float(wick_at[at])
                if depth > 0:
                    kl = min(kl, lo * (1 - depth))
                else:
                    kh = max(kh, hi * (1 - depth))
            if kind == "mark" and at in wick_at:
                # The mark price follows the wick only a little: a fraction of the depth.
                depth = float(wick_at[at]) * 0.18
                if depth > 0:
                    kl = min(kl, lo * (1 - depth))
                else:
                    kh = max(kh, hi * (1 - depth))
            row: dict[str, Any] = {
                "symbol": symbol,
                "kind": kind,
                "open_time": at,
                "open": Decimal(f"{ko:.2f}"),
                "high": Decimal(f"{kh:.2f}"),
                "low": Decimal(f"{kl:.2f}"),
                "close": Decimal(f"{kc:.2f}"),
                "volume": Decimal(f"{volume:.3f}") if kind == "last" else ZERO,
            }
            rows.append(row)
            if kind == "mark":
                marks[at] = (row["low"], row["high"])
    return rows, marks


# --- positions and liquidations -------------------------------------------------------------


def _tier(symbol: str, notional: Decimal) -> tuple[int, Decimal, Decimal, Decimal]:
    for tier in LINEAR_TIERS[symbol]:
        if notional <= tier[1]:
            return tier
    return LINEAR_TIERS[symbol][-1]


def linear_entry_for(
    liq: Decimal, leverage: Decimal, rate: Decimal, amount: Decimal, qty: Decimal, long: bool
) -> Decimal:
    """The entry price whose isolated linear position liquidates at `liq`.
    Long:  liq = (entry·(1 − 1/L) − cum/q) / (1 − mmr)
    Short: liq = (entry·(1 + 1/L) + cum/q) / (1 + mmr)"""
    if long:
        return (liq * (1 - rate) + amount / qty) / (1 - 1 / leverage)
    return (liq * (1 + rate) - amount / qty) / (1 + 1 / leverage)


def inverse_entry_for(liq: Decimal, leverage: Decimal, rate: Decimal, long: bool) -> Decimal:
    """Isolated inverse (coin-margined), solved for the entry price:
    long liq = entry·L·(1 + mmr)/(L + 1), short liq = entry·L·(1 − mmr)/(L − 1)."""
    if long:
        return liq * (leverage + 1) / (leverage * (1 + rate))
    return liq * (leverage - 1) / (leverage * (1 - rate))


def seed_exchange(
    session: Session,
    accounts: Iterable[DemoAccountSpec],
    now: datetime,
    *,
    rng: random.Random | None = None,
) -> str:
    """Fill the demo exchange for `accounts`; a second run adds nothing. Returns a summary."""
    rng = rng or random.Random(SEED)
    specs = list(accounts)
    existing = set(session.scalars(select(DemoAccount.external_id)))
    specs = [s for s in specs if s.external_id not in existing]
    if not specs:
        return "Demo exchange already seeded; nothing created."
    now = now.replace(second=0, microsecond=0)
    candle_start = now - timedelta(days=CANDLE_DAYS)
    minutes = CANDLE_DAYS * 24 * 60

    rows: dict[type, list[dict[str, Any]]] = {}

    def add(model: type, **values: Any) -> dict[str, Any]:
        values.setdefault("id", new_id()) if model is not DemoAccount else None
        rows.setdefault(model, []).append(values)
        return values

    # Two wicks on BTCUSDT, one on ETHUSDT, where the liquidations below happen.
    btc_wicks = [
        _Wick(candle_start + timedelta(hours=19, minutes=37), Decimal("0.052")),
        _Wick(candle_start + timedelta(hours=51, minutes=12), Decimal("-0.031")),
    ]
    eth_wicks = [_Wick(candle_start + timedelta(hours=33, minutes=4), Decimal("0.067"))]
    have_candles = session.scalar(select(DemoCandle.symbol).limit(1)) is not None
    marks: dict[str, dict[datetime, tuple[Decimal, Decimal]]] = {}
    for symbol, wicks in (("BTCUSDT", btc_wicks), ("ETHUSDT", eth_wicks)):
        candle_rows, marks[symbol] = _candles(rng, symbol, candle_start, minutes, wicks)
        if not have_candles:
            rows[DemoCandle] = rows.get(DemoCandle, []) + candle_rows

    if session.scalar(select(DemoIncident.id).limit(1)) is None:
        for offset, hours, component, severity, title, description in (
            (
                btc_wicks[0].at - candle_start - timedelta(minutes=6),
                timedelta(minutes=41),
                "matching-engine",
                "major",
                "Futures order latency",
                "Order placement and cancellation on USDT-margined futures were delayed by up "
                "to 9 seconds. Mark price and liquidation engine were not affected.",
            ),
            (
                timedelta(hours=40),
                timedelta(hours=3, minutes=20),
                "wallet-eth",
                "minor",
                "ETH and ERC-20 withdrawals delayed",
                "Withdrawals on Ethereum were queued while a hot-wallet node resynced.",
            ),
            (
                -timedelta(days=9, hours=4),
                timedelta(minutes=25),
                "api-gateway",
                "major",
                "REST API errors",
                "About 12% of REST API requests returned HTTP 502; WebSocket streams were up.",
            ),
            (
                -timedelta(days=20),
                timedelta(hours=1),
                "futures",
                "minor",
                "Scheduled maintenance: futures settlement",
                "Planned upgrade of the futures settlement service; trading was paused.",
            ),
        ):
            started = candle_start + offset
            add(
                DemoIncident,
                component=component,
                severity=severity,
                title=title,
                description=description,
                started_at=started,
                ended_at=started + hours,
            )

    liquidation_slots = [
        ("BTCUSDT", btc_wicks[0].at, True, "isolated", "linear"),
        ("BTCUSDT", btc_wicks[1].at, False, "cross", "linear"),
        ("ETHUSDT", eth_wicks[0].at, True, "isolated", "linear"),
        ("BTCUSDT", candle_start + timedelta(hours=62, minutes=45), True, "isolated", "inverse"),
    ]
    for number, spec in enumerate(specs):
        created = now - timedelta(days=rng.randint(120, 900), minutes=rng.randint(0, 1440))
        kyc_roll = rng.random()
        if kyc_roll < 0.75:
            level, stage, submitted = 2, "approved", created + timedelta(hours=3)
            expected = None
        elif kyc_roll < 0.9:
            level, stage = 1, "under_review"
            submitted = now - timedelta(hours=rng.randint(6, 60))
            expected = submitted + timedelta(hours=72)
        elif kyc_roll < 0.96:
            level, stage = 1, "submitted"
            submitted = now - timedelta(hours=rng.randint(1, 5))
            expected = submitted + timedelta(hours=72)
        else:
            level, stage, submitted, expected = 0, "rejected", created + timedelta(days=1), None
        add(
            DemoAccount,
            external_id=spec.external_id,
            jurisdiction=spec.jurisdiction,
            status="active",
            frozen_scopes=[],
            withdrawals_locked_until=None,
            kyc_level=level,
            kyc_stage=stage,
            kyc_submitted_at=submitted,
            kyc_expected_by=expected,
            created_at=created,
        )
        ext = spec.external_id
        add(
            DemoBalance,
            external_id=ext,
            asset="BTC",
            available=_q(Decimal(rng.uniform(0.002, 2.5)), "0.00000001"),
            locked=Decimal(0),
        )
        add(
            DemoBalance,
            external_id=ext,
            asset="ETH",
            available=_q(Decimal(rng.uniform(0.05, 30)), "0.000001"),
            locked=Decimal(0),
        )
        add(
            DemoBalance,
            external_id=ext,
            asset="USDT",
            available=_q(Decimal(rng.uniform(50, 60_000)), "0.01"),
            locked=_q(Decimal(rng.uniform(0, 2_000)), "0.01"),
        )
        own = {"BTC": btc_address(rng), "ETH": eth_address(rng)}
        add(
            DemoDepositAddress,
            external_id=ext,
            asset="BTC",
            chain="BTC",
            address=own["BTC"],
            memo=None,
        )
        add(
            DemoDepositAddress,
            external_id=ext,
            asset="ETH",
            chain="ETH",
            address=own["ETH"],
            memo=None,
        )
        add(
            DemoDepositAddress,
            external_id=ext,
            asset="USDT",
            chain="ETH",
            address=own["ETH"],
            memo=None,
        )

        # Deposits: mostly credited; the newest one of some accounts still confirming.
        for i in range(rng.randint(2, 6)):
            asset = rng.choice(("BTC", "BTC", "ETH", "USDT"))
            chain = "BTC" if asset == "BTC" else "ETH"
            at = now - timedelta(days=rng.uniform(0.1, 60))
            required = CONFIRMATIONS[asset]
            confirming = i == 0 and rng.random() < 0.3
            at = now - timedelta(minutes=rng.randint(8, 50)) if confirming else at
            confirmations = (
                rng.randint(0, required - 1) if confirming else required + rng.randint(0, 400)
            )
            amount = {
                "BTC": _q(Decimal(rng.uniform(0.001, 1.2)), "0.00000001"),
                "ETH": _q(Decimal(rng.uniform(0.02, 12)), "0.000001"),
                "USDT": _q(Decimal(rng.uniform(20, 25_000)), "0.01"),
            }[asset]
            add(
                DemoTransfer,
                external_id=ext,
                direction="deposit",
                asset=asset,
                chain=chain,
                amount=amount,
                fee=Decimal(0),
                address=own[chain],
                tx_hash=tx_hash(rng, chain),
                status="confirming" if confirming else "completed",
                confirmations=confirmations,
                confirmations_required=required,
                created_at=at,
                completed_at=None if confirming else at + timedelta(minutes=rng.randint(12, 70)),
            )
        # Withdrawals to addresses outside the exchange.
        for i in range(rng.randint(0, 4)):
            asset = rng.choice(("BTC", "ETH", "USDT"))
            chain = "BTC" if asset == "BTC" else "ETH"
            pending = i == 0 and rng.random() < 0.2
            at = (
                now - timedelta(minutes=rng.randint(3, 30))
                if pending
                else now - timedelta(days=rng.uniform(0.2, 45))
            )
            amount = {
                "BTC": _q(Decimal(rng.uniform(0.001, 0.8)), "0.00000001"),
                "ETH": _q(Decimal(rng.uniform(0.02, 8)), "0.000001"),
                "USDT": _q(Decimal(rng.uniform(20, 15_000)), "0.01"),
            }[asset]
            required = CONFIRMATIONS[asset]
            add(
                DemoTransfer,
                external_id=ext,
                direction="withdrawal",
                asset=asset,
                chain=chain,
                amount=amount,
                fee=WITHDRAWAL_FEES[asset],
                address=btc_address(rng) if chain == "BTC" else eth_address(rng),
                tx_hash=None if pending else tx_hash(rng, chain),
                status="pending" if pending else "completed",
                confirmations=0 if pending else required + rng.randint(0, 300),
                confirmations_required=required,
                created_at=at,
                completed_at=None if pending else at + timedelta(minutes=rng.randint(5, 90)),
            )

        # Login history, live sessions and API keys.
        home = spec.jurisdiction if spec.jurisdiction != "XX" else "SG"
        home_ip = rng.choice(IP_BLOCKS) + str(rng.randint(2, 254))
        devices = rng.sample(DEVICES, 2)
        for _ in range(rng.randint(4, 14)):
            add(
                DemoLogin,
                external_id=ext,
                at=now - timedelta(days=rng.uniform(0, 30)),
                ip=home_ip,
                device=rng.choice(devices),
                country=home,
                result="success" if rng.random() < 0.92 else "failed_2fa",
            )
        if number % 9 == 4:  # someone abroad guessing the password, then getting in
            stranger = rng.choice(IP_BLOCKS) + str(rng.randint(2, 254))
            when = now - timedelta(hours=rng.randint(3, 40))
            for k in range(3):
                add(
                    DemoLogin,
                    external_id=ext,
                    at=when + timedelta(minutes=k),
                    ip=stranger,
                    device="Chrome 120 · Windows 10",
                    country="NL",
                    result="failed_password" if k < 2 else "success",
                )
        for device in devices[: rng.randint(1, 2)]:
            add(
                DemoSession,
                external_id=ext,
                device=device,
                ip=home_ip,
                created_at=now - timedelta(days=rng.uniform(0, 6)),
                revoked_at=None,
            )
        for label, permissions in rng.sample(
            (
                ("trading bot", ["read", "trade"]),
                ("tax export", ["read"]),
                ("portfolio tracker", ["read"]),
                ("treasury sweep", ["read", "trade", "withdraw"]),
            ),
            rng.choice((0, 0, 1, 1, 2)),
        ):
            made = now - timedelta(days=rng.uniform(5, 300))
            add(
                DemoApiKey,
                external_id=ext,
                label=label,
                permissions=permissions,
                created_at=made,
                last_used_at=now - timedelta(hours=rng.uniform(0, 100)),
                revoked_at=None,
            )

        # Futures: open positions for some, and the liquidations at the wicks for a few.
        if number % 4 == 1:
            symbol = rng.choice(("BTCUSDT", "ETHUSDT"))
            price = START_PRICES[symbol]
            leverage = Decimal(rng.choice((3, 5, 10, 20)))
            qty = _q(
                Decimal(rng.uniform(0.01, 1.5))
                * (Decimal(30) if symbol == "ETHUSDT" else Decimal(1)),
                "0.001",
            )
            tier = _tier(symbol, qty * price)
            add(
                DemoPosition,
                external_id=ext,
                symbol=symbol,
                contract_type="linear",
                margin_mode=rng.choice(("isolated", "cross")),
                side=rng.choice(("long", "short")),
                leverage=leverage,
                entry_price=_q(price * Decimal(rng.uniform(0.97, 1.03)), "0.01"),
                size=qty,
                contract_size=Decimal(1),
                margin=_q(qty * price / leverage, "0.01"),
                margin_asset="USDT",
                mm_tier=tier[0],
                mm_max_notional=tier[1],
                mm_rate=tier[2],
                mm_amount=tier[3],
                opened_at=now - timedelta(days=rng.uniform(0.5, 20)),
                closed_at=None,
            )
        if number < len(liquidation_slots) * 3 and number % 3 == 2:
            symbol, at, long, mode, contract = liquidation_slots[number // 3]
            mark_low, mark_high = marks[symbol][at]
            trigger = mark_low if long else mark_high
            liq = _q(trigger * (Decimal("1.0004") if long else Decimal("0.9996")), "0.01")
            leverage = Decimal((20, 25, 50, 10)[number // 3])
            opened = at - timedelta(hours=rng.randint(2, 30))
            if contract == "linear":
                qty = _q(
                    Decimal(rng.uniform(0.2, 1.2))
                    * (Decimal(25) if symbol == "ETHUSDT" else Decimal(1)),
                    "0.001",
                )
                rough_entry = liq
                tier = _tier(symbol, qty * rough_entry)
                entry = _q(linear_entry_for(liq, leverage, tier[2], tier[3], qty, long), "0.01")
                tier = _tier(symbol, qty * entry)
                margin = _q(qty * entry / leverage, "0.01")
                size, contract_size, margin_asset, symbol_out = qty, Decimal(1), "USDT", symbol
            else:
                tier = INVERSE_TIER
                entry = _q(inverse_entry_for(liq, leverage, tier[2], long), "0.1")
                size, contract_size = Decimal(rng.randint(50, 400)), Decimal(100)
                margin = _q(size * contract_size / (entry * leverage), "0.00000001")
                margin_asset, symbol_out = "BTC", "BTCUSD"
            position = add(
                DemoPosition,
                external_id=ext,
                symbol=symbol_out,
                contract_type=contract,
                margin_mode=mode,
                side="long" if long else "short",
                leverage=leverage,
                entry_price=entry,
                size=size,
                contract_size=contract_size,
                margin=margin,
                margin_asset=margin_asset,
                mm_tier=tier[0],
                mm_max_notional=tier[1],
                mm_rate=tier[2],
                mm_amount=tier[3],
                opened_at=opened,
                closed_at=at,
            )
            add(
                DemoLiquidation,
                position_id=position["id"],
                external_id=ext,
                triggered_at=at + timedelta(seconds=rng.randint(5, 55)),
                trigger_price=trigger,
                liquidation_price=liq,
                mark_price=trigger,
                fee=_q(margin * Decimal("0.05"), "0.00000001"),
            )

    order = (
        DemoAccount,
        DemoBalance,
        DemoDepositAddress,
        DemoTransfer,
        DemoPosition,
        DemoLiquidation,
        DemoCandle,
        DemoIncident,
        DemoLogin,
        DemoSession,
        DemoApiKey,
    )
    for model in order:
        batch = rows.get(model, [])
        table = Base.metadata.tables[model.__tablename__]
        for start in range(0, len(batch), 5000):
            # Core executemany: the ORM's bulk path costs more than the rows themselves here.
            session.execute(table.insert(), batch[start : start + 5000])
    session.flush()
    counts = {m.__tablename__: len(rows.get(m, [])) for m in order}
    return "Demo exchange: " + ", ".join(
        f"{n} {name.removeprefix('exchange_demo_')}" for name, n in counts.items() if n
    )
