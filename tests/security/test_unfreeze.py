"""Unfreezing needs the strongest policy: the customer's factor, an approved ID review, the
cooling-off period, the acting officer's code and a second person's approval."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

import anyio
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.core.clock import clock, utcnow
from kefu.exchange.adapters.demo import DemoExchange
from kefu.exchange.port import WithdrawalRequest
from tests.core.helpers import assert_problem, audit_entries
from tests.factories import customer_headers
from tests.identity.mfa.helpers import agent_code, customer_code, enrol_customer
from tests.security.helpers import (
    THIEF,
    approve_id_review,
    confirm_agent,
    desk,
    report,
    sign_in_again,
    tick,
)


def _unfreeze(client: TestClient, h: dict[str, str], case_id: str, challenge_id: Any) -> Any:
    return client.post(
        f"/api/v1/security/cases/{case_id}/unfreeze",
        json={"challenge_id": challenge_id, "reason": "customer re-verified, devices cleaned"},
        headers=h,
    )


def _challenge(client: TestClient, h: dict[str, str], customer_id: str, payload: Any) -> str:
    created = client.post(
        "/api/v1/step-up/challenges",
        json={"operation": "account.unfreeze", "customer_id": customer_id, "payload": payload},
        headers=h,
    )
    assert created.status_code == 201, created.text
    challenge_id: str = created.json()["id"]
    return challenge_id


def test_unfreeze_refused_at_each_missing_condition_then_done(
    client: TestClient, session: Session, engine: Engine
) -> None:
    d = desk(client, session, engine)
    enrol_customer(client, d.customer)
    body = report(client, d.customer).json()
    case_id = body["case_id"]
    case = client.get(f"/api/v1/security/cases/{case_id}", headers=d.officer_h).json()
    payload = case["unfreeze_payload"]
    assert payload == {
        "case_id": case_id,
        "customer_id": d.customer.id,
        "scopes": ["api_keys", "sessions", "withdrawals"],
    }

    # No challenge at all.
    assert_problem(_unfreeze(client, d.officer_h, case_id, None), 403, "step_up_required")
    # A challenge for another payload (other scopes) does not fit this case.
    other = _challenge(client, d.officer_h, d.customer.id, {**payload, "scopes": ["withdrawals"]})
    assert_problem(_unfreeze(client, d.officer_h, case_id, other), 403, "step_up_mismatch")

    challenge_id = _challenge(client, d.officer_h, d.customer.id, payload)
    # The cooling-off period (24 h from the challenge) is not over.
    problem = assert_problem(
        _unfreeze(client, d.officer_h, case_id, challenge_id), 403, "step_up_cooling_off"
    )
    assert problem
    clock.freeze(utcnow() + timedelta(hours=24, minutes=1))
    sign_in_again(client, d)

    # Missing: the customer's own factor (and the ID review, and the officer's code).
    missing = assert_problem(
        _unfreeze(client, d.officer_h, case_id, challenge_id), 403, "step_up_incomplete"
    )
    assert "customer:totp" in json.dumps(missing)
    proven = client.post(
        f"/api/v1/step-up/challenges/{challenge_id}/verify",
        json={"factor": "totp", "code": customer_code(client, d.customer)},
        headers=customer_headers(d.customer),
    )
    assert proven.status_code == 200, proven.text

    # Missing: the ID review (the customer's factor is there now).
    missing = assert_problem(
        _unfreeze(client, d.officer_h, case_id, challenge_id), 403, "step_up_incomplete"
    )
    assert "customer:id_review" in json.dumps(missing)
    assert "customer:totp" not in json.dumps(missing)
    approve_id_review(client, d.customer, d.third_h)

    # Missing: the acting officer's own code.
    missing = assert_problem(
        _unfreeze(client, d.officer_h, case_id, challenge_id), 403, "step_up_incomplete"
    )
    assert "agent:totp" in json.dumps(missing)
    assert confirm_agent(client, challenge_id, d.officer, d.officer_h).status_code == 200

    # Missing: a second person's approval.
    assert_problem(_unfreeze(client, d.officer_h, case_id, challenge_id), 403, "approval_required")
    asked = client.post(
        "/api/v1/approvals",
        json={"challenge_id": challenge_id, "reason": "ID re-verified"},
        headers=d.officer_h,
    )
    assert asked.status_code == 201, asked.text
    approval_id = asked.json()["id"]
    # The requester may not approve it.
    tick()
    own = client.post(
        f"/api/v1/approvals/{approval_id}/approve",
        json={"code": agent_code(client, d.officer.id)},
        headers=d.officer_h,
    )
    assert_problem(own, 403, "approval_not_allowed")
    assert_problem(_unfreeze(client, d.officer_h, case_id, challenge_id), 403, "approval_required")
    # Another officer may not use the challenge: it is bound to the one who started it.
    assert_problem(_unfreeze(client, d.second_h, case_id, challenge_id), 403, "step_up_mismatch")

    tick()
    approved = client.post(
        f"/api/v1/approvals/{approval_id}/approve",
        json={"code": agent_code(client, d.second.id)},
        headers=d.second_h,
    )
    assert approved.status_code == 200, approved.text

    done = _unfreeze(client, d.officer_h, case_id, challenge_id)
    assert done.status_code == 200, done.text
    assert done.json()["freeze_state"] == "unfrozen"
    # The exchange lets the customer withdraw again.
    request = WithdrawalRequest(asset="ETH", chain="ETH", amount=Decimal("1"), address=THIEF)
    anyio.run(DemoExchange(engine).request_withdrawal, d.customer.external_id, request)
    # Used once; the case is no longer frozen.
    assert_problem(
        _unfreeze(client, d.officer_h, case_id, challenge_id), 409, "security_case_not_frozen"
    )

    refusals = [
        e.data["refusal"] for e in audit_entries(engine, action="security.unfreeze_refused")
    ]
    assert refusals == [
        "step_up_required",
        "step_up_mismatch",
        "step_up_cooling_off",
        "step_up_incomplete",
        "step_up_incomplete",
        "step_up_incomplete",
        "approval_required",
        "approval_required",
        "step_up_mismatch",
    ]
    authorized = audit_entries(engine, action="security.unfreeze_authorized")
    assert len(authorized) == 1 and authorized[0].actor_id == d.officer.id
    assert authorized[0].data["why"] == "customer re-verified, devices cleaned"
    unfrozen = audit_entries(engine, action="security.unfrozen")
    assert unfrozen[0].data["scopes"] == ["api_keys", "sessions", "withdrawals"]
    timeline = client.get(f"/api/v1/security/cases/{case_id}", headers=d.officer_h).json()
    assert [e["kind"] for e in timeline["timeline"]][-2:] == ["unfreeze_authorized", "unfrozen"]

    # A new report after the unfreeze freezes again (joining the open case).
    again = report(client, d.customer, description="it happened again")
    assert again.status_code == 200 and again.json()["freeze_state"] == "frozen"


def test_unfreeze_bad_input(client: TestClient, session: Session, engine: Engine) -> None:
    d = desk(client, session, engine)
    case_id = report(client, d.customer).json()["case_id"]
    no_reason = client.post(
        f"/api/v1/security/cases/{case_id}/unfreeze", json={}, headers=d.officer_h
    )
    assert no_reason.status_code == 422
    assert_problem(_unfreeze(client, d.officer_h, "nope", None), 404, "not_found")
