"""The demo exchange places its liquidations with closed forms solved for the entry price; the
published formulas must give back the recorded liquidation price from those positions."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kefu.disputes.formulas import Bracket, PositionInputs, liquidation_price
from kefu.exchange.demo_data import INVERSE_TIER, LINEAR_TIERS, inverse_entry_for, linear_entry_for


@pytest.mark.parametrize("long", [True, False])
@pytest.mark.parametrize(
    ("qty", "liq", "leverage"), [("0.8", "86812.85", "20"), ("0.3", "90000", "50")]
)
def test_demo_linear_isolated_positions_liquidate_where_recorded(
    long: bool, qty: str, liq: str, leverage: str
) -> None:
    tier = LINEAR_TIERS["BTCUSDT"][0]
    entry = linear_entry_for(D(liq), D(leverage), tier[2], tier[3], D(qty), long).quantize(
        D("0.01")
    )
    pos = PositionInputs(
        contract_type="linear",
        margin_mode="isolated",
        side="long" if long else "short",
        size=D(qty),
        entry_price=entry,
        leverage=D(leverage),
        margin=(D(qty) * entry / D(leverage)).quantize(D("0.01")),
    )
    price = liquidation_price(pos, [Bracket(*tier)])
    assert price is not None
    assert abs(price - D(liq)) / D(liq) < D("0.0005")


@pytest.mark.parametrize("long", [True, False])
def test_demo_inverse_isolated_positions_liquidate_where_recorded(long: bool) -> None:
    liq, leverage, contracts = D("87000"), D(10), D(250)
    entry = inverse_entry_for(liq, leverage, INVERSE_TIER[2], long).quantize(D("0.1"))
    pos = PositionInputs(
        contract_type="inverse",
        margin_mode="isolated",
        side="long" if long else "short",
        size=contracts,
        contract_size=D(100),
        entry_price=entry,
        leverage=leverage,
        margin=(contracts * 100 / (entry * leverage)).quantize(D("0.00000001")),
    )
    price = liquidation_price(pos, [Bracket(*INVERSE_TIER)])
    assert price is not None
    assert abs(price - liq) / liq < D("0.0005")
