"""Liquidation-dispute analysis: gather what the exchange knows about a liquidation, recompute
it, look for market and platform anomalies around it, and reach a verdict.

`gather` reads the exchange port (async, no database); `analyse` is a pure function over what
was gathered, so the same numbers can be checked in a test, a job or the CLI; `create_dispute`
stores an analysis against a ticket, attaches it and escalates when it needs risk review.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar

import anyio.from_thread
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.core.errors import BadRequest, KefuError, NotFound
from kefu.core.i18n import N_, translate
from kefu.core.settings import Settings
from kefu.disputes import formulas
from kefu.disputes.formulas import Bracket, PositionInputs
from kefu.disputes.models import Dispute
from kefu.exchange.port import (
    Candle,
    CandleInterval,
    CandleKind,
    Exchange,
    Incident,
    Liquidation,
    MarginMode,
    PositionSide,
)
from kefu.identity.models import Agent, Customer
from kefu.tickets import service as tickets
from kefu.tickets.models import MessageKind, Tier

T = TypeVar("T")
INTERVAL = CandleInterval.M1
STEP = timedelta(minutes=1)


class CandlesMissing(BadRequest):
    status = 422
    code = "candles_missing"
    message = N_("The exchange returned no %(kind)s candles for %(symbol)s around the trigger.")


class DisputeNotFound(NotFound):
    code = "dispute_not_found"
    message = N_("Dispute analysis %(id)s was not found.")


class Verdict(StrEnum):
    CONSISTENT = "consistent"
    INCONSISTENT = "inconsistent"
    NEEDS_RISK_REVIEW = "needs_risk_review"


class FindingKind(StrEnum):
    RECOMPUTED_MISMATCH = "recomputed_mismatch"
    MARK_NOT_CROSSED = "mark_not_crossed"
    MARK_CROSSED = "mark_crossed"
    RECORDED_MARK_OUTSIDE = "recorded_mark_outside"
    WICK = "wick"
    CANDLE_GAP = "candle_gap"
    INCIDENT = "incident"
    CROSS_WITHOUT_WALLET = "cross_without_wallet"


class Finding(BaseModel):
    """One observation with its numbers (decimal strings) and whether it is a problem."""

    model_config = ConfigDict(frozen=True)

    kind: FindingKind
    problem: bool
    at: datetime | None = None
    numbers: dict[str, str] = Field(default_factory=dict)


class Recomputed(BaseModel):
    model_config = ConfigDict(frozen=True)

    liquidation_price: Decimal | None
    recorded_liquidation_price: Decimal
    difference: Decimal | None  # recomputed − recorded, relative to recorded
    margin_ratio_at_trigger: Decimal | None
    maintenance_margin_at_trigger: Decimal
    margin_balance_at_trigger: Decimal
    balance_used: Decimal
    maintenance_rate: Decimal
    maintenance_amount: Decimal
    fee_rate: Decimal
    # Which tier of the maintenance-margin table the recomputation used and why: "table" when
    # the exchange sent the symbol's table (the tier is the one the position's value at the
    # liquidation price falls in), "position" when it sent only the position's own tier.
    # Defaults keep analyses stored before the table existed readable.
    tier_applied: int | None = None
    tier_recorded: int | None = None
    tier_at_entry: int | None = None
    tier_source: str = "position"
    notional_at_liquidation: Decimal | None = None
    tier_max_notional: Decimal | None = None


class Analysis(BaseModel):
    """Everything the report, the chart and the console show; stored as JSON."""

    liquidation: Liquidation
    window_start: datetime
    window_end: datetime
    candles: dict[CandleKind, list[Candle]]
    incidents: list[Incident]
    recomputed: Recomputed
    findings: list[Finding]
    verdict: Verdict


@dataclass(frozen=True)
class Gathered:
    liquidation: Liquidation
    candles: dict[CandleKind, list[Candle]]
    incidents: list[Incident]
    window_start: datetime
    window_end: datetime


@dataclass(frozen=True)
class AccountInputs:
    """Cross margin needs what the position alone does not carry: the account's wallet balance
    and its other positions' maintenance margin and unrealised PnL (Binance's WB, TMM1, UPNL1).
    The agent takes them from the exchange's back office; without them the position's own margin
    stands in (the result is then the isolated-equivalent price, and a finding says so)."""

    wallet_balance: Decimal | None = None
    other_maintenance: Decimal = Decimal(0)
    other_unrealised: Decimal = Decimal(0)
    fee_rate: Decimal = Decimal(0)
    maintenance_basis: str = formulas.MARK
    fee_basis: str = formulas.AT_LIQUIDATION


def _window(liquidation: Liquidation, minutes: int) -> tuple[datetime, datetime]:
    minute = liquidation.triggered_at.replace(second=0, microsecond=0)
    return minute - timedelta(minutes=minutes), minute + timedelta(minutes=minutes + 1)


async def gather(exchange: Exchange, liquidation_id: str, *, window_minutes: int) -> Gathered:
    """The liquidation with its position, one-minute candles (last, mark, index) and the
    platform incidents overlapping `window_minutes` on each side of the trigger."""
    liquidation = await exchange.get_liquidation(liquidation_id)
    start, end = _window(liquidation, window_minutes)
    symbol = liquidation.position.symbol
    candles = {
        kind: await exchange.list_candles(symbol, kind, INTERVAL, start, end) for kind in CandleKind
    }
    incidents = await exchange.list_incidents(start, end)
    return Gathered(liquidation, candles, incidents, start, end)


def position_inputs(liquidation: Liquidation, account: AccountInputs) -> PositionInputs:
    p = liquidation.position
    cross = p.margin_mode == MarginMode.CROSS
    wallet = account.wallet_balance if account.wallet_balance is not None else p.margin
    return PositionInputs(
        contract_type=str(p.contract_type),
        margin_mode=str(p.margin_mode),
        side=str(p.side),
        size=p.size,
        entry_price=p.entry_price,
        leverage=p.leverage,
        margin=p.margin,
        contract_size=p.contract_size,
        wallet_balance=wallet if cross else None,
        other_maintenance=account.other_maintenance if cross else Decimal(0),
        other_unrealised=account.other_unrealised if cross else Decimal(0),
        fee_rate=account.fee_rate,
        maintenance_basis=account.maintenance_basis,
        fee_basis=account.fee_basis,
    )


def _s(value: Decimal) -> str:
    return format(value.normalize() if value == value.to_integral() else value, "f")


def _q(value: Decimal, places: str = "0.0001") -> str:
    return format(value.quantize(Decimal(places)), "f")


def brackets_for(liquidation: Liquidation) -> tuple[list[Bracket], str]:
    """The exchange's maintenance-margin table for the position, lowest tier first, and where
    it came from: the symbol's whole table when the exchange sends it, else the single tier
    recorded on the position (older exchanges)."""
    p = liquidation.position
    tiers = sorted(p.maintenance_tiers, key=lambda t: t.max_notional) or [p.maintenance]
    brackets = [
        Bracket(t.tier, t.max_notional, t.maintenance_margin_rate, t.maintenance_amount)
        for t in tiers
    ]
    return brackets, "table" if p.maintenance_tiers else "position"


def recompute(liquidation: Liquidation, account: AccountInputs) -> Recomputed:
    pos = position_inputs(liquidation, account)
    brackets, source = brackets_for(liquidation)
    applied, price = formulas.applied_bracket(pos, brackets)
    recorded = liquidation.liquidation_price
    difference = (price - recorded) / recorded if price is not None and recorded else None
    mark = liquidation.mark_price
    return Recomputed(
        liquidation_price=price,
        recorded_liquidation_price=recorded,
        difference=difference,
        margin_ratio_at_trigger=(
            None
            if formulas.margin_balance(pos, mark) <= 0
            else formulas.margin_ratio(pos, mark, brackets)
        ),
        maintenance_margin_at_trigger=formulas.maintenance_margin(pos, mark, brackets),
        margin_balance_at_trigger=formulas.margin_balance(pos, mark),
        balance_used=pos.balance,
        maintenance_rate=applied.rate,
        maintenance_amount=applied.maintenance_amount,
        fee_rate=account.fee_rate,
        tier_applied=applied.tier,
        tier_recorded=liquidation.position.maintenance.tier,
        tier_at_entry=formulas.bracket_for(brackets, pos.notional(pos.entry_price)).tier,
        tier_source=source,
        notional_at_liquidation=None if price is None else pos.notional(price),
        tier_max_notional=applied.max_notional,
    )


def _by_time(candles: Sequence[Candle]) -> dict[datetime, Candle]:
    return {c.open_time: c for c in candles}


def _wicks(last: Sequence[Candle], index: Sequence[Candle], threshold: Decimal) -> list[Finding]:
    by_time = _by_time(index)
    out = []
    for candle in last:
        ref = by_time.get(candle.open_time)
        if ref is None:
            continue
        below = (ref.low - candle.low) / ref.low
        above = (candle.high - ref.high) / ref.high
        deviation, price, ref_price = (
            (below, candle.low, ref.low) if below >= above else (above, candle.high, ref.high)
        )
        if deviation > threshold:
            out.append(
                Finding(
                    kind=FindingKind.WICK,
                    problem=False,
                    at=candle.open_time,
                    numbers={
                        "last": _s(price),
                        "index": _s(ref_price),
                        "deviation_pct": _q(deviation * 100, "0.01"),
                        "threshold_pct": _q(threshold * 100, "0.01"),
                    },
                )
            )
    return out


def _gaps(
    kind: CandleKind, candles: Sequence[Candle], start: datetime, end: datetime
) -> list[Finding]:
    """Minutes inside the window for which the exchange has no candle of `kind`, as runs."""
    have = {c.open_time for c in candles}
    out: list[Finding] = []
    run_start: datetime | None = None
    minute = start
    while minute < end:
        if minute not in have and run_start is None:
            run_start = minute
        if minute in have and run_start is not None:
            out.append(_gap(kind, run_start, minute))
            run_start = None
        minute += STEP
    if run_start is not None:
        out.append(_gap(kind, run_start, end))
    return out


def _gap(kind: CandleKind, start: datetime, end: datetime) -> Finding:
    return Finding(
        kind=FindingKind.CANDLE_GAP,
        problem=True,
        at=start,
        numbers={
            "kind": kind.value,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "minutes": str(int((end - start) / STEP)),
        },
    )


def _mark_path(liquidation: Liquidation, mark: Sequence[Candle]) -> list[Finding]:
    """Did the mark price reach the recorded liquidation price by the trigger minute?"""
    long = liquidation.position.side == PositionSide.LONG
    trigger_minute = liquidation.triggered_at.replace(second=0, microsecond=0)
    upto = [c for c in mark if c.open_time <= trigger_minute]
    recorded = liquidation.liquidation_price
    out: list[Finding] = []
    if upto:
        extreme = min(c.low for c in upto) if long else max(c.high for c in upto)
        crossed = extreme <= recorded if long else extreme >= recorded
        out.append(
            Finding(
                kind=FindingKind.MARK_CROSSED if crossed else FindingKind.MARK_NOT_CROSSED,
                problem=not crossed,
                at=liquidation.triggered_at,
                numbers={
                    "mark_extreme": _s(extreme),
                    "recorded_liquidation_price": _s(recorded),
                    "side": str(liquidation.position.side),
                },
            )
        )
    at_trigger = _by_time(mark).get(trigger_minute)
    if at_trigger is not None and not (at_trigger.low <= liquidation.mark_price <= at_trigger.high):
        out.append(
            Finding(
                kind=FindingKind.RECORDED_MARK_OUTSIDE,
                problem=True,
                at=liquidation.triggered_at,
                numbers={
                    "recorded_mark": _s(liquidation.mark_price),
                    "mark_low": _s(at_trigger.low),
                    "mark_high": _s(at_trigger.high),
                },
            )
        )
    return out


def analyse(
    gathered: Gathered,
    *,
    account: AccountInputs | None = None,
    wick_threshold: Decimal,
    price_tolerance: Decimal,
) -> Analysis:
    """Recompute and check a gathered liquidation. Raises `CandlesMissing` when a kind of
    candle is absent altogether (nothing could be checked), `InvalidPosition` /
    `UnknownContractType` when the position cannot be recomputed."""
    account = account or AccountInputs()
    liquidation = gathered.liquidation
    for kind in CandleKind:
        if not gathered.candles.get(kind):
            raise CandlesMissing(kind=kind.value, symbol=liquidation.position.symbol)
    recomputed = recompute(liquidation, account)
    findings: list[Finding] = []
    # Cross margin without the account's numbers: the recomputation is only an estimate, so a
    # difference from the recorded price is reported but is not evidence against it.
    estimate_only = (
        liquidation.position.margin_mode == MarginMode.CROSS and account.wallet_balance is None
    )
    if estimate_only:
        findings.append(
            Finding(
                kind=FindingKind.CROSS_WITHOUT_WALLET,
                problem=False,
                numbers={"balance_used": _s(recomputed.balance_used)},
            )
        )
    if recomputed.difference is None or abs(recomputed.difference) > price_tolerance:
        findings.append(
            Finding(
                kind=FindingKind.RECOMPUTED_MISMATCH,
                problem=not estimate_only,
                numbers={
                    "recomputed": "-"
                    if recomputed.liquidation_price is None
                    else _q(recomputed.liquidation_price, "0.01"),
                    "recorded": _s(recomputed.recorded_liquidation_price),
                    "difference_pct": "-"
                    if recomputed.difference is None
                    else _q(recomputed.difference * 100, "0.001"),
                    "tolerance_pct": _q(price_tolerance * 100, "0.001"),
                },
            )
        )
    mark = gathered.candles[CandleKind.MARK]
    findings += _mark_path(liquidation, mark)
    findings += _wicks(
        gathered.candles[CandleKind.LAST], gathered.candles[CandleKind.INDEX], wick_threshold
    )
    for kind in CandleKind:
        findings += _gaps(kind, gathered.candles[kind], gathered.window_start, gathered.window_end)
    incidents = [
        i
        for i in gathered.incidents
        if i.started_at < gathered.window_end
        and (i.ended_at is None or i.ended_at > gathered.window_start)
    ]
    for incident in incidents:
        findings.append(
            Finding(
                kind=FindingKind.INCIDENT,
                problem=True,
                at=incident.started_at,
                numbers={
                    "id": incident.id,
                    "component": incident.component,
                    "severity": str(incident.severity),
                    "title": incident.title,
                    "started_at": incident.started_at.isoformat(),
                    "ended_at": incident.ended_at.isoformat() if incident.ended_at else "-",
                },
            )
        )
    return Analysis(
        liquidation=liquidation,
        window_start=gathered.window_start,
        window_end=gathered.window_end,
        candles=gathered.candles,
        incidents=incidents,
        recomputed=recomputed,
        findings=findings,
        verdict=verdict_for(findings),
    )


def verdict_for(findings: Sequence[Finding]) -> Verdict:
    """Risk review when the platform or the data may have failed the customer (the mark price
    never reached the liquidation price, an incident, missing candles); inconsistent when the
    exchange's numbers do not add up but the market path supports the liquidation."""
    kinds = {f.kind for f in findings if f.problem}
    if kinds & {FindingKind.MARK_NOT_CROSSED, FindingKind.INCIDENT, FindingKind.CANDLE_GAP}:
        return Verdict.NEEDS_RISK_REVIEW
    if kinds & {FindingKind.RECOMPUTED_MISMATCH, FindingKind.RECORDED_MARK_OUTSIDE}:
        return Verdict.INCONSISTENT
    return Verdict.CONSISTENT


