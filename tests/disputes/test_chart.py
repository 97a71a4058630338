"""The chart is well-formed SVG with the entry, both liquidation prices and the trigger marked."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal as D

from kefu.disputes.chart import render_chart
from kefu.disputes.service import analyse
from tests.disputes.helpers import liquidation, market, position

NS = {"svg": "http://www.w3.org/2000/svg"}


def _svg(language: str = "en", **kw: object) -> ET.Element:
    liq = liquidation(position(**kw))
    analysis = analyse(market(liq, wick_at=4), wick_threshold=D("0.01"), price_tolerance=D("0.002"))
    return ET.fromstring(render_chart(analysis, language))


def _groups(root: ET.Element, cls: str) -> list[ET.Element]:
    return [g for g in root.iter() if cls in (g.get("class") or "").split()]


def test_chart_marks_entry_liquidation_prices_and_trigger() -> None:
    root = _svg()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    for cls in ("entry", "recorded", "recomputed", "trigger", "mark", "index"):
        assert _groups(root, cls), cls
    texts = " ".join("".join(t.itertext()) for t in root.iterfind(".//svg:text", NS))
    assert "Entry price 91000.00" in texts
    assert "Recorded liquidation price 86797.19" in texts
    assert "Recomputed liquidation price 86797.19" in texts
    assert "Trigger 08:10:20" in texts
    assert len(_groups(root, "candle")) == 31  # every minute of the ±15-minute window


def test_chart_speaks_the_customers_language_and_escapes_text() -> None:
    root = _svg("zh-CN", symbol="BTC<USDT>&")
    texts = " ".join("".join(t.itertext()) for t in root.iterfind(".//svg:text", NS))
    assert "开仓价格" in texts
    assert "BTC<USDT>&" in texts  # parsed back intact: it was escaped in the document
