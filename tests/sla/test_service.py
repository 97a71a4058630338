"""SLA service on real databases: matching, clocks with pauses and cycles, the breach job."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.audit.models import AuditEntry
from kefu.audit.service import Actor, verify
from kefu.core.clock import clock
from kefu.core.db import session_factory
from kefu.core.errors import NotFound, ValidationFailed
from kefu.identity.models import Customer
from kefu.sla import service
from kefu.sla.models import SlaBreach, TicketSla
from kefu.sla.schemas import CalendarCreate, CalendarUpdate, PolicyCreate, PolicyUpdate
from kefu.sla.service import Target, TargetState
from kefu.tickets import service as tickets
from kefu.tickets.models import (
    Category,
    Channel,
    MessageKind,
    Priority,
    Status,
    Ticket,
    TicketEvent,
    Tier,
)
from tests.factories import make_customer, make_ticket

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # Mon 09:00 in Singapore
ADMIN = Actor.system()
AGENT = Actor.agent("agent-1")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def move_to(minutes: float) -> datetime:
    clock.freeze(at(minutes))
    return at(minutes)


def policy(session: Session, name: str, **fields: object) -> str:
    created = service.create_policy(session, PolicyCreate(name=name, **fields), ADMIN)  # type: ignore[arg-type]
    session.commit()
    return created.id


def customer(session: Session, **fields: object) -> Customer:
    return make_customer(session, **fields)


def say(session: Session, ticket: Ticket, kind: MessageKind, minutes: float) -> None:
    move_to(minutes)
    actor = AGENT if kind == MessageKind.AGENT else Actor.customer(ticket.customer_id)
    tickets.add_message(session, ticket, kind=kind, actor=actor, body="hello")
    session.commit()


def set_status(session: Session, ticket: Ticket, status: Status, minutes: float) -> None:
    move_to(minutes)
    tickets.change_status(session, ticket, status, AGENT)
    session.commit()


# --- matching --------------------------------------------------------------------------------


def test_first_matching_policy_in_position_order_wins(session: Session) -> None:
    catch_all = policy(session, "All", first_response_minutes=600)
    singapore = policy(session, "SG", position=1, jurisdictions=["sg"], first_response_minutes=60)
    chinese = policy(
        session,
        "zh VIP",
        position=2,
        languages=["zh"],
        customer_tiers=["vip"],
        first_response_minutes=30,
    )
    assert [p.name for p in service.list_policies(session)] == ["SG", "zh VIP", "All"]

    sg = customer(session, jurisdiction="SG")
    de_vip = customer(session, jurisdiction="DE", language="zh-CN", tier="vip")
    de_std = customer(session, jurisdiction="DE", language="zh-CN")
    move_to(0)
    assert service.match_policy(session, make_ticket(session, sg), sg).id == singapore
    assert service.match_policy(session, make_ticket(session, de_vip), de_vip).id == chinese
    assert service.match_policy(session, make_ticket(session, de_std), de_std).id == catch_all

    # Reordering changes the winner; deactivating removes a policy from matching.
    service.reorder_policies(session, [catch_all, singapore, chinese], ADMIN)
    assert service.match_policy(session, make_ticket(session, sg), sg).id == catch_all
    service.deactivate_policy(session, catch_all, ADMIN)
    assert service.match_policy(session, make_ticket(session, sg), sg).id == singapore


def test_category_and_priority_criteria(session: Session) -> None:
    urgent_kyc = policy(
        session, "urgent kyc", categories=["kyc"], priorities=["urgent"], first_response_minutes=15
    )
    someone = customer(session)
    move_to(0)
    kyc_urgent = make_ticket(session, someone, Category.KYC, priority=Priority.URGENT)
    kyc_normal = make_ticket(session, someone, Category.KYC)
    assert service.match_policy(session, kyc_urgent, someone).id == urgent_kyc
    assert service.match_policy(session, kyc_normal, someone) is None


def test_ticket_keeps_its_first_policy(session: Session) -> None:
    first = policy(session, "first", first_response_minutes=60)
    move_to(0)
    ticket = make_ticket(session, customer(session))
    link = service.attach_policy(session, ticket)  # the creation hook already attached it
    assert link is not None and link.policy_id == first
    policy(session, "better", position=1, first_response_minutes=5)
    again = service.attach_policy(session, ticket)
    assert again is not None and again.policy_id == first
    assert len(session.scalars(select(TicketSla)).all()) == 1


def test_default_policies(session: Session) -> None:
    created = service.ensure_default_policies(session)
    assert [(p.name, p.position) for p in created] == [("Security", 1), ("Default", 2)]
    assert service.ensure_default_policies(session) == []
    session.commit()
    security, default = created
    assert (security.categories, security.first_response_minutes) == (["security"], 60)
    assert not security.business_hours
    assert (default.first_response_minutes, default.resolution_minutes) == (24 * 60, 72 * 60)

    someone = customer(session)
    move_to(0)
    hacked = make_ticket(session, someone, Category.SECURITY)
    login = make_ticket(session, someone)
    assert service.sla_status(session, hacked).policy_name == "Security"
    status = service.sla_status(session, login)
    assert status.policy_name == "Default"
    first = status.target(Target.FIRST_RESPONSE)
    assert first is not None and first.due_at == at(24 * 60)


# --- policy and calendar management ----------------------------------------------------------


def test_policy_crud_validation(session: Session) -> None:
    with pytest.raises(NotFound):
        service.create_policy(
            session,
            PolicyCreate(
                name="x", first_response_minutes=5, business_hours=True, calendar_id="missing"
            ),
            ADMIN,
        )
    a = policy(session, "a", first_response_minutes=5)
    b = policy(session, "b", first_response_minutes=5)
    c = policy(session, "c", position=1, first_response_minutes=5)
    assert [p.id for p in service.list_policies(session)] == [c, a, b]
    service.update_policy(session, b, PolicyUpdate(position=1, name="b2"), ADMIN)
    assert [(p.name, p.position) for p in service.list_policies(session)] == [
        ("b2", 1),
        ("c", 2),
        ("a", 3),
    ]
    with pytest.raises(ValidationFailed):
        service.update_policy(session, a, PolicyUpdate(first_response_minutes=None), ADMIN)
    session.rollback()
    with pytest.raises(ValidationFailed):
        service.reorder_policies(session, [a, b], ADMIN)
    with pytest.raises(NotFound):
        service.get_policy(session, "nope")


def test_calendar_crud(session: Session) -> None:
    hours = {"mon": [["09:00", "18:00"]]}
    cal = service.create_calendar(
        session, CalendarCreate(name="SG", timezone="Asia/Singapore", weekly_hours=hours), ADMIN
    )
    assert [c.name for c in service.list_calendars(session)] == ["SG"]
    with pytest.raises(service.DuplicateName):
        service.create_calendar(
            session, CalendarCreate(name="SG", timezone="UTC", weekly_hours=hours), ADMIN
        )
    updated = service.update_calendar(
        session, cal.id, CalendarUpdate(holidays=["2026-12-25"], timezone="Europe/Berlin"), ADMIN
    )
    assert (updated.timezone, updated.holidays, updated.weekly_hours) == (
        "Europe/Berlin",
        ["2026-12-25"],
        hours,
    )
    with pytest.raises(NotFound):
        service.get_calendar(session, "nope")


# --- clocks ----------------------------------------------------------------------------------


def test_resolution_clock_pauses_while_pending_customer(session: Session) -> None:
    policy(session, "resolve in 1h", resolution_minutes=60)
    move_to(0)
    ticket = make_ticket(session, customer(session))
    set_status(session, ticket, Status.PENDING_CUSTOMER, 20)

    # At +50 min: 20 min ran, then paused; due is projected from now (40 min left).
    status = service.sla_status(session, ticket, at(50))
    clock_ = status.target(Target.RESOLUTION)
    assert clock_ is not None
    assert status.paused and clock_.state == TargetState.PAUSED and clock_.paused
    assert clock_.elapsed_seconds == 20 * 60
    assert clock_.remaining_seconds == 40 * 60
    assert clock_.due_at == at(90)

    # The customer answers at +80 (which reopens the ticket): 20 + 0 = 20 min ran, due +120.
    say(session, ticket, MessageKind.CUSTOMER, 80)
    status = service.sla_status(session, ticket, at(100))
    clock_ = status.target(Target.RESOLUTION)
    assert clock_ is not None
    assert clock_.state == TargetState.RUNNING and not status.paused
    assert clock_.elapsed_seconds == 40 * 60
    assert clock_.due_at == at(120)

    # Overdue at +121, and solving at +130 leaves it breached (met late).
    assert service.sla_status(session, ticket, at(121)).targets[0].state == TargetState.BREACHED
    set_status(session, ticket, Status.SOLVED, 130)
    clock_ = service.sla_status(session, ticket, at(200)).targets[0]
    assert clock_.state == TargetState.BREACHED and clock_.met_at == at(130)
    assert clock_.elapsed_seconds == 70 * 60


def test_reopened_ticket_does_not_count_the_solved_days(session: Session) -> None:
    policy(session, "resolve in 1h", resolution_minutes=60)
    move_to(0)
    ticket = make_ticket(session, customer(session))
    set_status(session, ticket, Status.SOLVED, 30)
    # Reopened two days later: 30 min ran before the solve, 10 min after the reopen.
    set_status(session, ticket, Status.OPEN, 2 * 24 * 60)
    clock_ = service.sla_status(session, ticket, at(2 * 24 * 60 + 10)).targets[0]
    assert (clock_.state, clock_.elapsed_seconds) == (TargetState.RUNNING, 40 * 60)
    assert clock_.due_at == at(2 * 24 * 60 + 30)


def test_first_response_met_by_agent_message(session: Session) -> None:
    policy(session, "fr", first_response_minutes=30, resolution_minutes=600)
    move_to(0)
    ticket = make_ticket(session, customer(session))
    say(session, ticket, MessageKind.INTERNAL_NOTE, 5)  # a note is not a response
    assert service.sla_status(session, ticket, at(10)).targets[0].state == TargetState.RUNNING
    say(session, ticket, MessageKind.AGENT, 25)
    first = service.sla_status(session, ticket, at(300)).target(Target.FIRST_RESPONSE)
    assert first is not None
    assert (first.state, first.met_at, first.elapsed_seconds) == (TargetState.MET, at(25), 1500)


def test_next_response_cycles(session: Session) -> None:
    policy(session, "nr", next_response_minutes=60)
    move_to(0)
    ticket = make_ticket(session, customer(session))
    # The opening message belongs to first response: no next-response clock yet.
    assert service.sla_status(session, ticket, at(5)).targets == []
    say(session, ticket, MessageKind.AGENT, 10)
    say(session, ticket, MessageKind.CUSTOMER, 20)  # wait 0 starts
    say(session, ticket, MessageKind.CUSTOMER, 30)  # same wait
    say(session, ticket, MessageKind.AGENT, 100)  # 80 min after +20: late
    say(session, ticket, MessageKind.CUSTOMER, 110)  # wait 1 starts
    status = service.sla_status(session, ticket, at(130))
    first, second = status.next_response_cycles
    assert (first.cycle, first.started_at, first.met_at, first.state) == (
        0,
        at(20),
        at(100),
        TargetState.BREACHED,
    )
    assert (second.cycle, second.started_at, second.due_at, second.state) == (
        1,
        at(110),
        at(170),
        TargetState.RUNNING,
    )
    assert status.target(Target.NEXT_RESPONSE) == second


def test_business_hours_policy(session: Session) -> None:
    hours = {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    cal = service.create_calendar(
        session, CalendarCreate(name="SG", timezone="Asia/Singapore", weekly_hours=hours), ADMIN
    )
    policy(session, "bh", first_response_minutes=120, business_hours=True, calendar_id=cal.id)
    # Fri 27 Nov 17:00 SGT (09:00 UTC): 1 h on Friday, 1 h on Monday -> Mon 10:00 SGT.
    clock.freeze(datetime(2026, 11, 27, 9, tzinfo=UTC))
    ticket = make_ticket(session, customer(session))
    status = service.sla_status(session, ticket, datetime(2026, 11, 28, 9, tzinfo=UTC))
    first = status.targets[0]
    assert status.business_hours
    assert first.due_at == datetime(2026, 11, 30, 2, tzinfo=UTC)
    assert (first.elapsed_seconds, first.state) == (3600, TargetState.RUNNING)


def test_ticket_without_policy_has_no_clocks(session: Session) -> None:
    move_to(0)
    ticket = make_ticket(session, customer(session))
    status = service.sla_status(session, ticket)
    assert status.policy_id is None and status.targets == []
    assert service.scan_breaches(session, at(10_000)) == []


# --- the breach job --------------------------------------------------------------------------


def events(session: Session, ticket: Ticket, kind: str) -> list[TicketEvent]:
    return list(
        session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == kind)
        )
    )


def test_breach_escalates_once(session: Session) -> None:
    policy(session, "fr", first_response_minutes=60)
    move_to(0)
    ticket = make_ticket(session, customer(session), channel=Channel.BOT)
    assert (ticket.tier, ticket.priority) == (Tier.BOT, Priority.NORMAL)

    assert service.scan_breaches(session, at(60)) == []  # due exactly now: not late yet
    move_to(61)
    (breach,) = service.scan_breaches(session)
    session.commit()
    assert (breach.target, breach.cycle, breach.due_at) == ("first_response", 0, at(60))
    assert breach.actions == [
        {"type": "notify", "role": "supervisor", "team": "support"},
        {"type": "priority", "from": "normal", "to": "high"},
        {"type": "tier", "from": "bot", "to": "agent"},
    ]
    session.refresh(ticket)
    assert (ticket.priority, ticket.tier) == (Priority.HIGH, Tier.AGENT)
    (event,) = events(session, ticket, "sla_breached")
    assert event.to_value == "first_response"
    assert event.data["due_at"] == at(60).isoformat()

    # A second (and third) run finds nothing new and changes nothing.
    assert service.scan_breaches(session, at(120)) == []
    assert service.scan_breaches(session, at(10_000)) == []
    session.commit()
    session.refresh(ticket)
    assert ticket.priority == Priority.HIGH
    assert len(session.scalars(select(SlaBreach)).all()) == 1
    assert len(events(session, ticket, "sla_breached")) == 1
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "sla.breached")).all()
    assert len(audit) == 1 and audit[0].subject_id == ticket.id
    assert verify(session).ok


def test_breach_does_not_move_agent_tier_to_risk(session: Session) -> None:
    policy(session, "fr", first_response_minutes=60, resolution_minutes=120)
    move_to(0)
    ticket = make_ticket(session, customer(session), priority=Priority.HIGH)
    move_to(200)
    breaches = service.scan_breaches(session)
    session.commit()
    assert sorted(b.target for b in breaches) == ["first_response", "resolution"]
    session.refresh(ticket)
    # Two breaches, two steps: high -> urgent, then capped at urgent.
    assert (ticket.priority, ticket.tier) == (Priority.URGENT, Tier.AGENT)
    for breach in breaches:
        assert {
            "type": "tier_kept",
            "tier": "agent",
            "reason": "an SLA breach does not move a ticket to the risk tier",
        } in breach.actions


def test_late_response_is_recorded_without_escalation(session: Session) -> None:
    policy(session, "fr", first_response_minutes=60)
    move_to(0)
    ticket = make_ticket(session, customer(session))
    say(session, ticket, MessageKind.AGENT, 90)  # answered late, between two scans
    (breach,) = service.scan_breaches(session, at(95))
    assert breach.actions == []
    session.refresh(ticket)
    assert ticket.priority == Priority.NORMAL


def test_solved_tickets_are_not_scanned(session: Session) -> None:
    policy(session, "res", resolution_minutes=60)
    move_to(0)
    ticket = make_ticket(session, customer(session))
    set_status(session, ticket, Status.SOLVED, 90)
    assert service.scan_breaches(session, at(100)) == []


def test_next_response_breach_per_cycle(session: Session) -> None:
    policy(session, "nr", next_response_minutes=30)
    move_to(0)
    ticket = make_ticket(session, customer(session))
    say(session, ticket, MessageKind.AGENT, 1)
    say(session, ticket, MessageKind.CUSTOMER, 2)
    move_to(40)
    assert [(b.target, b.cycle) for b in service.scan_breaches(session)] == [("next_response", 0)]
    session.commit()
    say(session, ticket, MessageKind.AGENT, 50)
    say(session, ticket, MessageKind.CUSTOMER, 60)
    assert service.scan_breaches(session, at(80)) == []
    assert [(b.target, b.cycle) for b in service.scan_breaches(session, at(91))] == [
        ("next_response", 1)
    ]


def test_claim_is_exclusive(session: Session, engine: Engine) -> None:
    """The unique key decides a race: a second claim of the same breach gets nothing."""
    policy(session, "fr", first_response_minutes=60)
    move_to(0)
    ticket = make_ticket(session, customer(session))
    clock_ = service.sla_status(session, ticket, at(61)).targets[0]
    assert service._claim_breach(session, clock_, ticket.id, at(61)) is not None
    session.commit()
    with session_factory(engine)() as other:
        assert service._claim_breach(other, clock_, ticket.id, at(62)) is None
        other.commit()
    assert len(session.scalars(select(SlaBreach)).all()) == 1


def test_concurrent_scans_escalate_once(session: Session, engine: Engine) -> None:
    policy(session, "fr", first_response_minutes=60)
    move_to(0)
    ticket = make_ticket(session, customer(session))
    session.close()
    barrier = threading.Barrier(2)
    found: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with session_factory(engine)() as own:
                barrier.wait()
                found.append(len(service.scan_breaches(own, at(61))))
                own.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert sorted(found) == [0, 1]
    with session_factory(engine)() as check:
        fresh = check.get(Ticket, ticket.id)
        assert fresh is not None and fresh.priority == Priority.HIGH
        assert len(check.scalars(select(SlaBreach)).all()) == 1
