"""Step-up challenges: an operation runs only with a fresh, satisfied challenge bound to that
operation, that customer and that payload, and only once — `consume_step_up` is the gate."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.core.clock import clock
from kefu.core.errors import KefuError
from kefu.identity.mfa import errors, stepup
from kefu.identity.models import Agent, Customer, Role
from tests.core.helpers import assert_problem, audit_entries, new_session
from tests.factories import agent_headers, customer_headers, make_agent, make_customer
from tests.identity.mfa.helpers import (
    T0,
    agent_code,
    assert_no_secrets_in_audit,
    customer_code,
    enrol_customer,
)

OP = "email.change"
PAYLOAD = {"new_email": "new.address@example.com"}


def _consume(engine: Engine, challenge_id: str | None, agent: Agent, **overrides: Any) -> Any:
    """Run the gate in its own unit of work; refusals keep their audit entry (keep_writes)."""
    arguments: dict[str, Any] = {"operation": OP, "payload": PAYLOAD, "acting_agent": agent}
    arguments.update(overrides)
    with new_session(engine) as s:
        try:
            result = stepup.consume_step_up(s, challenge_id, **arguments)
        except KefuError as error:
            assert error.keep_writes
            s.commit()
            raise
        s.commit()
        return result


def _satisfied(
    client: TestClient, customer: Customer, agent: Agent, headers: dict[str, str], **body: Any
) -> str:
    created = client.post(
        "/api/v1/step-up/challenges",
        json={"operation": OP, "customer_id": customer.id, "payload": PAYLOAD, **body},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    challenge = created.json()
    assert challenge["missing"] == ["customer:recovery_code|sms|totp", "agent:totp"]
    assert challenge["ready"] is False
    url = f"/api/v1/step-up/challenges/{challenge['id']}/verify"
    by_customer = client.post(
        url,
        json={"factor": "totp", "code": customer_code(client, customer)},
        headers=customer_headers(customer),
    )
    assert by_customer.status_code == 200, by_customer.text
    by_agent = client.post(
        url, json={"factor": "totp", "code": agent_code(client, agent.id)}, headers=headers
    )
    assert by_agent.status_code == 200, by_agent.text
    assert by_agent.json()["missing"] == []
    assert [(v["subject"], v["factor"]) for v in by_agent.json()["verifications"]] == [
        ("customer", "totp"),
        ("agent", "totp"),
    ]
    challenge_id: str = challenge["id"]
    return challenge_id


@pytest.fixture
def cast(client: TestClient, session: Session) -> tuple[Customer, Agent, dict[str, str]]:
    clock.freeze(T0)
    customer = make_customer(session)
    enrol_customer(client, customer)
    agent = make_agent(session)
    headers = agent_headers(client, agent)
    clock.freeze(T0 + timedelta(seconds=30))  # past the steps used to enrol and sign in
    return customer, agent, headers


def test_refused_without_a_challenge_or_with_one_bound_elsewhere(
    client: TestClient, engine: Engine, session: Session, cast: Any
) -> None:
    customer, agent, headers = cast
    other_customer = make_customer(session)
    challenge_id = _satisfied(client, customer, agent, headers)

    with pytest.raises(errors.StepUpRequired):
        _consume(engine, None, agent, customer_id=customer.id)
    with pytest.raises(errors.StepUpRequired):
        _consume(engine, "no-such-challenge", agent, customer_id=customer.id)
    with pytest.raises(errors.StepUpMismatch):
        _consume(engine, challenge_id, agent, customer_id=customer.id, payload={"new_email": "x"})
    with pytest.raises(errors.StepUpMismatch):
        _consume(engine, challenge_id, agent, customer_id=other_customer.id)
    with pytest.raises(errors.StepUpMismatch):
        _consume(engine, challenge_id, agent, customer_id=customer.id, operation="2fa.reset")
    with pytest.raises(errors.StepUpMismatch):
        _consume(engine, challenge_id, make_agent(session), customer_id=customer.id)
    # Key order does not matter: the hash is over canonical JSON.
    consumed = _consume(
        engine,
        challenge_id,
        agent,
        customer_id=customer.id,
        payload=dict(reversed(PAYLOAD.items())),
    )
    assert consumed.id == challenge_id
    with pytest.raises(errors.StepUpUsed):
        _consume(engine, challenge_id, agent, customer_id=customer.id)

    refused = audit_entries(engine, action="step_up.refused")
    assert [e.data["reason"] for e in refused] == [
        "step_up_required",
        "step_up_required",
        "step_up_mismatch",
        "step_up_mismatch",
        "step_up_mismatch",
        "step_up_mismatch",
        "step_up_used",
    ]
    [done] = audit_entries(engine, action="step_up.consumed")
    assert done.data["factors"] == ["customer:totp", "agent:totp"]
    state = client.get(f"/api/v1/step-up/challenges/{challenge_id}", headers=headers).json()
    assert state["status"] == "consumed"


def test_refused_when_incomplete_or_stale(client: TestClient, engine: Engine, cast: Any) -> None:
    customer, agent, headers = cast
    created = client.post(
        "/api/v1/step-up/challenges",
        json={"operation": OP, "customer_id": customer.id, "payload": PAYLOAD},
        headers=headers,
    ).json()
    client.post(
        f"/api/v1/step-up/challenges/{created['id']}/verify",
        json={"factor": "totp", "code": customer_code(client, customer)},
        headers=customer_headers(customer),
    )
    with pytest.raises(errors.StepUpIncomplete, match="agent:totp"):
        _consume(engine, created["id"], agent, customer_id=customer.id)

    clock.freeze(T0 + timedelta(seconds=90))
    challenge_id = _satisfied(client, customer, agent, headers)
    clock.freeze(T0 + timedelta(seconds=90 + 301))  # the policy wants proofs under 5 minutes
    with pytest.raises(errors.StepUpStale):
        _consume(engine, challenge_id, agent, customer_id=customer.id)
    state = client.get(f"/api/v1/step-up/challenges/{challenge_id}", headers=headers).json()
    assert state["stale"] == ["customer:recovery_code|sms|totp", "agent:totp"]

    # Proving both again makes it usable; an expired challenge never is.
    url = f"/api/v1/step-up/challenges/{challenge_id}/verify"
    client.post(
        url,
        json={"factor": "totp", "code": customer_code(client, customer)},
        headers=customer_headers(customer),
    )
    client.post(url, json={"factor": "totp", "code": agent_code(client, agent.id)}, headers=headers)
    assert _consume(engine, challenge_id, agent, customer_id=customer.id).id == challenge_id
    clock.freeze(T0 + timedelta(minutes=40))
    with pytest.raises(errors.StepUpStale):
        _consume(engine, created["id"], agent, customer_id=customer.id)


def test_who_may_prove_what(client: TestClient, session: Session, cast: Any) -> None:
    customer, _agent, headers = cast
    created = client.post(
        "/api/v1/step-up/challenges",
        json={"operation": OP, "customer_id": customer.id, "payload": PAYLOAD},
        headers=headers,
    ).json()
    url = f"/api/v1/step-up/challenges/{created['id']}/verify"
    someone_else = make_customer(session)
    assert_problem(
        client.post(
            url, json={"factor": "totp", "code": "123456"}, headers=customer_headers(someone_else)
        ),
        404,
        "not_found",
    )
    colleague = make_agent(session)
    assert_problem(
        client.post(
            url,
            json={"factor": "totp", "code": "123456"},
            headers=agent_headers(client, colleague),
        ),
        403,
        "permission_denied",
    )
    assert_problem(
        client.post(url, json={"factor": "sms", "code": "123456"}, headers=headers),
        400,
        "factor_not_accepted",
    )
    wrong = client.post(
        url, json={"factor": "totp", "code": "000000"}, headers=customer_headers(customer)
    )
    assert_problem(wrong, 400, "invalid_code")
    # Customers open challenges only for operations that need no agent.
    own = client.post(
        "/api/v1/step-up/challenges",
        json={"operation": "withdrawal_address.add", "payload": {"address": "bc1q..."}},
        headers=customer_headers(customer),
    )
    assert own.status_code == 201, own.text
    assert own.json()["policy"]["who"] == "customer"
    assert own.json()["customer_factors"] == ["totp"]  # no SMS for a new withdrawal address
    mine = client.get(
        "/api/v1/step-up/challenges",
        params={"status": "open", "customer_id": someone_else.id},
        headers=customer_headers(customer),
    )
    assert {c["id"] for c in mine.json()} == {created["id"], own.json()["id"]}
    assert (
        client.get("/api/v1/step-up/challenges", headers=customer_headers(someone_else)).json()
        == []
    )
    assert_problem(client.get("/api/v1/step-up/challenges", headers=headers), 400, "bad_request")
    by_agent = client.get(
        "/api/v1/step-up/challenges", params={"customer_id": customer.id}, headers=headers
    )
    assert len(by_agent.json()) == 2
    needs_agent = client.post(
        "/api/v1/step-up/challenges",
        json={"operation": OP, "payload": PAYLOAD},
        headers=customer_headers(customer),
    )
    assert_problem(needs_agent, 403, "permission_denied")
    unknown = client.post(
        "/api/v1/step-up/challenges",
        json={"operation": "funds.teleport", "customer_id": customer.id},
        headers=headers,
    )
    assert_problem(unknown, 400, "unknown_operation")
    missing = client.post(
        "/api/v1/step-up/challenges",
        json={"operation": OP, "customer_id": "nobody"},
        headers=headers,
    )
    assert_problem(missing, 404, "not_found")


def test_challenges_are_created_idempotently(client: TestClient, cast: Any) -> None:
    customer, _agent, headers = cast
    body = {"operation": OP, "customer_id": customer.id, "payload": PAYLOAD}
    keyed = {**headers, "Idempotency-Key": "challenge-1"}
    first = client.post("/api/v1/step-up/challenges", json=body, headers=keyed)
    again = client.post("/api/v1/step-up/challenges", json=body, headers=keyed)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    other = client.post(
        "/api/v1/step-up/challenges", json={**body, "payload": {"x": 1}}, headers=keyed
    )
    assert_problem(other, 422, "idempotency_key_reused")


def test_admins_edit_policies(
    client: TestClient, engine: Engine, session: Session, cast: Any
) -> None:
    customer, agent, headers = cast
    admin = make_agent(session, Role.ADMIN)
    admin_headers = agent_headers(client, admin)
    policies = client.get("/api/v1/step-up/policies", headers=headers).json()
    assert {p["operation"] for p in policies} == {
        "withdrawal.unlock",
        "account.unfreeze",
        "2fa.reset",
        "email.change",
        "withdrawal_address.add",
        "compensation.payout",
    }
    by_op = {p["operation"]: p["policy"] for p in policies}
    assert by_op["account.unfreeze"]["allow_sms"] is False
    assert by_op["2fa.reset"]["four_eyes"] is True

    rules = {**by_op[OP], "cooling_off_seconds": 3600}
    url = f"/api/v1/step-up/policies/{OP}"
    assert_problem(client.put(url, json=rules, headers=headers), 403, "permission_denied")
    invalid = client.put(
        url, json={**rules, "factors": ["sms"], "allow_sms": False}, headers=admin_headers
    )
    assert_problem(invalid, 422, "validation_error")
    assert_problem(
        client.put(url, json={**rules, "freshness_seconds": 5}, headers=admin_headers),
        422,
        "validation_error",
    )
    changed = client.put(url, json=rules, headers=admin_headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["overridden"] is True

    challenge_id = _satisfied(client, customer, agent, headers)
    with pytest.raises(errors.StepUpCoolingOff):
        _consume(engine, challenge_id, agent, customer_id=customer.id)

    reset = client.delete(url, headers=admin_headers)
    assert reset.json()["overridden"] is False
    assert reset.json()["policy"]["cooling_off_seconds"] == 0
    assert _consume(engine, challenge_id, agent, customer_id=customer.id).id == challenge_id
    [change] = audit_entries(engine, action="step_up.policy_changed")
    assert change.data["after"]["cooling_off_seconds"] == 3600
    assert_problem(
        client.put("/api/v1/step-up/policies/funds.teleport", json=rules, headers=admin_headers),
        400,
        "unknown_operation",
    )


def test_policy_refuses_sms_for_the_riskiest_operations(session: Session) -> None:
    for operation in ("account.unfreeze", "2fa.reset", "withdrawal_address.add"):
        assert "sms" not in stepup.policy_for(session, operation).customer_factors
    assert "sms" in stepup.policy_for(session, "withdrawal.unlock").customer_factors


def test_nothing_secret_in_the_audit_log(client: TestClient, engine: Engine, cast: Any) -> None:
    customer, _agent, headers = cast
    customer_totp = customer_code(client, customer)
    created = client.post(
        "/api/v1/step-up/challenges",
        json={"operation": OP, "customer_id": customer.id, "payload": PAYLOAD},
        headers=headers,
    ).json()
    client.post(
        f"/api/v1/step-up/challenges/{created['id']}/verify",
        json={"factor": "totp", "code": customer_totp},
        headers=customer_headers(customer),
    )
    assert_no_secrets_in_audit(engine, customer_totp)


def test_concurrent_consumers_run_the_operation_once(
    client: TestClient, engine: Engine, cast: Any
) -> None:
    customer, agent, headers = cast
    challenge_id = _satisfied(client, customer, agent, headers)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def consume() -> None:
        barrier.wait()
        try:
            _consume(engine, challenge_id, agent, customer_id=customer.id)
            outcomes.append("ran")
        except errors.StepUpUsed:
            outcomes.append("step_up_used")

    threads = [threading.Thread(target=consume) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["ran", "step_up_used"]
    assert len(audit_entries(engine, action="step_up.consumed")) == 1
