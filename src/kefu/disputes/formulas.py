"""Liquidation price and margin ratio as the exchanges publish them, all in `Decimal`.

One balance equation covers Binance's and OKX's published formulas. A position is liquidated
when its margin balance falls to its maintenance margin (plus, OKX-style, the fee to close it):

- linear (USDT-margined), quantity ``Q`` in the base asset, balance in USDT:
  ``B + side·Q·(P − EP) = Q·P·(mmr + fee) − cum``
  ⇒ ``P = (B + cum − side·Q·EP) / (Q·(mmr + fee) − side·Q)``
  (Binance "How to calculate liquidation price of USDⓈ-M futures contracts", one-way mode:
  ``LP = (WB − TMM1 + UPNL1 + cumB − Side·Position·EP) / (Position·MMR − Side·Position)``)
- inverse (coin-margined), notional ``N`` in USD (contracts × contract size), balance in coin:
  ``B + side·N·(1/EP − 1/P) = N·(mmr + fee)/P − cum``
  ⇒ ``P = (N·(mmr + fee) + side·N) / (B + cum + side·N/EP)``
  (Binance "How to calculate liquidation price of COIN-M futures contracts").

``B`` is the isolated margin of the position, or for cross margin the wallet balance minus the
maintenance margin of the account's other positions plus their unrealised PnL (TMM1, UPNL1).
``cum`` is the bracket's maintenance amount (Binance); OKX-style tables have none (0).

Two conventions differ between the exchanges and are explicit inputs:

- ``maintenance_basis``: Binance and OKX value the maintenance margin at the price itself
  (``mark``, the default); Bybit's published formulas value it at the entry price (``entry``):
  ``LP = EP − (IM − MM)/Q`` with ``MM = Q·EP·mmr − deduction`` (USDT contracts) and
  ``LP = N / (N/EP + IM − MM)`` with ``MM = N/EP·mmr − deduction`` (inverse).
- ``fee_basis``: OKX adds the taker fee on the position's value at the price (``liquidation``,
  the default); Bybit's cross-margin example reserves the fee to close at the bankruptcy price
  (``bankruptcy``): ``Quantity × 0.075 % / Bankruptcy Price``.

The bracket is chosen by the position's value at the liquidation price (Binance: "if the
position at the liquidation price falls in another level, recompute with that level"), or at
the entry price under the entry basis. The margin ratio is Binance's: maintenance margin /
margin balance; 100 % or more liquidates. Sources and worked examples: tests/disputes/
test_published_examples.py and the README.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from kefu.core.errors import BadRequest
from kefu.core.i18n import N_

ZERO = Decimal(0)
ONE = Decimal(1)


class InvalidPosition(BadRequest):
    code = "invalid_position"
    message = N_("The position cannot be recomputed: %(reason)s")


class UnknownContractType(BadRequest):
    code = "unknown_contract_type"
    message = N_("Unknown contract type %(value)s: expected linear or inverse.")


class UnknownMarginMode(BadRequest):
    code = "unknown_margin_mode"
    message = N_("Unknown margin mode %(value)s: expected isolated or cross.")


LINEAR = "linear"
INVERSE = "inverse"
ISOLATED = "isolated"
CROSS = "cross"
MARK = "mark"  # maintenance margin valued at the price itself (Binance, OKX)
ENTRY = "entry"  # maintenance margin valued at the entry price (Bybit)
AT_LIQUIDATION = "liquidation"  # closing fee on the value at the price (OKX)
AT_BANKRUPTCY = "bankruptcy"  # closing fee on the value at the bankruptcy price (Bybit)


@dataclass(frozen=True)
class Bracket:
    """One row of a tiered maintenance-margin table. `max_notional` is the bracket's cap (USDT
    for linear, coin for inverse); `maintenance_amount` is Binance's cum (0 on OKX-style)."""

    tier: int
    max_notional: Decimal
    rate: Decimal
    maintenance_amount: Decimal = ZERO


def brackets_with_amounts(
    caps_and_rates: Sequence[tuple[Decimal, Decimal]],
) -> list[Bracket]:
    """Binance's rule for the maintenance amount of tier n:
    ``cum_n = floor_n · (mmr_n − mmr_{n−1}) + cum_{n−1}``, where a tier's floor is the cap of
    the tier below. Makes a table continuous: the maintenance margin never jumps at a floor."""
    out: list[Bracket] = []
    floor, prev_rate, cum = ZERO, ZERO, ZERO
    for number, (cap, rate) in enumerate(caps_and_rates, start=1):
        if cap <= floor or rate <= 0:
            raise InvalidPosition(reason=N_("brackets must rise and rates be positive"))
        cum = floor * (rate - prev_rate) + cum
        out.append(Bracket(number, cap, rate, cum))
        floor, prev_rate = cap, rate
    return out


def bracket_for(brackets: Sequence[Bracket], notional: Decimal) -> Bracket:
    """The bracket a notional falls in (the last one beyond the table's top)."""
    if not brackets:
        raise InvalidPosition(reason=N_("no maintenance-margin bracket"))
    for bracket in brackets:
        if notional <= bracket.max_notional:
            return bracket
    return brackets[-1]


