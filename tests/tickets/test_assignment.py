"""Assignment: by hand (to oneself, or to others with the right role) and round-robin by load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kefu.audit.service import Actor
from kefu.core.clock import clock
from kefu.identity.models import Agent, Customer, Role
from kefu.tickets import service as tickets
from kefu.tickets.models import Status
from tests.core.helpers import assert_problem, get_ticket, open_ticket, snapshot
from tests.factories import (
    agent_headers,
    customer_headers,
    make_agent,
    make_customer,
    make_ticket,
)

T0 = datetime(2030, 5, 6, 8, 0, tzinfo=UTC)


def _assign(client: TestClient, headers: dict[str, str], ticket_id: str, **body: object):
    return client.post(f"/api/v1/tickets/{ticket_id}/assign", json=body, headers=headers)


def _give_load(
    session: Session, customer: Customer, agent: Agent, n: int, status: Status | None = None
) -> None:
    """Assign `n` tickets in agent's queue to agent (optionally moving them on to `status`)."""
    for _ in range(n):
        ticket = make_ticket(session, customer)
        tickets.assign(session, ticket, agent, Actor.system())
        if status is not None:
            tickets.change_status(session, ticket, Status.OPEN, Actor.system())
            tickets.change_status(session, ticket, status, Actor.system())
        session.commit()


def _dispatcher(session: Session) -> Agent:
    """A supervisor who can assign anyone but serves no English queue, so never a candidate."""
    return make_agent(session, Role.SUPERVISOR, languages=["zh-CN"])


# --- by hand ----------------------------------------------------------------------------------


def test_an_agent_can_take_a_ticket_but_not_hand_it_to_someone_else(
    client: TestClient, session: Session, engine
) -> None:
    customer = make_customer(session)
    me, colleague = make_agent(session), make_agent(session)
    me_h = agent_headers(client, me)
    ticket = open_ticket(client, customer_headers(customer))

    taken = _assign(client, me_h, ticket["id"], agent_id=me.id)
    assert taken.status_code == 200, taken.text
    assert taken.json()["assignee_id"] == me.id

    before = snapshot(engine)
    assert_problem(
        _assign(client, me_h, ticket["id"], agent_id=colleague.id), 403, "permission_denied"
    )
    assert snapshot(engine) == before
    assert get_ticket(client, me_h, ticket["id"])["assignee_id"] == me.id

    released = _assign(client, me_h, ticket["id"])
    assert released.json()["assignee_id"] is None
    kinds = [
        (e["kind"], e["from_value"], e["to_value"])
        for e in client.get(f"/api/v1/tickets/{ticket['id']}/events", headers=me_h).json()
    ]
    assert kinds[-2:] == [("assigned", None, me.id), ("unassigned", me.id, None)]


def test_a_supervisor_assigns_others_but_only_to_agents_serving_the_queue(
    client: TestClient, session: Session, engine
) -> None:
    customer = make_customer(session)
    supervisor_h = agent_headers(client, make_agent(session, Role.SUPERVISOR))
    english = make_agent(session, languages=["en"])
    chinese_only = make_agent(session, languages=["zh-CN"])
    plain_agent = make_agent(session)
    ticket = open_ticket(client, customer_headers(customer))
    risk = open_ticket(client, customer_headers(customer), category="security")

    ok = _assign(client, supervisor_h, ticket["id"], agent_id=english.id)
    assert ok.status_code == 200, ok.text
    assert ok.json()["assignee_id"] == english.id

    before = snapshot(engine)
    for ticket_id, agent in ((ticket["id"], chinese_only), (risk["id"], plain_agent)):
        response = _assign(client, supervisor_h, ticket_id, agent_id=agent.id)
        assert_problem(response, 409, "agent_not_eligible")
    missing = _assign(client, supervisor_h, ticket["id"], agent_id="no-such-agent")
    assert_problem(missing, 404, "not_found")
    assert snapshot(engine) == before
    assert get_ticket(client, supervisor_h, ticket["id"])["assignee_id"] == english.id


def test_an_inactive_agent_cannot_be_assigned(client: TestClient, session: Session) -> None:
    customer = make_customer(session)
    supervisor_h = agent_headers(client, make_agent(session, Role.SUPERVISOR))
    gone = make_agent(session, active=False)
    ticket = open_ticket(client, customer_headers(customer))
    assert_problem(
        _assign(client, supervisor_h, ticket["id"], agent_id=gone.id), 409, "agent_not_eligible"
    )


def test_agent_id_and_auto_together_are_refused(client: TestClient, session: Session) -> None:
    customer = make_customer(session)
    me = make_agent(session)
    ticket = open_ticket(client, customer_headers(customer))
    response = _assign(client, agent_headers(client, me), ticket["id"], agent_id=me.id, auto=True)
    assert_problem(response, 400, "bad_request")


