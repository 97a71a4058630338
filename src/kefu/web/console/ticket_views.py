"""What the console's ticket pages show, computed from the services: each ticket's SLA clocks
as timers (deadline, state, text), the queue ordered by urgency, labels for the values.

A timer's state is decided here and again, second by second, by `static/console/tickets.js`
from the same attributes (`data-due`, `data-at-risk`), so the page and the script agree."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from kefu.core import i18n
from kefu.core.clock import as_utc, utcnow
from kefu.core.i18n import N_
from kefu.sla import service as sla
from kefu.tickets import service as tickets
from kefu.tickets.models import Priority, Ticket

# A running clock with less than this share of its target left is at risk.
AT_RISK_FRACTION = 0.25


class SlaState(StrEnum):
    OK = "ok"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    PAUSED = "paused"
    MET = "met"
    NONE = "none"


# Worst first: a ticket's state is its worst open clock's.
_SEVERITY = (SlaState.BREACHED, SlaState.AT_RISK, SlaState.OK, SlaState.PAUSED, SlaState.MET)

STATE_LABELS = {
    SlaState.OK: N_("On track"),
    SlaState.AT_RISK: N_("At risk"),
    SlaState.BREACHED: N_("Breached"),
    SlaState.PAUSED: N_("Paused"),
    SlaState.MET: N_("Met"),
    SlaState.NONE: N_("No SLA"),
}

TARGET_LABELS = {
    sla.Target.FIRST_RESPONSE: N_("First response"),
    sla.Target.NEXT_RESPONSE: N_("Next response"),
    sla.Target.RESOLUTION: N_("Resolution"),
}

STATUS_LABELS = {
    "new": N_("New"),
    "open": N_("Open"),
    "pending_customer": N_("Waiting for customer"),
    "pending_internal": N_("Waiting on us"),
    "solved": N_("Solved"),
    "closed": N_("Closed"),
}
PRIORITY_LABELS = {
    "low": N_("Low"),
    "normal": N_("Normal"),
    "high": N_("High"),
    "urgent": N_("Urgent"),
}
TIER_LABELS = {"bot": N_("Bot"), "agent": N_("Agent"), "risk": N_("Risk")}
TEAM_LABELS = {"support": N_("Support"), "risk": N_("Risk"), "compliance": N_("Compliance")}
LANGUAGE_LABELS = {"en": "English", "zh-CN": "简体中文"}
ACTOR_LABELS = {
    "customer": N_("Customer"),
    "agent": N_("Agent"),
    "system": N_("System"),
    "bot": N_("Bot"),
}
EVENT_LABELS = {
    "created": N_("Ticket opened"),
    "status_changed": N_("Status changed"),
    "priority_changed": N_("Priority changed"),
    "escalated": N_("Escalated"),
    "de_escalated": N_("De-escalated"),
    "assigned": N_("Assigned"),
    "unassigned": N_("Unassigned"),
    "tags_changed": N_("Tags changed"),
    "sla_breached": N_("SLA breached"),
}


_EVENT_VALUE_LABELS = {
    "created": STATUS_LABELS,
    "status_changed": STATUS_LABELS,
    "priority_changed": PRIORITY_LABELS,
    "escalated": TIER_LABELS,
    "de_escalated": TIER_LABELS,
}


def event_value(kind: str, value: str | None, agent_names: dict[str, str]) -> str:
    """An event's before/after value as people say it: a status's name, an agent's name."""
    if value is None:
        return "—"
    if kind in ("assigned", "unassigned"):
        return agent_names.get(value, value)
    return _EVENT_VALUE_LABELS.get(kind, {}).get(value, value)


@dataclass(frozen=True)
class Timer:
    target: str
    due_at: datetime
    target_seconds: int
    at_risk_seconds: int
    state: SlaState
    # A met or paused clock stands still; only a running one counts down on the page.
    running: bool