@dataclass(frozen=True)
class PositionInputs:
    contract_type: str
    margin_mode: str
    side: str  # long | short
    size: Decimal  # contracts (inverse) or base quantity (linear)
    entry_price: Decimal
    leverage: Decimal
    margin: Decimal  # isolated margin (margin asset)
    contract_size: Decimal = ONE  # USD per contract (inverse); 1 for linear
    # Cross margin: the account's wallet balance and its other positions (TMM1, UPNL1).
    wallet_balance: Decimal | None = None
    other_maintenance: Decimal = ZERO
    other_unrealised: Decimal = ZERO
    fee_rate: Decimal = ZERO  # OKX-style: the taker fee to close, added to the rate
    maintenance_basis: str = MARK
    fee_basis: str = AT_LIQUIDATION

    def __post_init__(self) -> None:
        if self.contract_type not in (LINEAR, INVERSE):
            raise UnknownContractType(value=str(self.contract_type))
        if self.margin_mode not in (ISOLATED, CROSS):
            raise UnknownMarginMode(value=str(self.margin_mode))
        if self.side not in ("long", "short"):
            raise InvalidPosition(reason=N_("side must be long or short"))
        checks = (
            (self.size > 0, N_("size must be positive")),
            (self.entry_price > 0, N_("entry price must be positive")),
            (self.leverage > 0, N_("leverage must be positive")),
            (self.contract_size > 0, N_("contract size must be positive")),
            (self.margin >= 0, N_("margin must not be negative")),
            (self.fee_rate >= 0, N_("fee rate must not be negative")),
        )
        for ok, reason in checks:
            if not ok:
                raise InvalidPosition(reason=reason)
        if self.maintenance_basis not in (MARK, ENTRY):
            raise InvalidPosition(reason=N_("maintenance basis must be mark or entry"))
        if self.fee_basis not in (AT_LIQUIDATION, AT_BANKRUPTCY):
            raise InvalidPosition(reason=N_("fee basis must be liquidation or bankruptcy"))
        if self.margin_mode == CROSS and self.wallet_balance is None:
            raise InvalidPosition(reason=N_("cross margin needs the wallet balance"))

    @property
    def sign(self) -> Decimal:
        return ONE if self.side == "long" else -ONE

    @property
    def quantity(self) -> Decimal:
        """Base quantity (linear) or USD notional (inverse)."""
        return self.size * self.contract_size

    @property
    def balance(self) -> Decimal:
        """B: what stands behind the position before its own PnL."""
        if self.margin_mode == CROSS:
            assert self.wallet_balance is not None
            return self.wallet_balance - self.other_maintenance + self.other_unrealised
        return self.margin

    def notional(self, price: Decimal) -> Decimal:
        """USDT (linear) or coin (inverse) value at `price`, as the bracket tables count it."""
        if self.contract_type == LINEAR:
            return self.quantity * price
        return self.quantity / price


def bankruptcy_price(pos: PositionInputs) -> Decimal | None:
    """The price at which the balance behind the position, less the fee to close there, is
    used up (Bybit: "Bankruptcy Price = 1.00075 × Quantity / (Quantity/EP + balance)" for an
    inverse long). None when there is none (a long whose price would be ≤ 0)."""
    q, s, b, f = pos.quantity, pos.sign, pos.balance, pos.fee_rate
    if pos.contract_type == LINEAR:
        # B + s·Q·(BP − EP) = Q·BP·f
        denominator = s * q - q * f
        price = (s * q * pos.entry_price - b) / denominator if denominator else None
    else:
        # B + s·N·(1/EP − 1/BP) = N·f/BP
        denominator = b + s * q / pos.entry_price
        price = q * (s + f) / denominator if denominator else None
    return price if price is not None and price > 0 else None


def _maintenance_terms(
    pos: PositionInputs, rate: Decimal, maintenance_amount: Decimal
) -> tuple[Decimal, Decimal] | None:
    """The maintenance margin (with the closing fee) as ``a + b·P`` (linear) or ``a + b/P``
    (inverse) under the position's conventions; None when there is no bankruptcy price to
    charge the fee at."""
    q, ep = pos.quantity, pos.entry_price
    value_at_entry = q * ep if pos.contract_type == LINEAR else q / ep
    if pos.maintenance_basis == MARK:
        a, b = -maintenance_amount, q * rate
    else:
        a, b = value_at_entry * rate - maintenance_amount, ZERO
    if pos.fee_rate:
        if pos.fee_basis == AT_LIQUIDATION:
            b += q * pos.fee_rate
        else:
            bankrupt = bankruptcy_price(pos)
            if bankrupt is None:
                return None
            value = q * bankrupt if pos.contract_type == LINEAR else q / bankrupt
            a += value * pos.fee_rate
    return a, b


