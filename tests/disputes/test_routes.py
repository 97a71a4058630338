"""The disputes API over the demo exchange: analyse a ticket's liquidation, attach the report,
escalate when it needs risk review, read it back and its chart; all audited."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.exchange.models import DemoLiquidation, DemoPosition
from kefu.identity.models import Role
from kefu.tickets.models import Message, Ticket
from tests.core.helpers import assert_problem, audit_entries
from tests.exchange.conftest import T0, Books
from tests.factories import agent_headers, make_agent, make_customer, make_ticket


def _setup(
    client: TestClient, session: Session, language: str = "en"
) -> tuple[dict[str, str], str]:
    customer = make_customer(session, external_id="acct-1", jurisdiction="SG", language=language)
    ticket = make_ticket(session, customer, subject="Liquidated unfairly", language=language)
    return agent_headers(client, make_agent(session)), ticket.id


def test_agent_analyses_a_liquidation_and_it_is_attached_and_escalated(
    client: TestClient, session: Session, engine: Engine, books: Books
) -> None:
    headers, ticket_id = _setup(client, session)
    response = client.post(
        "/api/v1/disputes",
        json={"ticket_id": ticket_id, "liquidation_id": books.liquidation_id, "send_summary": True},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    findings = {f["kind"] for f in body["analysis"]["findings"]}
    # The books' mark never went below 86,991 while the exchange recorded 86,812.85; the
    # last price wicked 900 under the index; a matching-engine incident overlaps.
    assert {"mark_not_crossed", "wick", "incident", "candle_gap"} <= findings
    assert body["verdict"] == "needs_risk_review"
    assert body["escalated"] is True
    recomputed = Decimal(body["analysis"]["recomputed"]["liquidation_price"])
    assert recomputed.quantize(Decimal("0.01")) == Decimal("86797.19")
    assert "Recomputed liquidation price: 86797.19" in body["report"]
    assert "About liquidation risk" in body["report"]

    session.expire_all()
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None and ticket.tier == "risk"
    messages = {
        m.id: m for m in session.scalars(select(Message).where(Message.ticket_id == ticket_id))
    }
    assert messages[body["note_message_id"]].kind == "internal_note"
    assert "Findings" in messages[body["note_message_id"]].body
    summary = messages[body["summary_message_id"]]
    assert summary.kind == "agent"
    assert "86797.19" in summary.body and "candle" not in summary.body.lower()
    session.rollback()  # release SQLite's write lock before the next requests

    # Escalated to the risk queue: the first-line agent no longer sees it; a risk officer does.
    assert_problem(
        client.get(f"/api/v1/disputes/{body['id']}", headers=headers), 404, "dispute_not_found"
    )
    headers = agent_headers(client, make_agent(session, role=Role.RISK_OFFICER))
    again = client.get(f"/api/v1/disputes/{body['id']}", headers=headers)
    assert again.status_code == 200
    assert again.json()["verdict"] == "needs_risk_review"
    chart = client.get(body["chart_url"], headers=headers)
    assert chart.status_code == 200
    assert chart.headers["content-type"].startswith("image/svg+xml")
    assert "default-src 'none'" in chart.headers["content-security-policy"]
    root = ET.fromstring(chart.text)
    classes = {c for el in root.iter() for c in (el.get("class") or "").split()}
    assert {"entry", "recorded", "recomputed", "trigger", "mark", "index"} <= classes

    actions = [e.action for e in audit_entries(engine, subject_id=ticket_id)]
    assert {"dispute.analysed", "dispute.report_read", "dispute.chart_read"} <= set(actions)


def test_report_in_the_customers_language(
    client: TestClient, session: Session, books: Books
) -> None:
    headers, ticket_id = _setup(client, session, language="zh-CN")
    request = {"ticket_id": ticket_id, "liquidation_id": books.liquidation_id}
    keyed = {**headers, "Idempotency-Key": "dispute-1"}
    response = client.post("/api/v1/disputes", json=request, headers=keyed)
    assert response.status_code == 201, response.text
    body = response.json()
    retry = client.post("/api/v1/disputes", json=request, headers=keyed)
    assert retry.status_code == 201 and retry.json()["id"] == body["id"]
    assert body["language"] == "zh-CN"
    assert "重新计算的强平价格" in body["report"]
    assert body["summary_message_id"] is None
    officer = agent_headers(client, make_agent(session, role=Role.RISK_OFFICER))
    listed = client.get("/api/v1/disputes", params={"ticket_id": ticket_id}, headers=officer)
    assert listed.status_code == 200, listed.text
    assert [d["id"] for d in listed.json()] == [body["id"]]


def test_bad_requests_give_clear_problems(
    client: TestClient, session: Session, books: Books
) -> None:
    headers, ticket_id = _setup(client, session)
    unknown = client.post(
        "/api/v1/disputes",
        json={"ticket_id": ticket_id, "liquidation_id": "nope"},
        headers=headers,
    )
    assert_problem(unknown, 404, "liquidation_not_found")
    negative_fee = client.post(
        "/api/v1/disputes",
        json={"ticket_id": ticket_id, "liquidation_id": books.liquidation_id, "fee_rate": "-1"},
        headers=headers,
    )
    assert negative_fee.status_code == 422
    unknown_basis = client.post(
        "/api/v1/disputes",
        json={
            "ticket_id": ticket_id,
            "liquidation_id": books.liquidation_id,
            "maintenance_basis": "portfolio",
        },
        headers=headers,
    )
    assert unknown_basis.status_code == 422
    assert_problem(client.get("/api/v1/disputes/nope", headers=headers), 404, "dispute_not_found")


def test_another_customers_liquidation_is_not_found(
    client: TestClient, session: Session, books: Books
) -> None:
    other = make_customer(session, external_id="acct-2", jurisdiction="DE")
    ticket = make_ticket(session, other)
    headers = agent_headers(client, make_agent(session))
    response = client.post(
        "/api/v1/disputes",
        json={"ticket_id": ticket.id, "liquidation_id": books.liquidation_id},
        headers=headers,
    )
    assert_problem(response, 404, "liquidation_not_found")


def test_customers_cannot_analyse(client: TestClient, session: Session, books: Books) -> None:
    from tests.factories import customer_headers

    customer = make_customer(session, external_id="acct-1", jurisdiction="SG")
    ticket = make_ticket(session, customer)
    response = client.post(
        "/api/v1/disputes",
        json={"ticket_id": ticket.id, "liquidation_id": books.liquidation_id},
        headers=customer_headers(customer),
    )
    assert response.status_code in (401, 403)


def test_a_liquidation_without_candles_is_a_clear_problem(
    client: TestClient, session: Session, books: Books
) -> None:
    headers, ticket_id = _setup(client, session)
    position = DemoPosition(
        external_id="acct-1",
        symbol="SOLUSDT",  # the demo books hold no SOLUSDT candles
        contract_type="linear",
        margin_mode="isolated",
        side="short",
        leverage=Decimal(10),
        entry_price=Decimal("150"),
        size=Decimal("10"),
        contract_size=Decimal(1),
        margin=Decimal("150"),
        margin_asset="USDT",
        mm_tier=1,
        mm_max_notional=Decimal(50000),
        mm_rate=Decimal("0.005"),
        mm_amount=Decimal(0),
        opened_at=T0 - timedelta(hours=1),
        closed_at=T0,
    )
    session.add(position)
    session.flush()
    liquidation = DemoLiquidation(
        position_id=position.id,
        external_id="acct-1",
        triggered_at=T0,
        trigger_price=Decimal("164.2"),
        liquidation_price=Decimal("164.18"),
        mark_price=Decimal("164.2"),
        fee=Decimal("0.5"),
    )
    session.add(liquidation)
    session.commit()
    response = client.post(
        "/api/v1/disputes",
        json={"ticket_id": ticket_id, "liquidation_id": liquidation.id},
        headers=headers,
    )
    problem = assert_problem(response, 422, "candles_missing")
    assert "SOLUSDT" in problem["detail"]
