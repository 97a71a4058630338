"""The exchanges' own worked liquidation examples, reproduced within the rounding each source
uses. Every figure names where it comes from; the README's disputes section lists what is and
is not covered (OKX publishes formulas but no worked example with numbers).

Rounding: Binance's FAQ and freqtrade's copy round to cents; exchange calculators show the
price on the contract's tick (Binance COIN-M BTCUSD 0.1 USD, Bybit BTCUSD 0.5 USD), rounded
towards the entry for a long (the conservative side).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR
from decimal import Decimal as D

import pytest

from kefu.disputes.formulas import (
    Bracket,
    OtherPosition,
    PositionInputs,
    applied_bracket,
    bankruptcy_price,
    bracket_for,
    brackets_with_amounts,
    cross_account_terms,
    liquidation_price,
    maintenance_margin,
    margin_ratio,
)

CENT = D("0.01")
SIX = D("0.000001")


def _one(rate: str, amount: str = "0") -> list[Bracket]:
    return [Bracket(1, D("1e12"), D(rate), D(amount))]


def _at_one(pos: PositionInputs, price: D, brackets: list[Bracket]) -> None:
    """At its liquidation price a position's margin ratio is exactly 100 %."""
    assert margin_ratio(pos, price, brackets).quantize(SIX) == D("1.000000")


# --- Binance USDⓈ-M, cross margin, the other position counted from its own numbers ----------

# Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts"
# (https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93): one account,
# WB 1,535,443.01 USDT, long BTCUSDT 109.488 at 32,481.98 (mark 31,967.27, MMR 2.5 %,
# cum 16,300) and long ETHUSDT 3,683.979 at 1,456.84 (mark 1,335.18, MMR 10 %,
# cum 135,365) → LP(ETHUSDT) 1,153.26 and LP(BTCUSDT) 26,316.89. The positions, marks and
# expected prices as freqtrade copies them into its test suite:
# freqtrade/freqtrade tests/exchange/test_binance.py::test_liquidation_price_binance.
BTC = OtherPosition(
    "linear", "long", D("109.488"), D("32481.98"), D("31967.27"), _one("0.025", "16300")
)
ETH = OtherPosition(
    "linear", "long", D("3683.979"), D("1456.84"), D("1335.18"), _one("0.10", "135365")
)


@pytest.mark.parametrize(
    ("me", "other", "tmm1", "upnl1", "expected"),
    [
        (ETH, BTC, "71200.81", "-56354.57", "1153.26"),
        (BTC, ETH, "356512.51", "-448192.89", "26316.89"),
    ],
)
def test_binance_usdm_cross_counts_the_other_position(
    me: OtherPosition, other: OtherPosition, tmm1: str, upnl1: str, expected: str
) -> None:
    """TMM1 and UPNL1 are derived from the other position at its mark price (the FAQ's
    71,200.81144 / −56,354.57 and 356,512.508 / −448,192.89), then the FAQ's formula."""
    tmm, upnl = cross_account_terms([other])
    assert (tmm.quantize(CENT), upnl.quantize(CENT)) == (D(tmm1), D(upnl1))
    pos = PositionInputs(
        contract_type="linear",
        margin_mode="cross",
        side="long",
        size=me.quantity,
        entry_price=me.entry_price,
        leverage=D(5),
        margin=D(0),
        wallet_balance=D("1535443.01"),
        other_maintenance=tmm,
        other_unrealised=upnl,
    )
    price = liquidation_price(pos, list(me.brackets))
    assert price is not None and price.quantize(CENT) == D(expected)
    _at_one(pos, price, list(me.brackets))


