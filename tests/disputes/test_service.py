"""The analysis: recompute at the trigger, and find wicks, the mark path, gaps and incidents."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest

from kefu.disputes.formulas import InvalidPosition, UnknownContractType
from kefu.disputes.service import (
    AccountInputs,
    Analysis,
    CandlesMissing,
    FindingKind,
    Gathered,
    Verdict,
    analyse,
    position_inputs,
)
from kefu.exchange.port import CandleKind, Liquidation
from tests.disputes.helpers import TRIGGER, incident, liquidation, market, position

WICK = D("0.01")
TOLERANCE = D("0.002")


def _run(gathered: Gathered, account: AccountInputs | None = None) -> Analysis:
    return analyse(gathered, account=account, wick_threshold=WICK, price_tolerance=TOLERANCE)


def _kinds(analysis: Analysis) -> list[FindingKind]:
    return [f.kind for f in analysis.findings]


def test_a_clean_liquidation_is_consistent() -> None:
    analysis = _run(market(liquidation()))
    assert analysis.verdict == Verdict.CONSISTENT
    assert analysis.recomputed.liquidation_price is not None
    assert analysis.recomputed.liquidation_price.quantize(D("0.01")) == D("86797.19")
    assert analysis.recomputed.margin_ratio_at_trigger is not None
    assert analysis.recomputed.margin_ratio_at_trigger > 1  # liquidated: MM ≥ margin balance
    (crossed,) = [f for f in analysis.findings if f.kind == FindingKind.MARK_CROSSED]
    assert crossed.numbers["mark_extreme"] == "86780"
    assert crossed.numbers["recorded_liquidation_price"] == "86797.19"


def test_an_injected_wick_is_found_with_its_numbers() -> None:
    analysis = _run(market(liquidation(), wick_at=5))
    (wick,) = [f for f in analysis.findings if f.kind == FindingKind.WICK]
    assert wick.at == TRIGGER.replace(second=0) - timedelta(minutes=10)
    assert wick.numbers["index"] == "87550"
    assert wick.numbers["last"] == "84923.50"
    assert wick.numbers["deviation_pct"] == "3.00"
    assert wick.numbers["threshold_pct"] == "1.00"
    # The mark price, not the last price, liquidates: a wick alone does not change the verdict.
    assert analysis.verdict == Verdict.CONSISTENT


def test_an_overlapping_incident_is_found_and_needs_risk_review() -> None:
    inc = incident(TRIGGER - timedelta(minutes=12))
    analysis = _run(market(liquidation(), incidents=[inc]))
    (found,) = [f for f in analysis.findings if f.kind == FindingKind.INCIDENT]
    assert found.numbers["component"] == "matching-engine"
    assert found.numbers["started_at"] == inc.started_at.isoformat()
    assert analysis.verdict == Verdict.NEEDS_RISK_REVIEW
    earlier = incident(TRIGGER - timedelta(hours=3), minutes=30)  # over before the window
    assert _run(market(liquidation(), incidents=[earlier])).verdict == Verdict.CONSISTENT


def test_mark_that_never_reached_the_liquidation_price_needs_risk_review() -> None:
    liq = liquidation(liquidation_price=D("86700"), mark_price=D("86790"))
    analysis = _run(market(liq))
    (finding,) = [f for f in analysis.findings if f.kind == FindingKind.MARK_NOT_CROSSED]
    assert finding.numbers == {
        "mark_extreme": "86780",
        "recorded_liquidation_price": "86700",
        "side": "long",
    }
    assert FindingKind.RECOMPUTED_MISMATCH not in _kinds(analysis)  # 0.11 % apart: within 0.2 %
    assert analysis.verdict == Verdict.NEEDS_RISK_REVIEW


def test_a_recorded_price_far_from_the_formula_is_inconsistent() -> None:
    liq = liquidation(liquidation_price=D("87500"), mark_price=D("86790"))
    analysis = _run(market(liq))
    (mismatch,) = [f for f in analysis.findings if f.kind == FindingKind.RECOMPUTED_MISMATCH]
    assert mismatch.numbers["recomputed"] == "86797.19"
    assert mismatch.numbers["recorded"] == "87500"
    assert mismatch.numbers["difference_pct"] == "-0.803"
    assert analysis.verdict == Verdict.INCONSISTENT


def test_gaps_in_candles_are_reported_as_runs() -> None:
    analysis = _run(market(liquidation(), drop_minutes=(3, 4, 5)))
    gaps = [f for f in analysis.findings if f.kind == FindingKind.CANDLE_GAP]
    assert {g.numbers["kind"] for g in gaps} == {"last", "mark", "index"}
    assert {g.numbers["minutes"] for g in gaps} == {"3"}
    assert gaps[0].at == TRIGGER.replace(second=0) - timedelta(minutes=12)
    assert analysis.verdict == Verdict.NEEDS_RISK_REVIEW


def test_missing_candles_give_a_clear_error() -> None:
    gathered = market(liquidation())
    gathered.candles[CandleKind.MARK] = []
    with pytest.raises(CandlesMissing) as caught:
        _run(gathered)
    assert caught.value.code == "candles_missing"
    assert caught.value.params == {"kind": "mark", "symbol": "BTCUSDT"}


def _broken(**kw: object) -> Liquidation:
    # model_copy skips the port's validation, as a misbehaving exchange adapter might.
    pos = position().model_copy(update=kw)
    return liquidation(pos).model_copy(update={"position": pos})


def test_zero_size_gives_a_clear_error() -> None:
    with pytest.raises(InvalidPosition) as caught:
        _run(market(_broken(size=D(0))))
    assert caught.value.code == "invalid_position"


def test_unknown_contract_gives_a_clear_error() -> None:
    with pytest.raises(UnknownContractType) as caught:
        _run(market(_broken(contract_type="quanto")))
    assert caught.value.code == "unknown_contract_type"


def test_cross_margin_takes_the_account_inputs() -> None:
    liq = liquidation(position(margin_mode="cross"))
    without = _run(market(liq))
    assert FindingKind.CROSS_WITHOUT_WALLET in _kinds(without)
    account = AccountInputs(
        wallet_balance=D(3000), other_maintenance=D(200), other_unrealised=D(-75)
    )
    assert position_inputs(liq, account).balance == D(2725)
    with_wallet = _run(market(liq), account)
    assert FindingKind.CROSS_WITHOUT_WALLET not in _kinds(with_wallet)
    assert with_wallet.recomputed.balance_used == D(2725)
    # (2725 − 45500)/(0.002 − 0.5) = 85,893.57: more balance, a lower liquidation price.
    assert with_wallet.recomputed.liquidation_price is not None
    assert with_wallet.recomputed.liquidation_price.quantize(D("0.01")) == D("85893.57")


def test_a_cross_estimate_that_differs_is_reported_but_not_held_against_the_exchange() -> None:
    # Recorded at 85,893.57: what the account's full wallet gives; the position alone gives
    # 86,797.19. Without the wallet, the difference is shown but does not make it inconsistent.
    liq = liquidation(position(margin_mode="cross"), liquidation_price=D("85893.57"))
    gathered = market(liq)
    analysis = _run(gathered)
    (mismatch,) = [f for f in analysis.findings if f.kind == FindingKind.RECOMPUTED_MISMATCH]
    assert mismatch.problem is False
    assert analysis.verdict != Verdict.INCONSISTENT
    account = AccountInputs(
        wallet_balance=D(3000), other_maintenance=D(200), other_unrealised=D(-75)
    )
    with_wallet = _run(gathered, account)
    assert FindingKind.RECOMPUTED_MISMATCH not in _kinds(with_wallet)
