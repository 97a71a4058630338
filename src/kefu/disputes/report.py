"""The dispute report in the customer's language: what happened, the numbers, the findings and
risk education. Two forms: the full report (the agent's internal note and the console) and a
short summary the agent may send to the customer."""

from __future__ import annotations

from decimal import Decimal

from kefu.core.i18n import N_, translate
from kefu.disputes.service import Analysis, Finding, FindingKind, Verdict

FINDING_TEXT = {
    FindingKind.RECOMPUTED_MISMATCH: N_(
        "The published formula gives a liquidation price of %(recomputed)s; the exchange "
        "recorded %(recorded)s (%(difference_pct)s %% apart, tolerance %(tolerance_pct)s %%)."
    ),
    FindingKind.MARK_CROSSED: N_(
        "The mark price reached %(mark_extreme)s, beyond the liquidation price "
        "%(recorded_liquidation_price)s: the liquidation was triggered by the mark price."
    ),
    FindingKind.MARK_NOT_CROSSED: N_(
        "The mark price went no further than %(mark_extreme)s and never reached the "
        "liquidation price %(recorded_liquidation_price)s before the trigger."
    ),
    FindingKind.RECORDED_MARK_OUTSIDE: N_(
        "The recorded mark price %(recorded_mark)s lies outside the mark-price candle of the "
        "trigger minute (%(mark_low)s – %(mark_high)s)."
    ),
    FindingKind.WICK: N_(
        "At %(at)s the last price touched %(last)s while the index was %(index)s: a wick of "
        "%(deviation_pct)s %% (threshold %(threshold_pct)s %%)."
    ),
    FindingKind.CANDLE_GAP: N_(
        "No %(kind)s candles from %(from)s to %(to)s (%(minutes)s minutes)."
    ),
    FindingKind.INCIDENT: N_(
        "Platform incident during the window: %(title)s (%(component)s, %(severity)s), "
        "from %(started_at)s to %(ended_at)s."
    ),
    FindingKind.CROSS_WITHOUT_WALLET: N_(
        "Cross margin was recomputed with the position's own margin %(balance_used)s, without "
        "the account's wallet balance: the recomputed price is an estimate."
    ),
}

VERDICT_TEXT = {
    Verdict.CONSISTENT: N_(
        "Verdict: consistent. The liquidation matches the published formula and the mark price."
    ),
    Verdict.INCONSISTENT: N_(
        "Verdict: inconsistent. The exchange's recorded numbers do not match the published "
        "formula; the case is being checked."
    ),
    Verdict.NEEDS_RISK_REVIEW: N_(
        "Verdict: needs risk review. The market data or the platform's status around the "
        "liquidation needs a closer look by the risk team."
    ),
}

EDUCATION = (
    N_(
        "Liquidation is triggered by the mark price (derived from the index of several spot "
        "markets), not by the last traded price, so a brief spike on one market alone does not "
        "liquidate a position."
    ),
    N_(
        "Higher leverage puts the liquidation price closer to the entry price. Lower leverage, "
        "more margin or a stop-loss order keeps a position further from liquidation."
    ),
    N_(
        "Larger positions fall into higher maintenance-margin tiers, which raises the "
        "maintenance margin and moves the liquidation price closer."
    ),
)


def _d(value: Decimal | None, places: str = "0.01") -> str:
    return "-" if value is None else format(value.quantize(Decimal(places)), "f")


def finding_text(finding: Finding, language: str) -> str:
    params = dict(finding.numbers)
    if finding.at is not None:
        params.setdefault("at", finding.at.strftime("%Y-%m-%d %H:%M UTC"))
    return translate(FINDING_TEXT[finding.kind], language, **params)


def happened(analysis: Analysis, language: str) -> str:
    liq = analysis.liquidation
    p = liq.position
    return translate(
        N_(
            "Your %(side)s %(symbol)s position (%(contract)s, %(mode)s margin, %(leverage)sx "
            "leverage, entry price %(entry)s, size %(size)s) was liquidated at %(time)s UTC "
            "when the mark price was %(mark)s."
        ),
        language,
        side=translate(SIDE[str(p.side)], language),
        symbol=p.symbol,
        contract=translate(CONTRACT[str(p.contract_type)], language),
        mode=translate(MODE[str(p.margin_mode)], language),
        leverage=format(p.leverage.normalize(), "f"),
        entry=format(p.entry_price, "f"),
        size=format(p.size, "f"),
        time=liq.triggered_at.strftime("%Y-%m-%d %H:%M:%S"),
        mark=format(liq.mark_price, "f"),
    )