# Binance's own bracket tables (GET /fapi/v1/leverageBracket: notional cap, maintMarginRatio,
# cum), as freqtrade records them in tests/exchange/test_binance.py::
# test_fill_leverage_tiers_binance. Binance's rule for cum reproduces every published amount.
BINANCE_TABLES = {
    "ADA/BUSD": (
        [(100_000, "0.025"), (500_000, "0.05"), (1_000_000, "0.1"), (2_000_000, "0.15"),
         (5_000_000, "0.25"), (30_000_000, "0.5")],
        ["0", "2500", "27500", "77500", "277500", "1527500"],
    ),
    "ZEC/USDT": (
        [(50_000, "0.01"), (150_000, "0.025"), (250_000, "0.05"), (500_000, "0.1"),
         (1_000_000, "0.125"), (2_000_000, "0.25"), (30_000_000, "0.5")],
        ["0", "750", "4500", "17000", "29500", "154500", "654500"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("symbol", sorted(BINANCE_TABLES))
def test_binance_published_maintenance_amounts(symbol: str) -> None:
    caps_and_rates, amounts = BINANCE_TABLES[symbol]
    table = brackets_with_amounts([(D(cap), D(rate)) for cap, rate in caps_and_rates])
    assert [b.maintenance_amount for b in table] == [D(a) for a in amounts]


# --- Binance COIN-M --------------------------------------------------------------------------

# Binance FAQ "How to Calculate Liquidation Price of COIN-M Futures Contracts"
# (https://www.binance.com/en/support/faq/ceccfcfb4e3a45e3b48b0b1bb1a8ae46), current text:
# "if the BTCUSD contract position is 300 BTC, the Maintenance Margin Rate would be 12.5 %"
# and "the Maintenance Amount would be 11.605 BTC". The BTCUSD levels below are the ones that
# produce exactly those figures with Binance's cum rule (levels 1–7 of the page's table).
BTCUSD = brackets_with_amounts(
    [
        (D(5), D("0.004")),
        (D(10), D("0.005")),
        (D(20), D("0.01")),
        (D(50), D("0.025")),
        (D(100), D("0.05")),
        (D(200), D("0.10")),
        (D(400), D("0.125")),
    ]
)


def test_binance_coinm_level_for_300_btc() -> None:
    level = bracket_for(BTCUSD, D(300))
    assert (level.tier, level.rate, level.maintenance_amount) == (7, D("0.125"), D("11.605"))


def test_binance_coinm_maintenance_margin_example() -> None:
    """The same FAQ: "100 BTCUSD Perpetual contracts, latest Mark Price 25,000: notional
    100 × 100 / 25,000 = 0.4 BTC, level 1: Maintenance Margin = 0.4 × 0.4 % − 0 = 0.0016 BTC"."""
    pos = PositionInputs(
        contract_type="inverse",
        margin_mode="isolated",
        side="long",
        size=D(100),
        contract_size=D(100),
        entry_price=D(25000),
        leverage=D(20),
        margin=D("0.02"),
    )
    assert pos.notional(D(25000)) == D("0.4")
    assert maintenance_margin(pos, D(25000), BTCUSD) == D("0.0016")


def test_binance_coinm_cross_calculator_figure() -> None:
    """Binance's futures calculator, quoted on Binance's developer forum
    (https://dev.binance.vision/t/coin-margined-futures-liquidation-price-calculation-help-
    cm-variable/6292): wallet 101 BTC, cross, long 100,000 BTCUSD contracts ($10,000,000) at
    45,000 → liquidation price 33,599.40. The position is worth 222.2 BTC at entry and 297.6
    BTC at the liquidation price: level 7 (12.5 %, 11.605 BTC) both times. The calculator
    shows the price on BTCUSD's 0.1 USD tick. The poster's own 33,578.86 is the same formula
    with the FAQ's older maintenance amount for that level (11.81 BTC, when level 4 was
    0.56 BTC): the difference is the table, not the formula."""
    pos = PositionInputs(
        contract_type="inverse",
        margin_mode="cross",
        side="long",
        size=D(100_000),
        contract_size=D(100),
        entry_price=D(45000),
        leverage=D(20),
        margin=D(0),
        wallet_balance=D(101),
    )
    bracket, price = applied_bracket(pos, BTCUSD)
    assert price is not None and bracket.tier == 7
    assert price.quantize(D("0.1"), rounding=ROUND_FLOOR) == D("33599.4")
    _at_one(pos, price, BTCUSD)
    older = liquidation_price(pos, [Bracket(7, D(400), D("0.125"), D("11.81"))])
    assert older is not None and older.quantize(CENT) == D("33578.86")


# --- Bybit (maintenance margin on the entry value) ------------------------------------------


@pytest.mark.parametrize(
    ("side", "entry", "leverage", "expected", "bankrupt"),
    [
        # Bybit help "Liquidation Price (USDT Contract)", current text
        # (https://testnet.bybit.com/en-US/help-center/s/article/Liquidation-Price-USDT-Contract):
        # long 1 BTC at 20,000 USDT, 50×, MMR 0.5 %: IM 400, MM 100, LP 19,700.
        ("long", "20000", "50", "19700", "19600"),
        # The earlier edition (https://help.bybit.com/hc/en-us/articles/900000181046):
        # long 1 BTC at 10,000, 50× → 10,000 × (1 − 2 % + 0.5 %) = 9,850 (bankruptcy 9,800,
        # "Bankruptcy Price (USDT Contract)"); short 1 BTC at 8,000, 40× → 8,160.
        ("long", "10000", "50", "9850", "9800"),
        ("short", "8000", "40", "8160", "8200"),
    ],
)
def test_bybit_usdt_isolated(
    side: str, entry: str, leverage: str, expected: str, bankrupt: str
) -> None:
    pos = PositionInputs(
        contract_type="linear",
        margin_mode="isolated",
        side=side,
        size=D(1),
        entry_price=D(entry),
        leverage=D(leverage),
        margin=D(entry) / D(leverage),
        maintenance_basis="entry",
    )
    assert liquidation_price(pos, _one("0.005")) == D(expected)
    assert bankruptcy_price(pos) == D(bankrupt)
    _at_one(pos, D(expected), _one("0.005"))


def test_bybit_usdt_cross_total_sustainable_loss() -> None:
    """Bybit "Liquidation Price (USDT Contract)", cross margin, example 1: long 2 BTC at
    10,000, available balance 2,000, IM 2 × 10,000 × 1 % = 200, MM 2 × 10,000 × 0.5 % = 100:
    "Total Sustainable Loss = Available Balance + Initial Margin − Maintenance Margin = 2,100
    USDT", i.e. the price may fall 2,100 / 2 BTC = 1,050 to 8,950."""
    pos = PositionInputs(
        contract_type="linear",
        margin_mode="cross",
        side="long",
        size=D(2),
        entry_price=D(10000),
        leverage=D(100),
        margin=D(200),
        wallet_balance=D(2000) + D(200),
        maintenance_basis="entry",
    )
    brackets = _one("0.005")
    assert pos.balance - maintenance_margin(pos, D(10000), brackets) == D(2100)
    assert liquidation_price(pos, brackets) == D(8950)


def test_bybit_inverse_cross_with_the_fee_at_bankruptcy() -> None:
    """Bybit "How to calculate Liquidation Price (Inverse Contract)"
    (https://help.bybit.com/hc/en-us/articles/360039261334): balance 0.5 BTC, cross, long
    10,000 contracts at 8,000, MMR 0.5 %, taker fee 0.075 % reserved at the bankruptcy price:
    "Bankruptcy Price = 1.00075 × 10,000 / (10,000/8,000 + 0.5) = 5,718.57" and
    "Liquidation Price = 5,739.50". Solving the page's own equation gives 5,739.08: the page
    shows it on BTCUSD's 0.5 USD tick, rounded up (towards the entry) for a long."""
    pos = PositionInputs(
        contract_type="inverse",
        margin_mode="cross",
        side="long",
        size=D(10000),
        entry_price=D(8000),
        leverage=D(1),
        margin=D(0),
        wallet_balance=D("0.5"),
        fee_rate=D("0.00075"),
        maintenance_basis="entry",
        fee_basis="bankruptcy",
    )
    bankrupt = bankruptcy_price(pos)
    assert bankrupt is not None and bankrupt.quantize(CENT) == D("5718.57")
    price = liquidation_price(pos, _one("0.005"))
    assert price is not None and price.quantize(CENT) == D("5739.08")
    tick = D("0.5")
    assert (price / tick).to_integral_value(rounding=ROUND_CEILING) * tick == D("5739.5")
    _at_one(pos, price, _one("0.005"))


@pytest.mark.parametrize("side", ["long", "short"])
def test_bybit_inverse_isolated_formula(side: str) -> None:
    """Bybit "Liquidation Price Calculation under Isolated Mode (Unified Trading Account)"
    (https://www.bybit.com/en/help-center/article/Liquidation-Price-Calculation-under-Isolated-
    Mode-Unified-Trading-Account): 60,000 USD of BTCUSD at 50,000, 10×, MMR 0.5 %: "Position
    Value = 1.2 BTC, Initial Margin = 0.12 BTC", MM = 1.2 × 0.5 % = 0.006 BTC and
    LP(long) = 60,000 / (1.2 + 0.12 − 0.006), LP(short) = 60,000 / (1.2 − 0.12 + 0.006)."""
    pos = PositionInputs(
        contract_type="inverse",
        margin_mode="isolated",
        side=side,
        size=D(60000),
        entry_price=D(50000),
        leverage=D(10),
        margin=D("0.12"),
        maintenance_basis="entry",
    )
    assert pos.notional(pos.entry_price) == D("1.2")
    assert maintenance_margin(pos, D(40000), _one("0.005")) == D("0.006")
    price = liquidation_price(pos, _one("0.005"))
    page = D(60000) / (D("1.314") if side == "long" else D("1.086"))
    assert price is not None and price.quantize(CENT) == page.quantize(CENT)
    assert price.quantize(CENT) == (D("45662.10") if side == "long" else D("55248.62"))


# --- OKX (formulas only: no worked example with numbers was found) -------------------------


@pytest.mark.parametrize("side", ["long", "short"])
def test_okx_usdt_isolated_formula(side: str) -> None:
    """OKX's isolated USDT-margined estimate as freqtrade transcribes it from OKX's help
    article 360053909592 (freqtrade/freqtrade freqtrade/exchange/exchange.py,
    `dry_run_liquidation_price`): long (EP − margin/size) / (1 − mmr − taker fee), short
    (EP + margin/size) / (1 + mmr + taker fee) — liquidation when the margin ratio falls to
    the maintenance margin ratio plus the taker fee. Checked on a position of our own."""
    ep, size, margin, mmr, fee = D(30000), D("0.5"), D(1500), D("0.004"), D("0.0005")
    pos = PositionInputs(
        contract_type="linear",
        margin_mode="isolated",
        side=side,
        size=size,
        entry_price=ep,
        leverage=D(10),
        margin=margin,
        fee_rate=fee,
    )
    price = liquidation_price(pos, _one(str(mmr)))
    okx = (
        (ep - margin / size) / (1 - mmr - fee)
        if side == "long"
        else (ep + margin / size) / (1 + mmr + fee)
    )
    assert price is not None and price.quantize(SIX) == okx.quantize(SIX)
    _at_one(pos, price, _one(str(mmr)))
