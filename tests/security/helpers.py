"""A compromised account on the demo exchange, and the people who work its case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.chain.models import AddressLabel
from kefu.core.clock import clock, utcnow
from kefu.core.db import session_factory
from kefu.exchange.demo_data import open_demo_account
from kefu.exchange.models import DemoApiKey, DemoDepositAddress, DemoLogin, DemoTransfer
from kefu.identity.models import Agent, Customer, Role
from tests.factories import agent_headers, customer_headers, make_agent, make_customer
from tests.identity.documents_helpers import submit, upload
from tests.identity.mfa.helpers import agent_code

# Aligned to a 30-second TOTP step plus 10 s.
T0 = datetime(2026, 11, 26, 6, 0, 10, tzinfo=UTC)
THIEF = "0x1111111111111111111111111111111111111111"
WITHDRAWAL_TX = "0x" + "c3" * 32
BTC_TX = "d4" * 32
THIEF_BTC = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"
DEPOSIT_ETH = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


def tick(seconds: int = 31) -> None:
    """Move the frozen clock on (a fresh TOTP step for the next code)."""
    clock.freeze(utcnow() + timedelta(seconds=seconds))


@dataclass
class Desk:
    customer: Customer
    officer: Agent  # works the case, starts challenges
    officer_h: dict[str, str]
    second: Agent  # another risk officer: approver
    second_h: dict[str, str]
    third: Agent  # an admin: approver
    third_h: dict[str, str]


def seed_account(engine: Engine, external_id: str) -> None:
    """A demo account with withdrawals to a labelled thief's address, logins and API keys."""
    with session_factory(engine)() as s:
        open_demo_account(
            s,
            external_id,
            "SG",
            created_at=T0 - timedelta(days=400),
            balances={"ETH": Decimal("10"), "BTC": Decimal("1"), "USDT": Decimal("100")},
        )
        s.add_all(
            [
                DemoDepositAddress(
                    external_id=external_id, asset="ETH", chain="ETH", address=DEPOSIT_ETH
                ),
                DemoTransfer(
                    external_id=external_id,
                    direction="withdrawal",
                    asset="ETH",
                    chain="ETH",
                    amount=Decimal("4.2"),
                    fee=Decimal("0.0015"),
                    address=THIEF,
                    tx_hash=WITHDRAWAL_TX,
                    status="completed",
                    confirmations=70,
                    confirmations_required=64,
                    created_at=T0 - timedelta(hours=3),
                    completed_at=T0 - timedelta(hours=3) + timedelta(minutes=5),
                ),
                DemoTransfer(
                    external_id=external_id,
                    direction="withdrawal",
                    asset="BTC",
                    chain="BTC",
                    amount=Decimal("0.3"),
                    fee=Decimal("0.0001"),
                    address=THIEF_BTC,
                    tx_hash=BTC_TX,
                    status="completed",
                    confirmations=6,
                    confirmations_required=2,
                    created_at=T0 - timedelta(hours=2),
                    completed_at=T0 - timedelta(hours=1),
                ),
                DemoTransfer(  # long before the suspected time: not in the trace
                    external_id=external_id,
                    direction="withdrawal",
                    asset="ETH",
                    chain="ETH",
                    amount=Decimal("1"),
                    fee=Decimal("0.001"),
                    address=DEPOSIT_ETH,
                    tx_hash="0x" + "e5" * 32,
                    status="completed",
                    confirmations=70,
                    confirmations_required=64,
                    created_at=T0 - timedelta(days=20),
                ),
                DemoLogin(
                    external_id=external_id,
                    at=T0 - timedelta(hours=4),
                    ip="203.0.113.9",
                    device="Firefox on Linux",
                    country="NL",
                    result="success",
                ),
                DemoLogin(
                    external_id=external_id,
                    at=T0 - timedelta(days=10),
                    ip="198.51.100.7",
                    device="iPhone",
                    country="SG",
                    result="success",
                ),
                DemoApiKey(
                    external_id=external_id,
                    label="bot-by-attacker",
                    permissions=["read", "withdraw"],
                    created_at=T0 - timedelta(hours=3, minutes=30),
                ),
                AddressLabel(
                    chain="ethereum",
                    address=THIEF.lower(),
                    kind="scam",
                    label="Reported drainer",
                    source="test",
                    note="",
                    active=True,
                    created_at=T0,
                    updated_at=T0,
                ),
            ]
        )
        s.commit()


def desk(client: TestClient, session: Session, engine: Engine) -> Desk:
    clock.freeze(T0)
    customer = make_customer(session)
    seed_account(engine, customer.external_id)
    officer = make_agent(session, Role.RISK_OFFICER)
    second = make_agent(session, Role.RISK_OFFICER)
    third = make_agent(session, Role.ADMIN)
    headers = [agent_headers(client, a) for a in (officer, second, third)]
    tick()
    return Desk(customer, officer, headers[0], second, headers[1], third, headers[2])


def sign_in_again(client: TestClient, d: Desk) -> None:
    """After a jump of the clock past the agents' session lifetime."""
    d.officer_h = agent_headers(client, d.officer)
    tick()
    d.second_h = agent_headers(client, d.second)
    d.third_h = agent_headers(client, d.third)


def report(client: TestClient, customer: Customer, **body: Any) -> Any:
    return client.post("/api/v1/security/reports", json=body, headers=customer_headers(customer))


def approve_id_review(client: TestClient, customer: Customer, reviewer_h: dict[str, str]) -> None:
    """The customer re-verifies with an ID document; a reviewer approves it."""
    headers = customer_headers(customer)
    assert upload(client, headers).status_code == 201
    review = submit(client, headers)
    decided = client.post(
        f"/api/v1/identity/reviews/{review['id']}/decision",
        json={"decision": "approve"},
        headers=reviewer_h,
    )
    assert decided.status_code == 200, decided.text


def confirm_agent(client: TestClient, challenge_id: str, agent: Agent, h: dict[str, str]) -> Any:
    tick()
    return client.post(
        f"/api/v1/step-up/challenges/{challenge_id}/verify",
        json={"factor": "totp", "code": agent_code(client, agent.id)},
        headers=h,
    )


def approve_challenge(
    client: TestClient,
    challenge_id: str,
    requester_h: dict[str, str],
    approver: Agent,
    approver_h: dict[str, str],
) -> None:
    asked = client.post(
        "/api/v1/approvals",
        json={"challenge_id": challenge_id, "reason": "case reviewed"},
        headers=requester_h,
    )
    assert asked.status_code == 201, asked.text
    tick()
    approved = client.post(
        f"/api/v1/approvals/{asked.json()['id']}/approve",
        json={"code": agent_code(client, approver.id)},
        headers=approver_h,
    )
    assert approved.status_code == 200, approved.text
