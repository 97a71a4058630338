"""`2fa.reset` end to end: the customer re-verified by an ID-document review, the acting
agent's own TOTP, a second agent's approval with theirs — and the reset runs once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.core.clock import clock, utcnow
from kefu.core.settings import Settings
from kefu.identity.models import Agent, Customer, Role
from tests.core.helpers import assert_problem, audit_entries
from tests.factories import (
    agent_headers,
    customer_headers,
    make_agent,
    make_customer,
    make_identity_review,
)
from tests.identity.mfa.helpers import (
    T0,
    agent_code,
    assert_no_secrets_in_audit,
    customer_code,
    enrol_customer,
)


class _Reviews(dict[str, datetime]):
    """`reverified[customer_id] = when` records a real, approved ID-document review of the
    customer decided at that time (through `kefu.identity.documents`)."""

    def __init__(self, session: Session, settings: Settings) -> None:
        super().__init__()
        self.session, self.settings = session, settings
        self.reviewer: Agent | None = None

    def __setitem__(self, customer_id: str, at: datetime) -> None:
        if self.reviewer is None:
            self.reviewer = make_agent(self.session, Role.RISK_OFFICER)
        customer = self.session.get(Customer, customer_id)
        assert customer is not None
        make_identity_review(
            self.session, customer, self.reviewer, decided_at=at, settings=self.settings
        )
        super().__setitem__(customer_id, at)


@pytest.fixture
def reverified(session: Session, settings: Settings) -> dict[str, datetime]:
    """The customers whose ID-document review was approved, and when."""
    return _Reviews(session, settings)


def _challenge(client: TestClient, headers: dict[str, str], customer: Customer) -> dict[str, Any]:
    created = client.post(
        "/api/v1/step-up/challenges",
        json={
            "operation": "2fa.reset",
            "customer_id": customer.id,
            "payload": {"customer_id": customer.id, "factor": "totp"},
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    result: dict[str, Any] = created.json()
    return result


def _reset(client: TestClient, headers: dict[str, str], customer: Customer, challenge_id: Any):
    return client.post(
        f"/api/v1/customers/{customer.id}/mfa/reset",
        json={"challenge_id": challenge_id},
        headers=headers,
    )


def _setup(client: TestClient, session: Session) -> tuple[Customer, str, Agent, dict[str, str]]:
    clock.freeze(T0)
    customer = make_customer(session)
    secret, _codes = enrol_customer(client, customer)
    agent = make_agent(session)
    headers = agent_headers(client, agent)
    clock.freeze(T0 + timedelta(seconds=30))
    return customer, secret, agent, headers


def test_reset_needs_review_agent_factor_and_a_second_persons_approval(
    client: TestClient, session: Session, engine: Engine, reverified: dict[str, datetime]
) -> None:
    customer, secret, agent, headers = _setup(client, session)
    supervisor = make_agent(session, Role.SUPERVISOR)
    supervisor_headers = agent_headers(client, supervisor)
    plain_agent = make_agent(session)
    plain_headers = agent_headers(client, plain_agent)
    clock.freeze(T0 + timedelta(seconds=60))

    assert_problem(_reset(client, headers, customer, None), 403, "step_up_required")
    challenge = _challenge(client, headers, customer)
    assert challenge["missing"] == ["customer:id_review", "agent:totp"]
    assert challenge["policy"]["four_eyes"] is True

    # A code the customer types cannot stand in for the ID review.
    refused = client.post(
        f"/api/v1/step-up/challenges/{challenge['id']}/verify",
        json={"factor": "totp", "code": customer_code(client, customer)},
        headers=customer_headers(customer),
    )
    assert_problem(refused, 400, "factor_not_accepted")
    # A review older than the policy's limit (30 days) does not count.
    reverified[customer.id] = utcnow() - timedelta(days=31)
    state = client.get(f"/api/v1/step-up/challenges/{challenge['id']}", headers=headers).json()
    assert "customer:id_review" in state["missing"]
    reverified[customer.id] = utcnow() - timedelta(days=2)
    verified = client.post(
        f"/api/v1/step-up/challenges/{challenge['id']}/verify",
        json={"factor": "totp", "code": agent_code(client, agent.id)},
        headers=headers,
    )
    assert verified.json()["missing"] == []
    assert verified.json()["ready"] is False  # still waiting for the approval

    no_approval = _reset(client, headers, customer, challenge["id"])
    assert_problem(no_approval, 403, "approval_required")
    # The refusal stays on record even though the request failed.
    assert [e.data["reason"] for e in audit_entries(engine, action="step_up.refused")] == [
        "step_up_required",
        "approval_required",
    ]

    asked = client.post(
        "/api/v1/approvals",
        json={"challenge_id": challenge["id"], "reason": "Lost phone; passport re-verified"},
        headers={**headers, "Idempotency-Key": "approval-1"},
    )
    assert asked.status_code == 201, asked.text
    approval = asked.json()
    assert approval["status"] == "pending" and approval["requester_id"] == agent.id
    retried = client.post(
        "/api/v1/approvals",
        json={"challenge_id": challenge["id"], "reason": "Lost phone; passport re-verified"},
        headers={**headers, "Idempotency-Key": "approval-1"},
    )
    assert retried.json()["id"] == approval["id"]
    duplicate = client.post(
        "/api/v1/approvals",
        json={"challenge_id": challenge["id"], "reason": "again"},
        headers=headers,
    )
    assert_problem(duplicate, 409, "conflict")

    approve_url = f"/api/v1/approvals/{approval['id']}/approve"
    # The requester may not approve their own request (plain agents may not approve at all).
    assert_problem(
        client.post(approve_url, json={"code": "123456"}, headers=headers), 403, "permission_denied"
    )
    assert_problem(
        client.post(approve_url, json={"code": "123456"}, headers=plain_headers),
        403,
        "permission_denied",
    )
    wrong = client.post(approve_url, json={"code": "000000"}, headers=supervisor_headers)
    assert_problem(wrong, 400, "invalid_code")
    pending = client.get(
        "/api/v1/approvals", params={"status": "pending"}, headers=supervisor_headers
    )
    assert [a["id"] for a in pending.json()] == [approval["id"]]
    # The approver sees what they approve, not just its hash.
    assert pending.json()[0]["payload"] == {"customer_id": customer.id, "factor": "totp"}

    approved = client.post(
        approve_url,
        json={"code": agent_code(client, supervisor.id), "reason": "Checked the review"},
        headers=supervisor_headers,
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["decided_by_id"] == supervisor.id
    again = client.post(
        approve_url, json={"code": agent_code(client, supervisor.id)}, headers=supervisor_headers
    )
    assert_problem(again, 409, "approval_already_decided")

    # Another agent cannot run the operation with this agent's challenge.
    assert_problem(
        _reset(client, plain_headers, customer, challenge["id"]), 403, "step_up_mismatch"
    )

    keyed = {**headers, "Idempotency-Key": "reset-1"}
    done = client.post(
        f"/api/v1/customers/{customer.id}/mfa/reset",
        json={"challenge_id": challenge["id"]},
        headers=keyed,
    )
    assert done.status_code == 200, done.text
    assert done.json() == {"customer_id": customer.id, "disabled": 1}
    replay = client.post(
        f"/api/v1/customers/{customer.id}/mfa/reset",
        json={"challenge_id": challenge["id"]},
        headers=keyed,
    )
    assert replay.json() == done.json()
    assert_problem(_reset(client, headers, customer, challenge["id"]), 409, "step_up_used")

    status = client.get("/api/v1/mfa", headers=customer_headers(customer)).json()
    assert (status["enrolled"], status["recovery_codes_left"]) == (False, 0)
    assert len(audit_entries(engine, action="mfa.reset")) == 1
    assert audit_entries(engine, action="approval.approved")[0].actor_id == supervisor.id
    assert_no_secrets_in_audit(engine, secret)


def test_the_requester_cannot_approve_and_approvers_need_the_policys_role(
    client: TestClient, session: Session, engine: Engine, reverified: dict[str, datetime]
) -> None:
    customer, _secret, _agent, _headers = _setup(client, session)
    # The requester here is a supervisor: an approver role, but not for their own request.
    supervisor = make_agent(session, Role.SUPERVISOR)
    supervisor_headers = agent_headers(client, supervisor)
    clock.freeze(T0 + timedelta(seconds=60))
    payout = client.post(
        "/api/v1/step-up/challenges",
        json={
            "operation": "compensation.payout",
            "customer_id": customer.id,
            "payload": {"usdt": "120.50"},
        },
        headers=supervisor_headers,
    ).json()
    asked = client.post(
        "/api/v1/approvals",
        json={"challenge_id": payout["id"], "reason": "Hack compensation"},
        headers=supervisor_headers,
    ).json()
    url = f"/api/v1/approvals/{asked['id']}/approve"
    own = client.post(
        url, json={"code": agent_code(client, supervisor.id)}, headers=supervisor_headers
    )
    body = assert_problem(own, 403, "approval_not_allowed")
    assert "requester" in body["detail"]

    # compensation.payout is approved by risk officers or admins, not supervisors.
    other_supervisor = make_agent(session, Role.SUPERVISOR)
    other_headers = agent_headers(client, other_supervisor)
    role = client.post(
        url, json={"code": agent_code(client, other_supervisor.id)}, headers=other_headers
    )
    assert_problem(role, 403, "approval_not_allowed")
    assert len(audit_entries(engine, action="approval.refused")) == 2

    risk = make_agent(session, Role.RISK_OFFICER)
    risk_headers = agent_headers(client, risk)
    clock.freeze(T0 + timedelta(seconds=120))
    rejected = client.post(
        f"/api/v1/approvals/{asked['id']}/reject",
        json={"code": agent_code(client, risk.id), "reason": "Amount not substantiated"},
        headers=risk_headers,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    # A rejected operation's challenge is closed for good.
    challenge = client.get(f"/api/v1/step-up/challenges/{payout['id']}", headers=risk_headers)
    assert challenge.json()["status"] == "consumed"