@dataclass
class Row:
    ticket: Ticket
    timers: list[Timer] = field(default_factory=list)
    state: SlaState = SlaState.NONE

    @property
    def next_due(self) -> datetime | None:
        due = [t.due_at for t in self.timers if t.running]
        return min(due) if due else None


def timer_state(due_at: datetime, target_seconds: int, now: datetime) -> SlaState:
    remaining = (due_at - now).total_seconds()
    if remaining < 0:
        return SlaState.BREACHED
    if remaining <= target_seconds * AT_RISK_FRACTION:
        return SlaState.AT_RISK
    return SlaState.OK


def timers(status: sla.SlaStatus, now: datetime) -> list[Timer]:
    found: list[Timer] = []
    for clock in status.targets:
        due = as_utc(clock.due_at)
        at_risk = int(clock.target_seconds * AT_RISK_FRACTION)
        if clock.met_at is not None:
            state = SlaState.BREACHED if clock.state == sla.TargetState.BREACHED else SlaState.MET
            found.append(Timer(clock.target, due, clock.target_seconds, at_risk, state, False))
        elif clock.paused and now <= due:
            found.append(
                Timer(clock.target, due, clock.target_seconds, at_risk, SlaState.PAUSED, False)
            )
        else:
            state = timer_state(due, clock.target_seconds, now)
            found.append(Timer(clock.target, due, clock.target_seconds, at_risk, state, True))
    return found


def overall(found: Sequence[Timer]) -> SlaState:
    """The worst state among clocks still open; MET once every clock has stopped."""
    open_states = {t.state for t in found if t.running or t.state == SlaState.PAUSED}
    for state in _SEVERITY:
        if state in open_states:
            return state
    return SlaState.MET if found else SlaState.NONE


def row_for(session: Session, ticket: Ticket, now: datetime) -> Row:
    if ticket.status not in tickets.OPEN_STATUSES:
        # A solved or closed ticket's clocks have stopped; no need to recompute them for a list.
        stopped = SlaState.MET if sla.ticket_policy(session, ticket) else SlaState.NONE
        return Row(ticket, [], stopped)
    found = timers(sla.sla_status(session, ticket, now), now)
    return Row(ticket, found, overall(found))


def by_urgency(rows: list[Row]) -> list[Row]:
    """Overdue and soonest-due first, then paused, then stopped; higher priority first among
    equals; newest last."""
    far = datetime.max.replace(tzinfo=utcnow().tzinfo)

    def key(row: Row) -> tuple[int, datetime, int, str]:
        due = row.next_due
        group = 0 if due is not None else 1 if row.state == SlaState.PAUSED else 2
        priority = tickets.PRIORITY_ORDER.index(Priority(row.ticket.priority))
        return (group, due or far, -priority, row.ticket.id)

    return sorted(rows, key=key)


def duration_text(seconds: float, language: str) -> str:
    """`2 h 5 min`, `45 s`: two units at most, in the page's language."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    units = [
        (days, N_("%(n)s d")),
        (hours, N_("%(n)s h")),
        (minutes, N_("%(n)s min")),
        (secs, N_("%(n)s s")),
    ]
    first = next((i for i, (value, _) in enumerate(units) if value), len(units) - 1)
    shown = [units[first]]
    if first + 1 < len(units) and units[first + 1][0]:
        shown.append(units[first + 1])
    return " ".join(i18n.translate(unit, language, n=value) for value, unit in shown)


def timer_text(timer: Timer, now: datetime, language: str) -> str:
    """What the page says before the script takes over (and without it)."""
    state = i18n.translate(STATE_LABELS[timer.state], language)
    if timer.state == SlaState.MET or (timer.state == SlaState.BREACHED and not timer.running):
        return state
    if timer.state == SlaState.PAUSED:
        return state
    remaining = (timer.due_at - now).total_seconds()
    template = N_("overdue by %(time)s") if remaining < 0 else N_("due in %(time)s")
    when = i18n.translate(template, language, time=duration_text(remaining, language))
    return f"{state} · {when}"