def analysis_json(analysis: Analysis) -> dict[str, Any]:
    data: dict[str, Any] = analysis.model_dump(mode="json")
    return data


# --- stored analyses, attached to tickets ----------------------------------------------------


class LiquidationNotFound(NotFound):
    code = "liquidation_not_found"
    message = N_("Liquidation %(id)s was not found for this ticket's customer.")


def run_port(func: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
    """One call of the async exchange port from synchronous code: on the application's event
    loop from one of its worker threads (sync routes), else on a fresh loop (CLI, tests)."""
    call = functools.partial(func, *args, **kwargs)
    try:
        return anyio.from_thread.run(call)
    except anyio.NoEventLoopError:
        return asyncio.run(call())


def create_dispute(
    session: Session,
    exchange: Exchange,
    settings: Settings,
    *,
    agent: Agent,
    ticket_id: str,
    liquidation_id: str,
    account: AccountInputs | None = None,
    send_summary: bool = False,
) -> Dispute:
    """Analyse the customer's liquidation for their ticket: the full report goes on the ticket
    as an internal note, the summary to the customer when the agent chooses, and a verdict of
    `needs_risk_review` escalates the ticket to the risk tier."""
    from kefu.disputes import report

    ticket = tickets.get_visible_ticket(session, ticket_id, agent=agent)
    customer = session.get(Customer, ticket.customer_id)
    assert customer is not None
    external_id, customer_id = customer.external_id, customer.id
    # Release the database before the exchange runs: on SQLite the demo exchange shares the
    # file, and an open write transaction would block it.
    session.commit()
    own = run_port(exchange.list_liquidations, external_id)
    if liquidation_id not in {liq.id for liq in own}:
        raise LiquidationNotFound(id=liquidation_id)
    gathered = run_port(
        gather, exchange, liquidation_id, window_minutes=settings.disputes_window_minutes
    )
    analysis = analyse(
        gathered,
        account=account,
        wick_threshold=settings.disputes_wick_threshold,
        price_tolerance=settings.disputes_price_tolerance,
    )
    ticket = tickets.get_visible_ticket(session, ticket_id, agent=agent)
    actor = Actor.agent(agent.id)
    language = ticket.language
    note = tickets.add_message(
        session,
        ticket,
        kind=MessageKind.INTERNAL_NOTE,
        actor=actor,
        body=report.full_report(analysis, language),
    )
    summary = None
    if send_summary:
        summary = tickets.add_message(
            session,
            ticket,
            kind=MessageKind.AGENT,
            actor=actor,
            body=report.customer_summary(analysis, language),
        )
    escalated = False
    if analysis.verdict == Verdict.NEEDS_RISK_REVIEW and ticket.tier != Tier.RISK:
        tickets.escalate(
            session,
            ticket,
            actor,
            reason=translate(
                N_("Liquidation dispute needs risk review (liquidation %(id)s)."),
                language,
                id=liquidation_id,
            ),
            to_tier=Tier.RISK,
        )
        escalated = True
    dispute = Dispute(
        ticket_id=ticket.id,
        customer_id=customer_id,
        liquidation_id=liquidation_id,
        verdict=analysis.verdict.value,
        language=language,
        analysis=analysis_json(analysis),
        created_by=agent.id,
        note_message_id=note.id,
        summary_message_id=summary.id if summary else None,
        escalated=escalated,
    )
    session.add(dispute)
    session.flush()
    record(
        session,
        actor,
        "dispute.analysed",
        subject_type="ticket",
        subject_id=ticket.id,
        data={
            "dispute_id": dispute.id,
            "liquidation_id": liquidation_id,
            "verdict": dispute.verdict,
            "findings": [f.kind.value for f in analysis.findings],
            "summary_sent": summary is not None,
            "escalated": escalated,
        },
    )
    return dispute


def get_dispute(session: Session, dispute_id: str, *, agent: Agent, what: str) -> Dispute:
    """A stored analysis, if the agent may see its ticket (else the same 404); audited."""
    dispute = session.get(Dispute, dispute_id)
    if dispute is None:
        raise DisputeNotFound(id=dispute_id)
    try:
        tickets.get_visible_ticket(session, dispute.ticket_id, agent=agent)
    except KefuError as exc:
        raise DisputeNotFound(id=dispute_id) from exc
    record(
        session,
        Actor.agent(agent.id),
        f"dispute.{what}_read",
        subject_type="ticket",
        subject_id=dispute.ticket_id,
        data={"dispute_id": dispute.id},
    )
    return dispute


def stored_analysis(dispute: Dispute) -> Analysis:
    return Analysis.model_validate(dispute.analysis)


def list_disputes(session: Session, ticket_id: str, *, agent: Agent) -> list[Dispute]:
    """A ticket's analyses, newest first, if the agent may see the ticket; audited."""
    ticket = tickets.get_visible_ticket(session, ticket_id, agent=agent)
    found = list(
        session.scalars(
            select(Dispute)
            .where(Dispute.ticket_id == ticket.id)
            .order_by(Dispute.created_at.desc(), Dispute.id.desc())
        )
    )
    record(
        session,
        Actor.agent(agent.id),
        "dispute.list_read",
        subject_type="ticket",
        subject_id=ticket.id,
        data={"count": len(found)},
    )
    return found
