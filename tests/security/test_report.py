"""A report of a compromised account freezes it in the same request, opens a case with an
urgent risk ticket, and records the trace with explorer links and address labels."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.core.clock import utcnow
from kefu.core.db import session_factory
from kefu.exchange.adapters.demo import DemoExchange
from kefu.exchange.errors import AccountFrozen
from kefu.exchange.models import DemoControl
from kefu.exchange.port import WithdrawalRequest
from kefu.identity.models import Role
from kefu.security import service
from kefu.security.models import SecurityCase
from kefu.tickets.models import Ticket
from tests.core.helpers import assert_problem, audit_entries, count
from tests.factories import agent_headers, customer_headers, make_agent, make_customer
from tests.security.helpers import (
    BTC_TX,
    THIEF,
    WITHDRAWAL_TX,
    desk,
    report,
)


def _withdraw(engine: Engine, external_id: str) -> None:
    request = WithdrawalRequest(asset="ETH", chain="ETH", amount=Decimal("1"), address=THIEF)
    anyio.run(DemoExchange(engine).request_withdrawal, external_id, request)


def test_a_report_freezes_at_once_and_the_exchange_refuses_withdrawals(
    client: TestClient, session: Session, engine: Engine
) -> None:
    d = desk(client, session, engine)
    _withdraw(engine, d.customer.external_id)  # before the report the thief can withdraw

    response = report(client, d.customer, description="I did not make these withdrawals")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["joined"] is False
    assert body["freeze_state"] == "frozen"
    assert body["frozen_scopes"] == ["api_keys", "sessions", "withdrawals"]

    # The freeze happened inside that request: no human has looked yet.
    with pytest.raises(AccountFrozen):
        _withdraw(engine, d.customer.external_id)

    with session_factory(engine)() as s:
        ticket = s.get(Ticket, body["ticket_id"])
        assert ticket is not None
        assert (ticket.priority, ticket.tier, ticket.category) == ("urgent", "risk", "security")
        assert ticket.asset_related is True

    case = client.get(f"/api/v1/security/cases/{body['case_id']}", headers=d.officer_h).json()
    trace = case["trace"]
    # The two thefts, then the withdrawal made just before the report (not yet broadcast).
    assert [w["tx_hash"] for w in trace["withdrawals"]] == [WITHDRAWAL_TX, BTC_TX, None]
    by_tx = {w["tx_hash"]: w for w in trace["withdrawals"]}
    assert WITHDRAWAL_TX in by_tx and BTC_TX in by_tx
    eth = by_tx[WITHDRAWAL_TX]
    assert eth["chain"] == "ETH" and eth["amount"] == "4.2"
    assert eth["explorer_links"] == [f"https://etherscan.io/tx/{WITHDRAWAL_TX}"]
    assert eth["label"] == {"kind": "scam", "label": "Reported drainer", "source": "test"}
    btc = by_tx[BTC_TX]
    assert btc["explorer_links"] and all(BTC_TX in link for link in btc["explorer_links"])
    # The old withdrawal (20 days ago) is outside the 72 h window.
    assert all(w["tx_hash"] != "0x" + "e5" * 32 for w in trace["withdrawals"])
    assert [x["country"] for x in trace["logins"]] == ["NL"]
    changes = {(k["label"], k["change"]) for k in trace["api_keys"]}
    assert ("bot-by-attacker", "created") in changes
    # The freeze revoked the attacker's key; the trace shows that change too.
    assert ("bot-by-attacker", "revoked") in changes

    kinds = [e["kind"] for e in case["timeline"]]
    assert kinds[:4] == ["reported", "case_opened", "frozen", "trace_recorded"]
    actions = {e.action for e in audit_entries(engine)}
    assert {
        "security.reported",
        "security.case_opened",
        "security.frozen",
        "security.trace_recorded",
        "security.case_read",
    } <= actions
    reported = audit_entries(engine, action="security.reported")[0]
    assert reported.actor_type == "customer" and reported.actor_id == d.customer.id
    assert reported.data["why"] == "I did not make these withdrawals"

    mine = client.get("/api/v1/security/cases/mine", headers=customer_headers(d.customer))
    assert [c["id"] for c in mine.json()] == [body["case_id"]]
    assert "trace" not in mine.json()[0]


def test_a_second_report_joins_the_open_case_without_freezing_again(
    client: TestClient, session: Session, engine: Engine
) -> None:
    d = desk(client, session, engine)
    first = report(client, d.customer).json()
    controls = count(engine, DemoControl)
    agent = make_agent(session, Role.AGENT)
    again = client.post(
        "/api/v1/security/reports",
        json={"customer_id": d.customer.id, "description": "customer called", "channel": "console"},
        headers=agent_headers(client, agent),
    )
    assert again.status_code == 200, again.text
    assert again.json()["joined"] is True and again.json()["case_id"] == first["case_id"]
    assert count(engine, DemoControl) == controls  # no second freeze
    case = client.get(f"/api/v1/security/cases/{first['case_id']}", headers=d.officer_h).json()
    assert case["reports"] == 2
    assert count(engine, Ticket) == 1
    assert audit_entries(engine, action="security.report_joined")[0].actor_id == agent.id


def test_the_suspected_time_bounds_the_trace_and_trading_may_be_frozen(
    client: TestClient, session: Session, engine: Engine
) -> None:
    d = desk(client, session, engine)
    since = (utcnow() - timedelta(hours=2, minutes=30)).isoformat()
    body = report(client, d.customer, suspected_since=since, include_trading=True).json()
    assert "trading" in body["frozen_scopes"]
    case = client.get(f"/api/v1/security/cases/{body['case_id']}", headers=d.officer_h).json()
    assert [w["tx_hash"] for w in case["trace"]["withdrawals"]] == [BTC_TX]
    assert case["trace"]["logins"] == []


def test_report_refusals(client: TestClient, session: Session, engine: Engine) -> None:
    d = desk(client, session, engine)
    other = make_customer(session)
    # A customer reports only their own account.
    refused = report(client, d.customer, customer_id=other.id)
    assert_problem(refused, 403, "permission_denied")
    # An agent names the customer.
    agent_h = agent_headers(client, make_agent(session, Role.AGENT))
    missing = client.post("/api/v1/security/reports", json={}, headers=agent_h)
    assert_problem(missing, 400, "security_customer_required")
    unknown = client.post("/api/v1/security/reports", json={"customer_id": "nope"}, headers=agent_h)
    assert_problem(unknown, 404, "not_found")
    bad_time = report(client, d.customer, suspected_since="2026-11-25T10:00:00")
    assert bad_time.status_code == 422
    assert client.post("/api/v1/security/reports", json={}).status_code == 401
    # Plain agents may report but not work the cases.
    assert_problem(client.get("/api/v1/security/cases", headers=agent_h), 403, "permission_denied")
    assert_problem(
        client.get("/api/v1/security/cases/mine", headers=agent_h), 403, "permission_denied"
    )


def test_the_bot_reports_through_the_service(
    client: TestClient, session: Session, engine: Engine
) -> None:
    d = desk(client, session, engine)
    from kefu.audit.service import Actor
    from kefu.core.settings import Settings

    app_state = client.app.state  # type: ignore[attr-defined]
    settings: Settings = app_state.settings
    with session_factory(engine)() as s:
        customer = s.get(type(d.customer), d.customer.id)
        assert customer is not None
        outcome = service.report_compromise(
            s,
            DemoExchange(engine),
            customer=customer,
            actor=Actor.bot(),
            channel="bot",
            description="intent account_compromised",
            settings=settings,
        )
        s.commit()
        assert outcome.case.freeze_state == "frozen"
    with pytest.raises(AccountFrozen):
        _withdraw(engine, d.customer.external_id)
    with session_factory(engine)() as s:
        case = s.scalar(select(SecurityCase))
        assert case is not None and case.channel == "bot" and case.reported_by_type == "bot"
