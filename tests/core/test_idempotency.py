"""Idempotency-Key: a retried POST gets the first answer and creates nothing new."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kefu.audit.models import AuditEntry
from kefu.tickets.models import Message, Ticket
from tests.core.helpers import assert_problem, count, open_ticket, snapshot
from tests.factories import agent_headers, customer_headers, make_agent, make_customer

TICKET_BODY = {
    "subject": "Withdrawal stuck",
    "body": "Pending for 3 hours",
    "category": "withdrawal",
}


def _create(client: TestClient, headers: dict[str, str], key: str, body: dict = TICKET_BODY):
    return client.post("/api/v1/tickets", json=body, headers={**headers, "Idempotency-Key": key})


def test_a_retried_ticket_create_returns_the_first_answer(
    client: TestClient, session: Session, engine
) -> None:
    headers = customer_headers(make_customer(session))

    first = _create(client, headers, "create-1")
    before_retry = snapshot(engine)
    retries = [_create(client, headers, "create-1") for _ in range(2)]

    assert first.status_code == 201, first.text
    assert [r.status_code for r in retries] == [201, 201]
    assert all(r.json() == first.json() for r in retries)
    assert snapshot(engine) == before_retry
    assert count(engine, Ticket) == 1
    assert count(engine, AuditEntry, AuditEntry.action == "ticket.created") == 1


def test_a_key_reused_for_a_different_body_is_refused(
    client: TestClient, session: Session, engine
) -> None:
    headers = customer_headers(make_customer(session))
    first = _create(client, headers, "create-2")
    assert first.status_code == 201
    before = snapshot(engine)

    changed = _create(client, headers, "create-2", {**TICKET_BODY, "subject": "Something else"})

    assert_problem(changed, 422, "idempotency_key_reused")
    assert snapshot(engine) == before
    # The original still replays.
    assert _create(client, headers, "create-2").json()["id"] == first.json()["id"]


def test_keys_belong_to_the_caller(client: TestClient, session: Session, engine) -> None:
    alice, bob = make_customer(session), make_customer(session)
    agent_h = agent_headers(client, make_agent(session))

    for_alice = _create(client, customer_headers(alice), "shared-key")
    for_bob = _create(client, customer_headers(bob), "shared-key")
    by_agent = _create(client, agent_h, "shared-key", {**TICKET_BODY, "customer_id": alice.id})

    assert [r.status_code for r in (for_alice, for_bob, by_agent)] == [201, 201, 201]
    assert len({r.json()["id"] for r in (for_alice, for_bob, by_agent)}) == 3
    assert (for_alice.json()["customer_id"], for_bob.json()["customer_id"]) == (alice.id, bob.id)
    assert count(engine, Ticket) == 3


def test_a_retried_message_is_posted_once(client: TestClient, session: Session, engine) -> None:
    customer = make_customer(session)
    headers = customer_headers(customer)
    ticket = open_ticket(client, headers)
    url = f"/api/v1/tickets/{ticket['id']}/messages"
    keyed = {**headers, "Idempotency-Key": "msg-1"}

    first = client.post(url, json={"body": "tx 0xabc"}, headers=keyed)
    before_retry = snapshot(engine)
    again = client.post(url, json={"body": "tx 0xabc"}, headers=keyed)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert snapshot(engine) == before_retry
    assert count(engine, Message) == 2  # the opening message and this one

    different = client.post(url, json={"body": "tx 0xdef"}, headers=keyed)
    assert_problem(different, 422, "idempotency_key_reused")
    assert snapshot(engine) == before_retry

    # An agent may use the same key on the same ticket: it is theirs, not the customer's.
    agent_h = agent_headers(client, make_agent(session))
    reply = client.post(
        url, json={"body": "tx 0xabc"}, headers={**agent_h, "Idempotency-Key": "msg-1"}
    )
    assert reply.status_code == 201
    assert reply.json()["id"] != first.json()["id"]


def test_a_key_names_one_request_not_one_endpoint_per_ticket(
    client: TestClient, session: Session, engine
) -> None:
    headers = customer_headers(make_customer(session))
    one, two = open_ticket(client, headers), open_ticket(client, headers)
    keyed = {**headers, "Idempotency-Key": "msg-2"}
    first = client.post(f"/api/v1/tickets/{one['id']}/messages", json={"body": "hi"}, headers=keyed)
    assert first.status_code == 201
    before = snapshot(engine)
    other = client.post(f"/api/v1/tickets/{two['id']}/messages", json={"body": "hi"}, headers=keyed)
    assert_problem(other, 422, "idempotency_key_reused")
    assert snapshot(engine) == before


def test_malformed_keys_are_refused(client: TestClient, session: Session, engine) -> None:
    headers = customer_headers(make_customer(session))
    before = snapshot(engine)
    assert_problem(_create(client, headers, ""), 400, "bad_request")
    assert_problem(_create(client, headers, "k" * 256), 422, "validation_error")
    assert snapshot(engine) == before
    assert _create(client, headers, "k" * 255).status_code == 201


def test_concurrent_retries_create_one_ticket_and_never_fail(
    client: TestClient, session: Session, engine
) -> None:
    headers = customer_headers(make_customer(session))
    rounds = 4
    results: list[tuple[int, int, dict]] = []
    lock = threading.Lock()

    for n in range(rounds):
        barrier = threading.Barrier(2)

        def send(n: int = n, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            response = _create(client, headers, f"race-{n}")
            with lock:
                results.append((n, response.status_code, response.json()))

        threads = [threading.Thread(target=send) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)

    assert len(results) == 2 * rounds
    for n in range(rounds):
        answers = [(status, body) for m, status, body in results if m == n]
        statuses = sorted(status for status, _ in answers)
        assert statuses in ([201, 201], [201, 409]), answers
        created = [body for status, body in answers if status == 201]
        assert len({body["id"] for body in created}) == 1, answers
        for status, body in answers:
            if status == 409:
                assert body["code"] == "conflict"
    assert count(engine, Ticket) == rounds
    assert count(engine, AuditEntry, AuditEntry.action == "ticket.created") == rounds


def test_admin_creates_are_idempotent_too(client: TestClient, session: Session, engine) -> None:
    from kefu.core.models import IdempotencyRecord
    from kefu.identity.models import Agent, Role
    from kefu.sla.models import BusinessCalendar, SlaPolicy

    headers = agent_headers(client, make_agent(session, role=Role.ADMIN))
    requests = [
        (
            "/api/v1/agents",
            {
                "email": "retry@desk.example",
                "display_name": "Retry",
                "password": "a sufficiently long secret",
            },
            Agent,
        ),
        (
            "/api/v1/sla/calendars",
            {
                "name": "HK office",
                "timezone": "Asia/Hong_Kong",
                "weekly_hours": {"mon": [["09:00", "18:00"]]},
            },
            BusinessCalendar,
        ),
        ("/api/v1/sla/policies", {"name": "HK", "first_response_minutes": 60}, SlaPolicy),
    ]
    for url, body, model in requests:
        before = count(engine, model)
        keyed = {**headers, "Idempotency-Key": f"admin-{url}"}
        first = client.post(url, json=body, headers=keyed)
        again = client.post(url, json=body, headers=keyed)
        assert first.status_code == again.status_code == 201, first.text
        assert again.json() == first.json()
        assert count(engine, model) == before + 1

    with Session(engine) as s:
        records = {r.endpoint: r for r in s.query(IdempotencyRecord)}
    assert not any("a sufficiently long secret" in str(r.response_body) for r in records.values())
    # The agent's fingerprint is computed without the password (a fast hash of it is guessable).
    from kefu.core.idempotency import _request_hash

    without_password = {k: v for k, v in requests[0][1].items() if k != "password"}
    full = {
        "role": "agent",
        "teams": ["support"],
        "languages": ["en"],
        "language": "en",
        **without_password,
    }
    assert records["POST /api/v1/agents"].request_hash == _request_hash("POST /api/v1/agents", full)