SIDE = {"long": N_("long"), "short": N_("short")}
CONTRACT = {"linear": N_("USDT-margined"), "inverse": N_("coin-margined")}
MODE = {"isolated": N_("isolated"), "cross": N_("cross")}


def tier_line(analysis: Analysis, language: str) -> str:
    """Which tier of the exchange's maintenance-margin table applied, and why."""
    r = analysis.recomputed
    p = analysis.liquidation.position
    asset, places = p.margin_asset, "0.01" if str(p.contract_type) == "linear" else "0.00000001"
    if r.tier_applied is None or r.tier_source != "table":
        return translate(
            N_(
                "Maintenance tier %(tier)s as recorded on the position "
                "(the exchange sent no tier table)."
            ),
            language,
            tier=str(r.tier_recorded or p.maintenance.tier),
        )
    return translate(
        N_(
            "Maintenance tier %(tier)s of the exchange's table (positions up to %(cap)s "
            "%(asset)s): the position is worth %(value)s %(asset)s at the recomputed "
            "liquidation price (tier %(entry)s at the entry price; the exchange recorded "
            "tier %(recorded)s)."
        ),
        language,
        tier=str(r.tier_applied),
        cap=_d(r.tier_max_notional, places),
        asset=asset,
        value=_d(r.notional_at_liquidation, places),
        entry=str(r.tier_at_entry),
        recorded=str(r.tier_recorded),
    )


def numbers(analysis: Analysis, language: str) -> list[str]:
    r = analysis.recomputed
    p = analysis.liquidation.position
    return [
        translate(
            N_("Recorded liquidation price: %(value)s"),
            language,
            value=_d(r.recorded_liquidation_price),
        ),
        translate(
            N_("Recomputed liquidation price: %(value)s"), language, value=_d(r.liquidation_price)
        ),
        tier_line(analysis, language),
        translate(
            N_("Maintenance margin rate %(rate)s %%, maintenance amount %(amount)s %(asset)s"),
            language,
            rate=_d(r.maintenance_rate * 100, "0.001"),
            amount=format(r.maintenance_amount, "f"),
            asset=p.margin_asset,
        ),
        translate(
            N_(
                "Margin balance at the trigger: %(balance)s %(asset)s; "
                "maintenance margin: %(mm)s %(asset)s"
            ),
            language,
            balance=_d(r.margin_balance_at_trigger, "0.00000001"),
            mm=_d(r.maintenance_margin_at_trigger, "0.00000001"),
            asset=p.margin_asset,
        ),
        translate(
            N_("Margin ratio at the trigger: %(ratio)s %% (liquidation at 100 %%)"),
            language,
            ratio="∞" if r.margin_ratio_at_trigger is None else _d(r.margin_ratio_at_trigger * 100),
        ),
    ]


def full_report(analysis: Analysis, language: str) -> str:
    lines = [translate(N_("Liquidation review"), language), "", happened(analysis, language), ""]
    lines += [translate(N_("The numbers"), language)]
    lines += [f"- {line}" for line in numbers(analysis, language)]
    lines += ["", translate(N_("Findings"), language)]
    if analysis.findings:
        lines += [f"- {finding_text(f, language)}" for f in analysis.findings]
    else:
        lines += [f"- {translate(N_('No anomalies were found.'), language)}"]
    lines += ["", translate(VERDICT_TEXT[analysis.verdict], language), ""]
    lines += [translate(N_("About liquidation risk"), language)]
    lines += [f"- {translate(text, language)}" for text in EDUCATION]
    return "\n".join(lines)


def customer_summary(analysis: Analysis, language: str) -> str:
    """What the customer may read: what happened, the two prices, the verdict, education.
    Internal checks (gaps, the raw incident list) stay in the agent's note."""
    r = analysis.recomputed
    lines = [
        happened(analysis, language),
        translate(
            N_(
                "We recomputed the liquidation price with the exchange's published formula: "
                "%(recomputed)s (recorded: %(recorded)s)."
            ),
            language,
            recomputed=_d(r.liquidation_price),
            recorded=_d(r.recorded_liquidation_price),
        ),
        translate(VERDICT_TEXT[analysis.verdict], language),
        "",
    ]
    lines += [translate(text, language) for text in EDUCATION]
    return "\n".join(lines)
