"""Compensation: an assessment, two approvers other than the assessor, the payout step-up,
then one payout per asset through the port — paid exactly once, however often retried."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from kefu.core.db import session_factory
from kefu.exchange.models import DemoBalance, DemoPayout
from kefu.security.models import Assessment
from tests.core.helpers import assert_problem, audit_entries, count
from tests.identity.mfa.helpers import agent_code
from tests.security.helpers import (
    approve_challenge,
    confirm_agent,
    desk,
    report,
    tick,
)


def _assess(client: TestClient, h: dict[str, str], case_id: str, **body: Any) -> Any:
    return client.post(f"/api/v1/security/cases/{case_id}/assessments", json=body, headers=h)


def _decide(client: TestClient, agent_id: str, h: dict[str, str], aid: str, decision: str) -> Any:
    tick()
    return client.post(
        f"/api/v1/security/assessments/{aid}/decision",
        json={"decision": decision, "code": agent_code(client, agent_id), "reason": "checked"},
        headers=h,
    )


def _pay(client: TestClient, h: dict[str, str], aid: str, challenge_id: Any) -> Any:
    return client.post(
        f"/api/v1/security/assessments/{aid}/payout",
        json={"challenge_id": challenge_id},
        headers=h,
    )


def _balance(engine: Engine, external_id: str, asset: str) -> Decimal:
    with session_factory(engine)() as s:
        row = s.scalar(
            select(DemoBalance).where(
                DemoBalance.external_id == external_id, DemoBalance.asset == asset
            )
        )
        assert row is not None
        return row.available


def test_compensation_needs_two_approvers_and_pays_exactly_once(
    client: TestClient, session: Session, engine: Engine
) -> None:
    d = desk(client, session, engine)
    case_id = report(client, d.customer).json()["case_id"]
    eth_before = _balance(engine, d.customer.external_id, "ETH")

    # Bad input: amounts are positive decimal strings, and a fault needs at least one.
    bad = _assess(
        client, d.officer_h, case_id, platform_fault=True, amounts={"ETH": "-1"}, reasoning="x" * 10
    )
    assert_problem(bad, 422, "compensation_amounts_invalid")
    none = _assess(client, d.officer_h, case_id, platform_fault=True, reasoning="hot wallet bug")
    assert_problem(none, 422, "compensation_amounts_invalid")
    floats = _assess(
        client,
        d.officer_h,
        case_id,
        platform_fault=True,
        amounts={"ETH": 4.2},
        reasoning="hot wallet bug",
    )
    assert floats.status_code == 422

    created = _assess(
        client,
        d.officer_h,
        case_id,
        platform_fault=True,
        amounts={"eth": "4.20", "BTC": "0.3"},
        reasoning="Session hijack through our leaked cookie: platform fault.",
    )
    assert created.status_code == 201, created.text
    assessment = created.json()
    aid = assessment["id"]
    assert assessment["amounts"] == {"ETH": "4.2", "BTC": "0.3"}
    assert assessment["status"] == "pending"
    again = _assess(client, d.officer_h, case_id, platform_fault=False, reasoning="second try")
    assert_problem(again, 409, "assessment_exists")

    # No approvers yet.
    assert_problem(_pay(client, d.officer_h, aid, None), 403, "compensation_approvals_missing")
    # The assessor cannot co-sign their own assessment.
    assert_problem(
        _decide(client, d.officer.id, d.officer_h, aid, "approve"), 403, "own_assessment"
    )
    first = _decide(client, d.second.id, d.second_h, aid, "approve")
    assert first.status_code == 200, first.text
    assert_problem(
        _decide(client, d.second.id, d.second_h, aid, "approve"),
        409,
        "assessment_already_approved_by_you",
    )

    # The payout's step-up: bound to the assessment; the officer's code; four-eyes.
    challenge = client.post(
        "/api/v1/step-up/challenges",
        json={
            "operation": "compensation.payout",
            "customer_id": d.customer.id,
            "payload": assessment["payout_payload"],
        },
        headers=d.officer_h,
    )
    assert challenge.status_code == 201, challenge.text
    challenge_id = challenge.json()["id"]
    assert confirm_agent(client, challenge_id, d.officer, d.officer_h).status_code == 200
    # One approver so far (the co-signer): refused, and nothing is spent.
    assert_problem(
        _pay(client, d.officer_h, aid, challenge_id), 403, "compensation_approvals_missing"
    )
    approve_challenge(client, challenge_id, d.officer_h, d.third, d.third_h)

    paid = _pay(client, d.officer_h, aid, challenge_id)
    assert paid.status_code == 200, paid.text
    body = paid.json()
    assert body["status"] == "paid"
    assert {(p["asset"], p["amount"]) for p in body["payouts"]} == {("ETH", "4.2"), ("BTC", "0.3")}
    assert count(engine, DemoPayout) == 2
    assert _balance(engine, d.customer.external_id, "ETH") == eth_before + Decimal("4.2")

    # Retries: with the spent challenge, without one — the same answer, nothing paid again.
    for retry in (challenge_id, None):
        again_paid = _pay(client, d.officer_h, aid, retry)
        assert again_paid.status_code == 200, again_paid.text
        assert again_paid.json()["payouts"] == body["payouts"]
    # A crash after the step-up but before the exchange answered: the retry uses the same
    # keys, so the exchange pays nothing new.
    with session_factory(engine)() as s:
        s.execute(
            update(Assessment)
            .where(Assessment.id == aid)
            .values(status="payout_authorized", payouts=[], paid_at=None)
        )
        s.commit()
    resumed = _pay(client, d.officer_h, aid, None)
    assert resumed.status_code == 200, resumed.text
    assert sorted(p["payout_id"] for p in resumed.json()["payouts"]) == sorted(
        p["payout_id"] for p in body["payouts"]
    )
    assert count(engine, DemoPayout) == 2
    assert _balance(engine, d.customer.external_id, "ETH") == eth_before + Decimal("4.2")

    actions = [e.action for e in audit_entries(engine) if e.action.startswith("security.")]
    for step in (
        "security.assessment_recorded",
        "security.assessment_approval_refused",
        "security.assessment_approved",
        "security.payout_refused",
        "security.payout_authorized",
        "security.compensation_paid",
    ):
        assert step in actions, step
    authorized = audit_entries(engine, action="security.payout_authorized")[0]
    assert sorted(authorized.data["approvers"]) == sorted([d.second.id, d.third.id])


def test_not_a_fault_closes_without_payout_and_a_rejection_allows_a_new_assessment(
    client: TestClient, session: Session, engine: Engine
) -> None:
    d = desk(client, session, engine)
    case_id = report(client, d.customer).json()["case_id"]
    rejected = _assess(
        client,
        d.officer_h,
        case_id,
        platform_fault=True,
        amounts={"USDT": "100"},
        reasoning="maybe our fault",
    )
    aid = rejected.json()["id"]
    no = _decide(client, d.second.id, d.second_h, aid, "reject")
    assert no.status_code == 200 and no.json()["status"] == "rejected"
    assert_problem(_pay(client, d.officer_h, aid, None), 409, "compensation_not_payable")

    verdict = _assess(
        client,
        d.officer_h,
        case_id,
        platform_fault=False,
        reasoning="Phished password reused elsewhere; not our fault.",
    )
    assert verdict.status_code == 201, verdict.text
    assert verdict.json()["status"] == "no_fault"
    assert_problem(
        _pay(client, d.officer_h, verdict.json()["id"], None), 409, "compensation_not_payable"
    )
    assert count(engine, DemoPayout) == 0
    closed = client.post(
        f"/api/v1/security/cases/{case_id}/close",
        json={"resolution": "Customer advised; account stays frozen until re-verified."},
        headers=d.officer_h,
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert_problem(
        _assess(client, d.officer_h, case_id, platform_fault=False, reasoning="late"),
        409,
        "security_case_closed",
    )
    # A new report after the case is closed opens a new case.
    assert report(client, d.customer).status_code == 201
    assert audit_entries(engine, action="security.case_closed")[0].actor_id == d.officer.id


def test_concurrent_payout_retries_pay_once(
    client: TestClient, session: Session, engine: Engine
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    d = desk(client, session, engine)
    case_id = report(client, d.customer).json()["case_id"]
    assessment = _assess(
        client,
        d.officer_h,
        case_id,
        platform_fault=True,
        amounts={"USDT": "50"},
        reasoning="matching engine fault",
    ).json()
    aid = assessment["id"]
    assert _decide(client, d.second.id, d.second_h, aid, "approve").status_code == 200
    challenge_id = client.post(
        "/api/v1/step-up/challenges",
        json={
            "operation": "compensation.payout",
            "customer_id": d.customer.id,
            "payload": assessment["payout_payload"],
        },
        headers=d.officer_h,
    ).json()["id"]
    assert confirm_agent(client, challenge_id, d.officer, d.officer_h).status_code == 200
    approve_challenge(client, challenge_id, d.officer_h, d.third, d.third_h)
    usdt_before = _balance(engine, d.customer.external_id, "USDT")

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: _pay(client, d.officer_h, aid, challenge_id), range(4)))
    # Every retry either got the paid assessment or found the challenge already spent.
    assert {a.status_code for a in answers} <= {200, 409}
    assert any(a.status_code == 200 for a in answers)
    final = _pay(client, d.officer_h, aid, None).json()
    assert final["status"] == "paid"
    assert count(engine, DemoPayout) == 1
    assert _balance(engine, d.customer.external_id, "USDT") == usdt_before + Decimal("50")
