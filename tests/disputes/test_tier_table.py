"""The exchange's maintenance-margin table: the tier is chosen by the position's value at the
liquidation price (Binance, OKX), the report says which tier applied and why, and an exchange
that sends only the position's own tier still works (the port change is additive)."""

from __future__ import annotations

from decimal import Decimal as D

from kefu.disputes import report
from kefu.disputes.service import AccountInputs, analyse, recompute
from kefu.exchange.port import MaintenanceTier, Position
from tests.disputes.helpers import liquidation, market, position

CENT = D("0.01")
# Binance-style BTCUSDT brackets (continuous by Binance's cum rule), as the demo serves them.
TABLE = [
    MaintenanceTier(tier=1, max_notional=D(50_000), maintenance_margin_rate=D("0.004")),
    MaintenanceTier(
        tier=2,
        max_notional=D(600_000),
        maintenance_margin_rate=D("0.005"),
        maintenance_amount=D(50),
    ),
    MaintenanceTier(
        tier=3,
        max_notional=D(3_000_000),
        maintenance_margin_rate=D("0.01"),
        maintenance_amount=D(3_050),
    ),
]


def _crossing(**kw: object) -> Position:
    # Long 0.6 BTC at 91,000 (54,600 USDT: tier 2 at entry), 10x, margin 5,460: at the
    # liquidation price it is worth under 50,000 USDT, so tier 1 applies.
    base: dict[str, object] = {
        "size": D("0.6"),
        "leverage": D(10),
        "margin": D(5460),
        "maintenance": TABLE[1],
        "maintenance_tiers": TABLE,
    }
    base.update(kw)
    return position(**base)


def test_the_tier_at_the_liquidation_price_applies() -> None:
    liq = liquidation(_crossing(), liquidation_price=D("82228.92"))
    r = recompute(liq, AccountInputs())
    assert (r.tier_applied, r.tier_at_entry, r.tier_recorded, r.tier_source) == (1, 2, 2, "table")
    tier1 = (D(5460) - D(54600)) / (D("0.6") * D("0.004") - D("0.6"))
    assert r.liquidation_price is not None
    assert r.liquidation_price.quantize(CENT) == tier1.quantize(CENT) == D("82228.92")
    assert r.notional_at_liquidation is not None and r.notional_at_liquidation < 50_000
    assert (r.maintenance_rate, r.maintenance_amount) == (D("0.004"), D(0))


def test_the_report_says_which_tier_applied_and_why() -> None:
    liq = liquidation(_crossing(), liquidation_price=D("82228.92"))
    analysis = analyse(
        market(liq), account=None, wick_threshold=D("0.01"), price_tolerance=D("0.002")
    )
    en = report.tier_line(analysis, "en")
    assert "tier 1" in en.lower() and "50000.00 USDT" in en and "49337.35 USDT" in en
    assert "tier 2 at the entry price" in en and "recorded tier 2" in en
    zh = report.tier_line(analysis, "zh_CN")
    assert "档位" in zh and "49337.35" in zh
    assert en in report.full_report(analysis, "en")


def test_an_exchange_that_sends_only_the_positions_tier_still_works() -> None:
    """Backward compatible: a payload without `maintenance_tiers` parses (empty table) and the
    recorded tier is used, as before the table existed; the report says so."""
    payload = _crossing().model_dump(mode="json")
    del payload["maintenance_tiers"]
    legacy = Position.model_validate(payload)
    assert legacy.maintenance_tiers == []
    liq = liquidation(legacy, liquidation_price=D("82227.81"))
    r = recompute(liq, AccountInputs())
    assert (r.tier_applied, r.tier_source) == (2, "position")
    assert r.liquidation_price is not None and r.liquidation_price.quantize(CENT) == D("82227.81")
    analysis = analyse(
        market(liq), account=None, wick_threshold=D("0.01"), price_tolerance=D("0.002")
    )
    assert "no tier table" in report.tier_line(analysis, "en")


def test_a_table_sent_out_of_order_is_sorted_by_cap() -> None:
    liq = liquidation(
        _crossing(maintenance_tiers=list(reversed(TABLE))), liquidation_price=D("82228.92")
    )
    assert recompute(liq, AccountInputs()).tier_applied == 1