def liquidation_price_at(
    pos: PositionInputs, rate: Decimal, maintenance_amount: Decimal = ZERO
) -> Decimal | None:
    """The liquidation price for one bracket's rate and amount; None when the position cannot
    be liquidated (over-collateralised: a long whose price would be ≤ 0)."""
    terms = _maintenance_terms(pos, rate, maintenance_amount)
    if terms is None:
        return None
    a, b = terms
    q, s, balance = pos.quantity, pos.sign, pos.balance
    if pos.contract_type == LINEAR:
        # balance + s·Q·(P − EP) = a + b·P
        denominator = s * q - b
        if denominator == 0:
            return None
        price = (a - balance + s * q * pos.entry_price) / denominator
    else:
        # balance + s·N·(1/EP − 1/P) = a + b/P
        denominator = balance + s * q / pos.entry_price - a
        if denominator == 0:
            return None
        price = (b + s * q) / denominator
    return price if price > 0 else None


def bracket_basis(pos: PositionInputs, price: Decimal) -> Decimal:
    """The notional that selects the bracket at `price`: the value at the price itself, or at
    the entry price under Bybit's entry basis."""
    return pos.notional(pos.entry_price if pos.maintenance_basis == ENTRY else price)


def applied_bracket(
    pos: PositionInputs, brackets: Sequence[Bracket]
) -> tuple[Bracket, Decimal | None]:
    """The bracket the liquidation price was computed with, and that price."""
    if not brackets:
        raise InvalidPosition(reason=N_("no maintenance-margin bracket"))
    first = bracket_for(brackets, bracket_basis(pos, pos.entry_price))
    candidate = liquidation_price_at(pos, first.rate, first.maintenance_amount)
    if candidate is None or pos.maintenance_basis == ENTRY:
        return first, candidate
    if bracket_for(brackets, pos.notional(candidate)) == first:
        return first, candidate
    for bracket in brackets:
        price = liquidation_price_at(pos, bracket.rate, bracket.maintenance_amount)
        if price is not None and bracket_for(brackets, pos.notional(price)) == bracket:
            return bracket, price
    return first, candidate


def liquidation_price(pos: PositionInputs, brackets: Sequence[Bracket]) -> Decimal | None:
    """The liquidation price under a tiered table. Binance: when the position's value at the
    liquidation price falls in another bracket than at entry, recompute with that bracket; the
    answer is the price whose own bracket produced it."""
    return applied_bracket(pos, brackets)[1]


@dataclass(frozen=True)
class OtherPosition:
    """Another position of a cross-margin account, as Binance's TMM1 and UPNL1 count it: its
    maintenance margin and unrealised PnL at its own mark price."""

    contract_type: str
    side: str
    quantity: Decimal  # base quantity (linear) or USD notional (inverse)
    entry_price: Decimal
    mark_price: Decimal
    brackets: Sequence[Bracket]

    def as_inputs(self) -> PositionInputs:
        return PositionInputs(
            contract_type=self.contract_type,
            margin_mode=ISOLATED,
            side=self.side,
            size=self.quantity,
            entry_price=self.entry_price,
            leverage=ONE,
            margin=ZERO,
        )


def cross_account_terms(others: Sequence[OtherPosition]) -> tuple[Decimal, Decimal]:
    """(TMM1, UPNL1): the other positions' maintenance margin and unrealised PnL."""
    tmm, upnl = ZERO, ZERO
    for other in others:
        pos = other.as_inputs()
        tmm += maintenance_margin(pos, other.mark_price, other.brackets)
        upnl += unrealised_pnl(pos, other.mark_price)
    return tmm, upnl


def unrealised_pnl(pos: PositionInputs, price: Decimal) -> Decimal:
    if price <= 0:
        raise InvalidPosition(reason=N_("price must be positive"))
    if pos.contract_type == LINEAR:
        return pos.sign * pos.quantity * (price - pos.entry_price)
    return pos.sign * pos.quantity * (ONE / pos.entry_price - ONE / price)


def maintenance_margin(pos: PositionInputs, price: Decimal, brackets: Sequence[Bracket]) -> Decimal:
    """Maintenance margin (plus the closing fee) in the margin asset at `price`, under the
    position's conventions."""
    bracket = bracket_for(brackets, bracket_basis(pos, price))
    terms = _maintenance_terms(pos, bracket.rate, bracket.maintenance_amount)
    if terms is None:
        # No bankruptcy price: the fee falls back to the value at the price.
        terms = _maintenance_terms(
            dataclasses.replace(pos, fee_basis=AT_LIQUIDATION),
            bracket.rate,
            bracket.maintenance_amount,
        )
        assert terms is not None
    a, b = terms
    return a + b * price if pos.contract_type == LINEAR else a + b / price


def margin_balance(pos: PositionInputs, price: Decimal) -> Decimal:
    return pos.balance + unrealised_pnl(pos, price)


def margin_ratio(pos: PositionInputs, price: Decimal, brackets: Sequence[Bracket]) -> Decimal:
    """Binance's margin ratio at `price`: maintenance margin / margin balance. At or above 1 the
    position is liquidated; a balance at or below zero counts as infinitely under-margined."""
    balance = margin_balance(pos, price)
    mm = maintenance_margin(pos, price, brackets)
    if balance <= 0:
        return Decimal("Infinity")
    return mm / balance
