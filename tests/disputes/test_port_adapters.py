"""The analysis reads only the exchange port: the demo adapter and the http adapter (over the
reference server) gather the same liquidation, candles and incidents and reach the same
findings."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from kefu.disputes.service import FindingKind, Verdict, analyse, gather
from kefu.exchange.adapters.demo import DemoExchange
from kefu.exchange.adapters.http import HttpExchange
from kefu.exchange.port import CandleKind
from tests.exchange.conftest import Books

pytestmark = pytest.mark.anyio


async def test_both_adapters_give_the_same_analysis(
    exchange: DemoExchange | HttpExchange, books: Books
) -> None:
    try:
        gathered = await gather(exchange, books.liquidation_id, window_minutes=5)
    finally:
        close = getattr(exchange, "aclose", None)
        if close is not None:
            await close()
    assert len(gathered.candles[CandleKind.MARK]) == 9  # 08:00–08:08 of the window 07:58–08:09
    assert [i.title for i in gathered.incidents] == ["Order latency"]
    analysis = analyse(gathered, wick_threshold=D("0.01"), price_tolerance=D("0.002"))
    kinds = {f.kind for f in analysis.findings}
    assert {FindingKind.MARK_NOT_CROSSED, FindingKind.WICK, FindingKind.INCIDENT} <= kinds
    assert analysis.verdict == Verdict.NEEDS_RISK_REVIEW
