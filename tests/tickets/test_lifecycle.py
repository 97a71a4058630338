"""The ticket lifecycle as API clients see it: create, list, read, converse, move, tag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kefu.core.clock import clock
from kefu.identity.models import Agent, Customer
from kefu.tickets.models import Message
from tests.core.helpers import (
    assert_problem,
    count,
    get_ticket,
    open_ticket,
    parse_time,
    snapshot,
)
from tests.factories import agent_headers, customer_headers, make_agent, make_customer

T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def customer(session: Session) -> Customer:
    return make_customer(session)


@pytest.fixture
def agent(session: Session) -> Agent:
    return make_agent(session)


@pytest.fixture
def agent_h(client: TestClient, agent: Agent) -> dict[str, str]:
    return agent_headers(client, agent)


def _messages(client: TestClient, headers: dict[str, str], ticket_id: str) -> list[dict]:
    response = client.get(f"/api/v1/tickets/{ticket_id}/messages", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _post_message(client: TestClient, headers: dict[str, str], ticket_id: str, **body: object):
    return client.post(f"/api/v1/tickets/{ticket_id}/messages", json=body, headers=headers)


def _set_status(client: TestClient, headers: dict[str, str], ticket_id: str, status: str):
    return client.post(
        f"/api/v1/tickets/{ticket_id}/status", json={"status": status}, headers=headers
    )


# --- create -----------------------------------------------------------------------------------


def test_customer_opens_a_ticket_with_their_token(
    client: TestClient, customer: Customer, engine
) -> None:
    headers = customer_headers(customer)
    created = open_ticket(client, headers, category="deposit", tags=["  BTC ", "on-chain", "btc"])

    assert created["customer_id"] == customer.id
    assert created["status"] == "new"
    assert created["category"] == "deposit"
    assert (created["tier"], created["team"]) == ("agent", "support")
    assert created["queue"] == f"support:{customer.language}"
    assert created["tags"] == ["btc", "on-chain"]
    assert created["reference"].startswith("KF-")
    assert created["first_responded_at"] is None

    assert get_ticket(client, headers, created["id"]) == created
    opening = _messages(client, headers, created["id"])
    assert [(m["kind"], m["author_type"], m["author_id"]) for m in opening] == [
        ("customer", "customer", customer.id)
    ]
    assert opening[0]["body"] == "I sent 0.1 BTC an hour ago"


def test_customer_cannot_open_a_ticket_in_someone_elses_name(
    client: TestClient, session: Session, customer: Customer
) -> None:
    other = make_customer(session)
    created = open_ticket(client, customer_headers(customer), customer_id=other.id)

    assert created["customer_id"] == customer.id
    response = client.get(f"/api/v1/tickets/{created['id']}", headers=customer_headers(other))
    assert_problem(response, 404, "not_found")


def test_ticket_language_follows_the_customer_unless_given(
    client: TestClient, session: Session
) -> None:
    chinese = make_customer(session, language="zh-CN")
    headers = customer_headers(chinese)

    assert open_ticket(client, headers)["queue"] == "support:zh-CN"
    assert open_ticket(client, headers, language="en")["queue"] == "support:en"


def test_agent_opens_a_ticket_on_behalf_of_a_customer(
    client: TestClient, customer: Customer, agent: Agent, agent_h: dict[str, str]
) -> None:
    created = open_ticket(client, agent_h, customer_id=customer.id, channel="email")

    assert created["customer_id"] == customer.id
    assert created["channel"] == "email"
    # The opening words are the customer's even when an agent files them.
    opening = _messages(client, agent_h, created["id"])
    assert [(m["kind"], m["author_type"], m["author_id"]) for m in opening] == [
        ("customer", "agent", agent.id)
    ]
    # And the customer sees the ticket as theirs.
    assert get_ticket(client, customer_headers(customer), created["id"])["id"] == created["id"]


def test_agent_must_name_an_existing_customer(
    client: TestClient, agent_h: dict[str, str], engine
) -> None:
    before = snapshot(engine)
    payload = {"subject": "Help", "body": "on behalf"}

    assert_problem(
        client.post("/api/v1/tickets", json=payload, headers=agent_h), 400, "bad_request"
    )
    missing = {**payload, "customer_id": "01900000-0000-7000-8000-000000000000"}
    assert_problem(client.post("/api/v1/tickets", json=missing, headers=agent_h), 404, "not_found")
    assert snapshot(engine) == before


# --- list and read ----------------------------------------------------------------------------


def test_list_filters_by_status_category_and_tag(
    client: TestClient, customer: Customer, agent_h: dict[str, str]
) -> None:
    headers = customer_headers(customer)
    deposit = open_ticket(client, headers, category="deposit", tags=["vip"])
    withdrawal = open_ticket(client, headers, category="withdrawal", tags=["vip", "eth"])
    other_deposit = open_ticket(client, headers, category="deposit")
    assert _set_status(client, agent_h, withdrawal["id"], "open").status_code == 200

    def ids(**params: object) -> list[str]:
        response = client.get("/api/v1/tickets", params=params, headers=agent_h)
        assert response.status_code == 200, response.text
        return [t["id"] for t in response.json()["items"]]

    assert ids(category="deposit") == [other_deposit["id"], deposit["id"]]
    assert ids(category="withdrawal") == [withdrawal["id"]]
    assert ids(category="kyc") == []
    assert ids(status="open") == [withdrawal["id"]]
    assert ids(status="new") == [other_deposit["id"], deposit["id"]]
    assert ids(status=["new", "open"]) == [other_deposit["id"], withdrawal["id"], deposit["id"]]
    assert ids(tag="vip") == [withdrawal["id"], deposit["id"]]
    assert ids(tag="VIP") == [withdrawal["id"], deposit["id"]]
    assert ids(tag="eth", category="withdrawal") == [withdrawal["id"]]
    assert ids(tag="eth", category="deposit") == []


def test_keyset_pagination_walks_newest_first_without_gaps_or_repeats(
    client: TestClient, customer: Customer, agent_h: dict[str, str]
) -> None:
    headers = customer_headers(customer)
    created = [open_ticket(client, headers, subject=f"ticket {n}")["id"] for n in range(5)]

    pages: list[list[str]] = []
    params: dict[str, object] = {"limit": 2}
    while True:
        body = client.get("/api/v1/tickets", params=params, headers=agent_h).json()
        pages.append([t["id"] for t in body["items"]])
        if body["next_before_id"] is None:
            break
        assert body["next_before_id"] == pages[-1][-1]
        params = {"limit": 2, "before_id": body["next_before_id"]}
        assert len(pages) < 10

    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for page in pages for i in page] == list(reversed(created))


def test_a_full_last_page_says_there_is_nothing_after_it(
    client: TestClient, customer: Customer, agent_h: dict[str, str]
) -> None:
    headers = customer_headers(customer)
    for n in range(4):
        open_ticket(client, headers, subject=f"ticket {n}")
    first = client.get("/api/v1/tickets", params={"limit": 2}, headers=agent_h).json()
    second = client.get(
        "/api/v1/tickets",
        params={"limit": 2, "before_id": first["next_before_id"]},
        headers=agent_h,
    ).json()
    assert len(second["items"]) == 2
    assert second["next_before_id"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"status": "waiting"},
        {"category": "crypto"},
        {"tier": "vip"},
        {"limit": 0},
        {"limit": 201},
        {"priority": "asap"},
        {"team": "sales"},
    ],
)
def test_list_filters_with_unknown_values_are_refused(
    client: TestClient, agent_h: dict[str, str], params: dict[str, object]
) -> None:
    body = assert_problem(
        client.get("/api/v1/tickets", params=params, headers=agent_h), 422, "validation_error"
    )
    assert body["errors"]


def test_customer_lists_only_their_own_tickets(
    client: TestClient, session: Session, customer: Customer
) -> None:
    other = make_customer(session)
    mine = open_ticket(client, customer_headers(customer))
    open_ticket(client, customer_headers(other))

    response = client.get("/api/v1/tickets", headers=customer_headers(customer))
    assert response.status_code == 200
    assert [t["id"] for t in response.json()["items"]] == [mine["id"]]


# --- conversation -----------------------------------------------------------------------------


def test_first_agent_reply_counts_as_first_response_and_opens_the_ticket(
    client: TestClient, customer: Customer, agent: Agent
) -> None:
    clock.freeze(T0)
    agent_h = agent_headers(client, agent)
    ticket = open_ticket(client, customer_headers(customer))

    clock.freeze(T0 + timedelta(minutes=7))
    reply = _post_message(client, agent_h, ticket["id"], body="Looking into it")
    assert reply.status_code == 201, reply.text
    assert (reply.json()["kind"], reply.json()["author_id"]) == ("agent", agent.id)

    after_first = get_ticket(client, agent_h, ticket["id"])
    assert after_first["status"] == "open"
    assert parse_time(after_first["first_responded_at"]) == T0 + timedelta(minutes=7)

    clock.freeze(T0 + timedelta(minutes=30))
    assert _post_message(client, agent_h, ticket["id"], body="Found it").status_code == 201
    later = get_ticket(client, agent_h, ticket["id"])
    assert parse_time(later["first_responded_at"]) == T0 + timedelta(minutes=7)


def test_customer_reply_moves_a_waiting_ticket_back_to_open(
    client: TestClient, customer: Customer, agent_h: dict[str, str]
) -> None:
    headers = customer_headers(customer)
    for waiting_status in ("pending_customer", "solved"):
        ticket = open_ticket(client, headers)
        assert _set_status(client, agent_h, ticket["id"], "open").status_code == 200
        assert _set_status(client, agent_h, ticket["id"], waiting_status).status_code == 200

        response = _post_message(client, headers, ticket["id"], body="Any news?")
        assert response.status_code == 201, response.text

        now = get_ticket(client, headers, ticket["id"])
        assert (now["status"], now["solved_at"]) == ("open", None), waiting_status


def test_customer_reply_leaves_a_new_ticket_new(client: TestClient, customer: Customer) -> None:
    headers = customer_headers(customer)
    ticket = open_ticket(client, headers)
    assert _post_message(client, headers, ticket["id"], body="More details").status_code == 201
    assert get_ticket(client, headers, ticket["id"])["status"] == "new"


def test_internal_notes_are_hidden_from_the_customer(
    client: TestClient, customer: Customer, agent_h: dict[str, str]
) -> None:
    headers = customer_headers(customer)
    ticket = open_ticket(client, headers)
    note = _post_message(
        client, agent_h, ticket["id"], body="Looks like phishing", kind="internal_note"
    )
    assert note.status_code == 201, note.text
    assert _post_message(client, agent_h, ticket["id"], body="Hello!").status_code == 201

    agent_view = [(m["kind"], m["body"]) for m in _messages(client, agent_h, ticket["id"])]
    customer_view = [(m["kind"], m["body"]) for m in _messages(client, headers, ticket["id"])]
    assert ("internal_note", "Looks like phishing") in agent_view
    assert len(agent_view) == 3
    assert customer_view == [(k, b) for k, b in agent_view if k != "internal_note"]
    assert all("phishing" not in body for _, body in customer_view)


def test_an_internal_note_is_not_a_first_response(
    client: TestClient, customer: Customer, agent_h: dict[str, str]
) -> None:
    ticket = open_ticket(client, customer_headers(customer))
    note = _post_message(client, agent_h, ticket["id"], body="check logs", kind="internal_note")
    assert note.status_code == 201
    now = get_ticket(client, agent_h, ticket["id"])
    assert (now["status"], now["first_responded_at"]) == ("new", None)


def test_customer_cannot_post_an_internal_note(
    client: TestClient, customer: Customer, engine
) -> None:
    headers = customer_headers(customer)
    ticket = open_ticket(client, headers)
    before = snapshot(engine)

    response = _post_message(client, headers, ticket["id"], body="sneaky", kind="internal_note")

    assert_problem(response, 403, "permission_denied")
    assert snapshot(engine) == before


def test_agent_cannot_write_in_the_customers_voice(
    client: TestClient, customer: Customer, agent_h: dict[str, str], engine
) -> None:
    ticket = open_ticket(client, customer_headers(customer))
    before = snapshot(engine)
    response = _post_message(client, agent_h, ticket["id"], body="I agree", kind="customer")
    assert_problem(response, 400, "bad_request")
    assert snapshot(engine) == before


def test_blank_message_is_refused(client: TestClient, customer: Customer, engine) -> None:
    headers = customer_headers(customer)
    ticket = open_ticket(client, headers)
    before = snapshot(engine)
    assert_problem(_post_message(client, headers, ticket["id"], body="   "), 400, "bad_request")
    assert snapshot(engine) == before


# --- status -----------------------------------------------------------------------------------


def test_the_full_status_chain(client: TestClient, customer: Customer, agent: Agent) -> None:
    clock.freeze(T0)
    agent_h = agent_headers(client, agent)
    ticket = open_ticket(client, customer_headers(customer))
    chain = ["open", "pending_customer", "open", "solved", "closed"]
    for step, target in enumerate(chain, start=1):
        clock.freeze(T0 + timedelta(hours=step))
        response = _set_status(client, agent_h, ticket["id"], target)
        assert response.status_code == 200, (target, response.text)
        assert response.json()["status"] == target

    final = get_ticket(client, agent_h, ticket["id"])
    assert parse_time(final["solved_at"]) == T0 + timedelta(hours=4)
    assert parse_time(final["closed_at"]) == T0 + timedelta(hours=5)

    events = client.get(f"/api/v1/tickets/{ticket['id']}/events", headers=agent_h).json()
    moves = [(e["from_value"], e["to_value"]) for e in events if e["kind"] == "status_changed"]
    assert moves == list(zip(["new", *chain[:-1]], chain, strict=True))
    assert all(e["actor_id"] == agent.id for e in events if e["kind"] == "status_changed")


INVALID_MOVES = [
    ([], "closed"),
    ([], "new"),
    (["open"], "closed"),
    (["open"], "open"),
    (["open", "solved"], "pending_customer"),
    (["open", "solved", "closed"], "open"),
    (["open", "solved", "closed"], "solved"),
]


def test_invalid_transitions_are_refused_and_change_nothing(
    client: TestClient, customer: Customer, agent_h: dict[str, str], engine
) -> None:
    for path, target in INVALID_MOVES:
        ticket = open_ticket(client, customer_headers(customer))
        for step in path:
            assert _set_status(client, agent_h, ticket["id"], step).status_code == 200
        before_ticket = get_ticket(client, agent_h, ticket["id"])
        before = snapshot(engine)

        response = _set_status(client, agent_h, ticket["id"], target)

        body = assert_problem(response, 409, "invalid_transition")
        assert target in body["title"], (path, target)
        assert snapshot(engine) == before, (path, target)
        assert get_ticket(client, agent_h, ticket["id"]) == before_ticket, (path, target)


def test_closed_is_final_for_messages_too(
    client: TestClient, customer: Customer, agent_h: dict[str, str], engine
) -> None:
    headers = customer_headers(customer)
    ticket = open_ticket(client, headers)
    for step in ("open", "solved", "closed"):
        assert _set_status(client, agent_h, ticket["id"], step).status_code == 200
    messages_before = count(engine, Message)
    before = snapshot(engine)

    assert_problem(
        _post_message(client, headers, ticket["id"], body="hello?"), 409, "ticket_closed"
    )
    assert_problem(
        _post_message(client, agent_h, ticket["id"], body="late reply"), 409, "ticket_closed"
    )

    assert count(engine, Message) == messages_before
    assert snapshot(engine) == before
    assert get_ticket(client, headers, ticket["id"])["status"] == "closed"


def test_reopening_a_solved_ticket_clears_solved_at(
    client: TestClient, customer: Customer, agent_h: dict[str, str]
) -> None:
    ticket = open_ticket(client, customer_headers(customer))
    assert _set_status(client, agent_h, ticket["id"], "open").status_code == 200
    solved = _set_status(client, agent_h, ticket["id"], "solved").json()
    assert solved["solved_at"] is not None

    reopened = _set_status(client, agent_h, ticket["id"], "open")
    assert reopened.status_code == 200
    assert (reopened.json()["status"], reopened.json()["solved_at"]) == ("open", None)

    events = client.get(f"/api/v1/tickets/{ticket['id']}/events", headers=agent_h).json()
    last = [e for e in events if e["kind"] == "status_changed"][-1]
    assert (last["from_value"], last["to_value"], last["data"]["reopened"]) == (
        "solved",
        "open",
        True,
    )


def test_status_reason_is_kept_in_the_history(
    client: TestClient, customer: Customer, agent_h: dict[str, str]
) -> None:
    ticket = open_ticket(client, customer_headers(customer))
    response = client.post(
        f"/api/v1/tickets/{ticket['id']}/status",
        json={"status": "pending_customer", "reason": "asked for tx hash"},
        headers=agent_h,
    )
    assert response.status_code == 200
    events = client.get(f"/api/v1/tickets/{ticket['id']}/events", headers=agent_h).json()
    assert events[-1]["reason"] == "asked for tx hash"


# --- tags -------------------------------------------------------------------------------------


def test_tags_are_added_and_removed(
    client: TestClient, customer: Customer, agent_h: dict[str, str]
) -> None:
    ticket = open_ticket(client, customer_headers(customer), tags=["btc"])
    url = f"/api/v1/tickets/{ticket['id']}/tags"

    added = client.post(url, json={"add": ["VIP", "refund", "btc"]}, headers=agent_h)
    assert added.status_code == 200, added.text
    assert added.json()["tags"] == ["btc", "refund", "vip"]

    changed = client.post(url, json={"add": ["eth"], "remove": ["btc", "nope"]}, headers=agent_h)
    assert sorted(changed.json()["tags"]) == ["eth", "refund", "vip"]
    assert get_ticket(client, agent_h, ticket["id"])["tags"] == ["eth", "refund", "vip"]

    events = client.get(f"/api/v1/tickets/{ticket['id']}/events", headers=agent_h).json()
    tag_events = [e["data"] for e in events if e["kind"] == "tags_changed"]
    assert tag_events == [
        {"added": ["refund", "vip"], "removed": []},
        {"added": ["eth"], "removed": ["btc"]},
    ]

    listed = client.get("/api/v1/tickets", params={"tag": "eth"}, headers=agent_h).json()
    assert [t["id"] for t in listed["items"]] == [ticket["id"]]


def test_a_tag_change_that_changes_nothing_leaves_no_history(
    client: TestClient, customer: Customer, agent_h: dict[str, str], engine
) -> None:
    ticket = open_ticket(client, customer_headers(customer), tags=["btc"])
    before = snapshot(engine)
    response = client.post(
        f"/api/v1/tickets/{ticket['id']}/tags",
        json={"add": ["BTC"], "remove": ["eth"]},
        headers=agent_h,
    )
    assert response.status_code == 200
    assert response.json()["tags"] == ["btc"]
    assert snapshot(engine)["events"] == before["events"]


def test_too_many_tags_are_refused(
    client: TestClient, customer: Customer, agent_h: dict[str, str], engine
) -> None:
    ticket = open_ticket(client, customer_headers(customer), tags=[f"t{n}" for n in range(15)])
    before = snapshot(engine)
    response = client.post(
        f"/api/v1/tickets/{ticket['id']}/tags",
        json={"add": [f"x{n}" for n in range(10)]},
        headers=agent_h,
    )
    assert_problem(response, 400, "bad_request")
    assert snapshot(engine) == before
    assert len(get_ticket(client, agent_h, ticket["id"])["tags"]) == 15


def test_tag_change_answers_in_the_same_order_as_a_read(
    client: TestClient, customer: Customer, agent_h: dict[str, str]
) -> None:
    ticket = open_ticket(client, customer_headers(customer), tags=["zeta"])
    changed = client.post(
        f"/api/v1/tickets/{ticket['id']}/tags", json={"add": ["alpha"]}, headers=agent_h
    )
    assert changed.status_code == 200
    assert changed.json()["tags"] == get_ticket(client, agent_h, ticket["id"])["tags"]
