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

The margin ratio is Binance's: maintenance margin / margin balance; 100 % or more liquidates.
"""

from __future__ import annotations

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


def liquidation_price_at(
    pos: PositionInputs, rate: Decimal, maintenance_amount: Decimal = ZERO
) -> Decimal | None:
    """The liquidation price for one bracket's rate and amount; None when the position cannot
    be liquidated (over-collateralised: a long whose price would be ≤ 0)."""
    q, s, b = pos.quantity, pos.sign, pos.balance
    r = rate + pos.fee_rate
    if pos.contract_type == LINEAR:
        denominator = q * r - s * q
        if denominator == 0:
            return None
        price = (b + maintenance_amount - s * q * pos.entry_price) / denominator
    else:
        denominator = b + maintenance_amount + s * q / pos.entry_price
        if denominator == 0:
            return None
        price = (q * r + s * q) / denominator
    return price if price > 0 else None


def liquidation_price(pos: PositionInputs, brackets: Sequence[Bracket]) -> Decimal | None:
    """The liquidation price under a tiered table. Binance: when the position's value at the
    liquidation price falls in another bracket than at entry, recompute with that bracket; the
    answer is the price whose own bracket produced it."""
    if not brackets:
        raise InvalidPosition(reason=N_("no maintenance-margin bracket"))
    first = bracket_for(brackets, pos.notional(pos.entry_price))
    candidate = liquidation_price_at(pos, first.rate, first.maintenance_amount)
    if candidate is None:
        return None
    if bracket_for(brackets, pos.notional(candidate)) == first:
        return candidate
    for bracket in brackets:
        price = liquidation_price_at(pos, bracket.rate, bracket.maintenance_amount)
        if price is not None and bracket_for(brackets, pos.notional(price)) == bracket:
            return price
    return candidate


def unrealised_pnl(pos: PositionInputs, price: Decimal) -> Decimal:
    if price <= 0:
        raise InvalidPosition(reason=N_("price must be positive"))
    if pos.contract_type == LINEAR:
        return pos.sign * pos.quantity * (price - pos.entry_price)
    return pos.sign * pos.quantity * (ONE / pos.entry_price - ONE / price)


def maintenance_margin(pos: PositionInputs, price: Decimal, brackets: Sequence[Bracket]) -> Decimal:
    """Maintenance margin (plus the closing fee, OKX-style) in the margin asset at `price`."""
    notional = pos.notional(price)
    bracket = bracket_for(brackets, notional)
    return notional * (bracket.rate + pos.fee_rate) - bracket.maintenance_amount


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