# --- round-robin ------------------------------------------------------------------------------


def test_auto_assignment_picks_the_least_loaded_agent(client: TestClient, session: Session) -> None:
    customer = make_customer(session)
    dispatcher_h = agent_headers(client, _dispatcher(session))
    idle, busy, medium = make_agent(session), make_agent(session), make_agent(session)
    _give_load(session, customer, busy, 2)
    _give_load(session, customer, medium, 1)
    # Longer since their last assignment, but busier: load comes first.
    busy.last_assigned_at = medium.last_assigned_at = T0 - timedelta(days=30)
    idle.last_assigned_at = T0
    session.merge(busy), session.merge(medium), session.merge(idle)
    session.commit()
    ticket = open_ticket(client, customer_headers(customer))

    response = _assign(client, dispatcher_h, ticket["id"], auto=True)

    assert response.status_code == 200, response.text
    assert response.json()["assignee_id"] == idle.id
    last = client.get(f"/api/v1/tickets/{ticket['id']}/events", headers=dispatcher_h).json()[-1]
    assert (last["kind"], last["to_value"], last["data"]["mode"]) == (
        "assigned",
        idle.id,
        "round_robin",
    )


def test_only_open_tickets_count_as_load(client: TestClient, session: Session) -> None:
    customer = make_customer(session)
    dispatcher_h = agent_headers(client, _dispatcher(session))
    finisher, juggler = make_agent(session), make_agent(session)
    _give_load(session, customer, finisher, 3, status=Status.SOLVED)
    _give_load(session, customer, juggler, 1, status=Status.PENDING_CUSTOMER)
    ticket = open_ticket(client, customer_headers(customer))

    response = _assign(client, dispatcher_h, ticket["id"], auto=True)
    assert response.json()["assignee_id"] == finisher.id


def test_ties_go_to_whoever_waited_longest(client: TestClient, session: Session) -> None:
    clock.freeze(T0)
    customer = make_customer(session)
    dispatcher_h = agent_headers(client, _dispatcher(session))
    recent = make_agent(session, last_assigned_at=T0 - timedelta(minutes=5))
    longest = make_agent(session, last_assigned_at=T0 - timedelta(hours=3))
    never = make_agent(session)

    winners = []
    for step in range(4):
        clock.freeze(T0 + timedelta(minutes=step))
        ticket = open_ticket(client, customer_headers(customer))
        response = _assign(client, dispatcher_h, ticket["id"], auto=True)
        assert response.status_code == 200, response.text
        winners.append(response.json()["assignee_id"])

    # Never assigned first; then the longest wait; then the recent one; then, all at load 1,
    # the one whose last assignment is oldest again.
    assert winners == [never.id, longest.id, recent.id, never.id]


def test_inactive_and_full_agents_are_skipped(client: TestClient, session: Session) -> None:
    customer = make_customer(session)
    dispatcher_h = agent_headers(client, _dispatcher(session))
    make_agent(session, active=False)  # idle, but switched off
    full = make_agent(session, max_open_tickets=2)
    _give_load(session, customer, full, 2)
    available = make_agent(session, max_open_tickets=30)
    _give_load(session, customer, available, 4)
    ticket = open_ticket(client, customer_headers(customer))

    response = _assign(client, dispatcher_h, ticket["id"], auto=True)
    assert response.json()["assignee_id"] == available.id


def test_agents_of_other_queues_are_not_candidates(client: TestClient, session: Session) -> None:
    customer = make_customer(session, language="zh-CN")
    dispatcher_h = agent_headers(client, make_agent(session, Role.SUPERVISOR, languages=["en"]))
    make_agent(session, languages=["en"])
    chinese = make_agent(session, languages=["zh-CN"])
    _give_load(session, customer, chinese, 3)
    ticket = open_ticket(client, customer_headers(customer))
    assert ticket["queue"] == "support:zh-CN"

    response = _assign(client, dispatcher_h, ticket["id"], auto=True)
    assert response.json()["assignee_id"] == chinese.id


def test_no_eligible_agent_gives_409_and_changes_nothing(
    client: TestClient, session: Session, engine
) -> None:
    customer = make_customer(session)
    dispatcher_h = agent_headers(client, _dispatcher(session))
    make_agent(session, active=False)
    full = make_agent(session, max_open_tickets=1)
    _give_load(session, customer, full, 1)
    ticket = open_ticket(client, customer_headers(customer))
    before = snapshot(engine)

    response = _assign(client, dispatcher_h, ticket["id"], auto=True)

    assert_problem(response, 409, "no_agent_available")
    assert snapshot(engine) == before
    assert get_ticket(client, dispatcher_h, ticket["id"])["assignee_id"] is None
