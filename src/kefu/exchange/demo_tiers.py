"""The demo exchange's maintenance-margin tables, per symbol (tier, notional cap, rate,
maintenance amount), served whole with every position so the tier can be chosen by the
position's value at the liquidation price, as Binance and OKX do."""

from __future__ import annotations

from decimal import Decimal

# Maintenance-margin tiers (Binance-style: notional cap, rate, maintenance amount).
LINEAR_TIERS: dict[str, tuple[tuple[int, Decimal, Decimal, Decimal], ...]] = {
    "BTCUSDT": (
        (1, Decimal(50_000), Decimal("0.004"), Decimal(0)),
        (2, Decimal(600_000), Decimal("0.005"), Decimal(50)),
        (3, Decimal(3_000_000), Decimal("0.01"), Decimal(3_050)),
    ),
    "ETHUSDT": (
        (1, Decimal(50_000), Decimal("0.005"), Decimal(0)),
        (2, Decimal(600_000), Decimal("0.0065"), Decimal(75)),
        (3, Decimal(3_000_000), Decimal("0.01"), Decimal(2_175)),
    ),
}
# BTCUSD (notional in BTC): the levels whose maintenance amounts Binance's COIN-M FAQ quotes
# (300 BTC → 12.5 %, 11.605 BTC).
INVERSE_TIERS: dict[str, tuple[tuple[int, Decimal, Decimal, Decimal], ...]] = {
    "BTCUSD": (
        (1, Decimal(5), Decimal("0.004"), Decimal(0)),
        (2, Decimal(10), Decimal("0.005"), Decimal("0.005")),
        (3, Decimal(20), Decimal("0.01"), Decimal("0.055")),
        (4, Decimal(50), Decimal("0.025"), Decimal("0.355")),
        (5, Decimal(100), Decimal("0.05"), Decimal("1.605")),
        (6, Decimal(200), Decimal("0.10"), Decimal("6.605")),
        (7, Decimal(400), Decimal("0.125"), Decimal("11.605")),
    ),
}
INVERSE_TIER = INVERSE_TIERS["BTCUSD"][0]


def tier_table(symbol: str) -> tuple[tuple[int, Decimal, Decimal, Decimal], ...]:
    """The symbol's maintenance-margin table (empty for a symbol the demo does not list)."""
    return LINEAR_TIERS.get(symbol) or INVERSE_TIERS.get(symbol) or ()


__all__ = ["INVERSE_TIER", "INVERSE_TIERS", "LINEAR_TIERS", "tier_table"]
