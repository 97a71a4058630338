"""An SVG candle chart of a liquidation, written directly (no plotting dependency).

Last-price candles, the mark and index closes as lines, horizontal lines at the entry price and
at the recorded and recomputed liquidation prices, a vertical line at the trigger. Every text is
escaped; the SVG carries no script and no external reference, so it is safe to serve as an image.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

from kefu.core.i18n import N_, translate
from kefu.disputes.service import Analysis
from kefu.exchange.port import CandleKind

WIDTH, HEIGHT = 960, 460
LEFT, RIGHT, TOP, BOTTOM = 80, 190, 40, 50
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

LABELS = {
    "title": N_("%(symbol)s liquidation at %(time)s UTC"),
    "entry": N_("Entry price"),
    "recorded": N_("Recorded liquidation price"),
    "recomputed": N_("Recomputed liquidation price"),
    "trigger": N_("Trigger"),
    "mark": N_("Mark price"),
    "index": N_("Index price"),
    "last": N_("Last price (candles)"),
}


def _f(value: float) -> str:
    return f"{value:.2f}"


def render_chart(analysis: Analysis, language: str) -> str:
    """The chart as an SVG document (UTF-8 text)."""
    liq = analysis.liquidation
    last = analysis.candles.get(CandleKind.LAST, [])
    mark = analysis.candles.get(CandleKind.MARK, [])
    index = analysis.candles.get(CandleKind.INDEX, [])
    levels: dict[str, Decimal] = {
        "entry": liq.position.entry_price,
        "recorded": liq.liquidation_price,
    }
    if analysis.recomputed.liquidation_price is not None:
        levels["recomputed"] = analysis.recomputed.liquidation_price
    prices = [c.low for c in last + mark + index] + [c.high for c in last + mark + index]
    prices += list(levels.values())
    low, high = min(prices), max(prices)
    pad = (high - low) * Decimal("0.05") or Decimal(1)
    low, high = low - pad, high + pad
    start, end = analysis.window_start, analysis.window_end
    span = (end - start).total_seconds() or 1.0

    def x(at: datetime) -> float:
        return LEFT + PLOT_W * (at - start).total_seconds() / span

    def y(price: Decimal) -> float:
        return float(TOP + PLOT_H * (high - price) / (high - low))

    def label(key: str, **params: str) -> str:
        return escape(translate(LABELS[key], language, **params))

    minutes = max(int(span // 60), 1)
    when = liq.triggered_at.strftime("%Y-%m-%d %H:%M:%S")
    title = label("title", symbol=liq.position.symbol, time=when)
    body_w = max(PLOT_W / minutes * 0.6, 1.0)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" font-family="sans-serif" font-size="12">',
        f"<title>{title}</title>",
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="none" '
        'stroke="#cccccc"/>',
        f'<text x="{LEFT}" y="{TOP - 14}" font-size="14" font-weight="bold">{title}</text>',
    ]
    for i in range(5):  # price axis
        price = low + (high - low) * Decimal(i) / 4
        out.append(
            f'<text x="{LEFT - 6}" y="{_f(y(price) + 4)}" text-anchor="end" fill="#555555">'
            f"{escape(format(price.quantize(Decimal('0.01')), 'f'))}</text>"
        )
    for i in range(0, minutes + 1, max(minutes // 6, 1)):  # time axis
        at = start + (end - start) * i / minutes
        out.append(
            f'<text x="{_f(x(at))}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle" '
            f'fill="#555555">{escape(at.strftime("%H:%M"))}</text>'
        )
    out.append('<g class="candles">')
    for c in last:
        cx = x(c.open_time) + PLOT_W / minutes / 2
        up = c.close >= c.open
        colour = "#26a69a" if up else "#ef5350"
        top, bottom = y(max(c.open, c.close)), y(min(c.open, c.close))
        out.append(
            f'<g class="candle" data-time={quoteattr(c.open_time.isoformat())}>'
            f'<line x1="{_f(cx)}" y1="{_f(y(c.high))}" x2="{_f(cx)}" y2="{_f(y(c.low))}" '
            f'stroke="{colour}"/>'
            f'<rect x="{_f(cx - body_w / 2)}" y="{_f(top)}" width="{_f(body_w)}" '
            f'height="{_f(max(bottom - top, 1.0))}" fill="{colour}"/></g>'
        )
    out.append("</g>")
    for kind, colour in ((CandleKind.MARK, "#1e88e5"), (CandleKind.INDEX, "#8e24aa")):
        series = mark if kind == CandleKind.MARK else index
        points = " ".join(
            f"{_f(x(c.open_time) + PLOT_W / minutes / 2)},{_f(y(c.close))}" for c in series
        )
        out.append(
            f'<polyline class="{kind.value}" points="{points}" fill="none" '
            f'stroke="{colour}" stroke-width="1.5"/>'
        )
    styles = {
        "entry": ("#455a64", "6 3"),
        "recorded": ("#d32f2f", "none"),
        "recomputed": ("#f57c00", "4 4"),
    }
    for key, price in levels.items():
        colour, dash = styles[key]
        py = y(price)
        out.append(
            f'<g class="level {key}"><line x1="{LEFT}" y1="{_f(py)}" x2="{LEFT + PLOT_W}" '
            f'y2="{_f(py)}" stroke="{colour}" stroke-dasharray="{dash}" stroke-width="1.5"/>'
            f'<text x="{LEFT + PLOT_W + 6}" y="{_f(py + 4)}" fill="{colour}">'
            f"{label(key)} {escape(format(price.quantize(Decimal('0.01')), 'f'))}</text></g>"
        )
    tx = x(liq.triggered_at)
    out.append(
        f'<g class="trigger"><line x1="{_f(tx)}" y1="{TOP}" x2="{_f(tx)}" y2="{TOP + PLOT_H}" '
        f'stroke="#000000" stroke-dasharray="2 3"/><text x="{_f(tx + 4)}" y="{TOP + 12}">'
        f"{label('trigger')} {escape(liq.triggered_at.strftime('%H:%M:%S'))}</text></g>"
    )
    legend_y = HEIGHT - 12
    for i, (key, colour) in enumerate(
        (("last", "#26a69a"), ("mark", "#1e88e5"), ("index", "#8e24aa"))
    ):
        lx = LEFT + i * 200
        out.append(
            f'<g class="legend"><rect x="{lx}" y="{legend_y - 9}" width="10" height="10" '
            f'fill="{colour}"/><text x="{lx + 14}" y="{legend_y}">{label(key)}</text></g>'
        )
    out.append("</svg>")
    return "\n".join(out)
