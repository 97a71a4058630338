"""Liquidation price and margin ratio against the exchanges' published worked examples."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import pytest

from kefu.core.errors import KefuError
from kefu.disputes.formulas import (
    Bracket,
    InvalidPosition,
    PositionInputs,
    UnknownContractType,
    UnknownMarginMode,
    bracket_for,
    brackets_with_amounts,
    liquidation_price,
    liquidation_price_at,
    margin_ratio,
)

CENT = D("0.01")


def _linear(**kw: object) -> PositionInputs:
    base: dict[str, object] = {
        "contract_type": "linear",
        "margin_mode": "isolated",
        "side": "long",
        "size": D("1"),
        "entry_price": D("100"),
        "leverage": D("10"),
        "margin": D("10"),
    }
    base.update(kw)
    return PositionInputs(**base)  # type: ignore[arg-type]


# Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts"
# (binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93), cross margin, one-way mode:
# WB 1,535,443.01 USDT; ETHUSDT long 3,683.979 at 1,456.84, MMR 10 %, cumB 135,365.00, with
# TMM1 71,200.81144 and UPNL1 −56,354.57 from the BTCUSDT position → LP 1,153.26; and BTCUSDT
# long 109.488 at 32,481.98, MMR 2.5 %, cumB 16,300, TMM1 356,512.508, UPNL1 −448,192.89 →
# LP 26,316.89.
BINANCE_USDM_CROSS = [
    ("3683.979", "1456.84", "0.10", "135365.00", "71200.81144", "-56354.57", "1153.26"),
    ("109.488", "32481.980", "0.025", "16300.000", "356512.508", "-448192.89", "26316.89"),
]


@pytest.mark.parametrize(("qty", "ep", "mmr", "cum", "tmm", "upnl", "expected"), BINANCE_USDM_CROSS)
def test_binance_usdm_cross_worked_example(
    qty: str, ep: str, mmr: str, cum: str, tmm: str, upnl: str, expected: str
) -> None:
    pos = _linear(
        margin_mode="cross",
        size=D(qty),
        entry_price=D(ep),
        margin=D(0),
        wallet_balance=D("1535443.01"),
        other_maintenance=D(tmm),
        other_unrealised=D(upnl),
    )
    price = liquidation_price_at(pos, D(mmr), D(cum))
    assert price is not None
    assert price.quantize(CENT) == D(expected)


# The same FAQ: "if it is an isolated margin mode, then TMM = 0, UPNL = 0" and WB is the
# isolated wallet balance. The two positions with the same balance then liquidate at 1,114.78
# and 18,778.73 (the isolated variant freqtrade's test suite also checks against Binance).
BINANCE_USDM_ISOLATED = [
    ("3683.979", "1456.84", "0.10", "135365.00", "1114.78"),
    ("109.488", "32481.980", "0.025", "16300.000", "18778.73"),
]


@pytest.mark.parametrize(("qty", "ep", "mmr", "cum", "expected"), BINANCE_USDM_ISOLATED)
def test_binance_usdm_isolated_worked_example(
    qty: str, ep: str, mmr: str, cum: str, expected: str
) -> None:
    pos = _linear(size=D(qty), entry_price=D(ep), margin=D("1535443.01"))
    price = liquidation_price_at(pos, D(mmr), D(cum))
    assert price is not None
    assert price.quantize(CENT) == D(expected)
    # At the liquidation price the margin ratio is exactly 100 %.
    assert margin_ratio(pos, price, [Bracket(1, D("1e12"), D(mmr), D(cum))]).quantize(
        D("0.000001")
    ) == D("1.000000")


def test_binance_coinm_maintenance_amount_rule() -> None:
    # Binance FAQ "How to Calculate Liquidation Price of COIN-M Futures Contracts"
    # (binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46): "the BTCUSD Maintenance
    # Amount on Level 5 = 50 BTC × (5 % − 2.5 %) + 0.56 BTC = 1.81 BTC".
    level4 = Bracket(4, D(50), D("0.025"), D("0.56"))
    level5_cum = D(50) * (D("0.05") - level4.rate) + level4.maintenance_amount
    assert level5_cum == D("1.81")
    # The same rule applied to a whole table keeps the maintenance margin continuous.
    table = brackets_with_amounts([(D(5), D("0.004")), (D(10), D("0.005")), (D(20), D("0.01"))])
    assert [b.maintenance_amount for b in table] == [D(0), D("0.005"), D("0.055")]
    for low, high in itertools.pairwise(table):
        at_cap = low.max_notional
        assert at_cap * low.rate - low.maintenance_amount == (
            at_cap * high.rate - high.maintenance_amount
        )


def _inverse(**kw: object) -> PositionInputs:
    base: dict[str, object] = {
        "contract_type": "inverse",
        "margin_mode": "isolated",
        "side": "long",
        "size": D("100"),
        "contract_size": D("100"),
        "entry_price": D("40000"),
        "leverage": D("10"),
        "margin": D("0.025"),  # 10,000 USD / 40,000 / 10
    }
    base.update(kw)
    return PositionInputs(**base)  # type: ignore[arg-type]


def test_inverse_isolated_matches_the_closed_form() -> None:
    # Binance COIN-M FAQ formula with TMM = UPNL = 0 reduces, for margin = N/(EP·L), to
    # long LP = EP·L·(1 + mmr)/(L + 1) and short LP = EP·L·(1 − mmr)/(L − 1); OKX's published
    # isolated coin-margined estimate "(1 + mmr + fee) / (1/EP + margin/(face value × qty))"
    # is the same equation with the taker fee added to the rate.
    mmr = D("0.004")
    long = liquidation_price_at(_inverse(), mmr)
    short = liquidation_price_at(_inverse(side="short"), mmr)
    assert long is not None and short is not None
    assert long.quantize(CENT) == (D(40000) * 10 * (1 + mmr) / 11).quantize(CENT)  # 36,509.09
    assert short.quantize(CENT) == (D(40000) * 10 * (1 - mmr) / 9).quantize(CENT)  # 44,266.67
    okx_fee = D("0.0005")
    with_fee = liquidation_price_at(_inverse(fee_rate=okx_fee), mmr)
    okx = (1 + mmr + okx_fee) / (1 / D(40000) + D("0.025") / (D(100) * D(100)))
    assert with_fee is not None and with_fee.quantize(CENT) == okx.quantize(CENT)


def test_inverse_cross_uses_the_wallet_balance() -> None:
    pos = _inverse(margin_mode="cross", margin=D(0), wallet_balance=D("0.05"))
    isolated_equivalent = _inverse(margin=D("0.05"))
    assert liquidation_price_at(pos, D("0.004")) == liquidation_price_at(
        isolated_equivalent, D("0.004")
    )
    bracket = [Bracket(1, D(1000), D("0.004"))]
    price = liquidation_price(pos, bracket)
    assert price is not None
    assert margin_ratio(pos, price, bracket).quantize(D("0.000001")) == D("1.000000")


def test_okx_linear_fee_moves_the_price_towards_entry() -> None:
    # OKX: liquidation when margin ratio ≤ maintenance margin ratio + taker fee rate.
    # Long: LP = (margin − Q·EP) / (Q·(mmr + fee − 1)).
    no_fee = liquidation_price_at(_linear(), D("0.004"))
    fee = liquidation_price_at(_linear(fee_rate=D("0.0005")), D("0.004"))
    assert no_fee is not None and fee is not None
    assert fee == (D(10) - D(100)) / (D("0.0045") - 1)
    assert no_fee < fee < D(100)


@pytest.mark.parametrize("contract", ["linear", "inverse"])
@pytest.mark.parametrize("mode", ["isolated", "cross"])
@pytest.mark.parametrize("side", ["long", "short"])
def test_margin_ratio_reaches_one_at_the_liquidation_price(
    contract: str, mode: str, side: str
) -> None:
    maker = _linear if contract == "linear" else _inverse
    pos = maker(
        margin_mode=mode,
        side=side,
        wallet_balance=D("12") if contract == "linear" else D("0.03"),
        other_maintenance=D("1") if contract == "linear" else D("0.001"),
        other_unrealised=D("-0.5") if contract == "linear" else D("-0.0005"),
        fee_rate=D("0.0005"),
    )
    brackets = brackets_with_amounts([(D("50"), D("0.004")), (D("1e9"), D("0.01"))])
    price = liquidation_price(pos, brackets)
    assert price is not None
    assert margin_ratio(pos, price, brackets).quantize(D("0.000001")) == D("1.000000")
    entry_ratio = margin_ratio(pos, pos.entry_price, brackets)
    assert entry_ratio < 1


def test_tiered_bracket_is_the_one_at_the_liquidation_price() -> None:
    # A long whose value at entry is in tier 2 but at the liquidation price in tier 1.
    brackets = brackets_with_amounts([(D("95"), D("0.004")), (D("1e9"), D("0.05"))])
    pos = _linear()  # notional 100 at entry → tier 2
    assert bracket_for(brackets, pos.notional(pos.entry_price)).tier == 2
    price = liquidation_price(pos, brackets)
    assert price is not None
    assert bracket_for(brackets, pos.notional(price)).tier == 1
    assert price == liquidation_price_at(pos, D("0.004"), D(0))


def test_an_over_collateralised_long_has_no_liquidation_price() -> None:
    pos = _linear(margin=D("200"))
    assert liquidation_price(pos, [Bracket(1, D("1e9"), D("0.004"))]) is None


@pytest.mark.parametrize(
    ("kw", "error", "code"),
    [
        ({"size": D(0)}, InvalidPosition, "invalid_position"),
        ({"leverage": D(-5)}, InvalidPosition, "invalid_position"),
        ({"entry_price": D(0)}, InvalidPosition, "invalid_position"),
        ({"contract_type": "quanto"}, UnknownContractType, "unknown_contract_type"),
        ({"margin_mode": "portfolio"}, UnknownMarginMode, "unknown_margin_mode"),
        ({"margin_mode": "cross"}, InvalidPosition, "invalid_position"),  # no wallet balance
    ],
)
def test_bad_inputs_give_clear_errors(
    kw: dict[str, object], error: type[KefuError], code: str
) -> None:
    with pytest.raises(error) as caught:
        _linear(**kw)
    assert caught.value.code == code
    assert caught.value.status == 400


def test_brackets_must_rise() -> None:
    with pytest.raises(InvalidPosition):
        brackets_with_amounts([(D(10), D("0.01")), (D(5), D("0.02"))])
    with pytest.raises(InvalidPosition):
        bracket_for([], D(1))
