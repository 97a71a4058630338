"""The protocol over the http adapter: kefu talks to the reference server (real uvicorn on
loopback) implementing the REST contract, and the freeze holds there too."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.app import create_app
from kefu.core.settings import Settings
from kefu.exchange.adapters.demo import DemoExchange
from kefu.exchange.errors import AccountFrozen
from kefu.exchange.port import WithdrawalRequest
from kefu.exchange.reference_server import create_reference_app
from tests.exchange.conftest import serve
from tests.security.helpers import THIEF, WITHDRAWAL_TX, desk, report

KEY_ID, SECRET = "kefu-security-test", "security-test-secret-0123456789"


@pytest.fixture
def http_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    with serve(create_reference_app(engine, key_id=KEY_ID, secret=SECRET)) as url:
        configured = settings.model_copy(
            update={
                "exchange_adapter": "http",
                "exchange_base_url": url,
                "exchange_key_id": KEY_ID,
                "exchange_secret": SECRET,
            }
        )
        app = create_app(configured, engine)
        with TestClient(app, raise_server_exceptions=False) as test_client:
            yield test_client


def test_a_report_freezes_through_the_http_contract(
    http_client: TestClient, session: Session, engine: Engine
) -> None:
    d = desk(http_client, session, engine)
    body = report(http_client, d.customer, description="over http").json()
    assert body["freeze_state"] == "frozen", body
    request = WithdrawalRequest(asset="ETH", chain="ETH", amount=Decimal("1"), address=THIEF)
    with pytest.raises(AccountFrozen):
        anyio.run(DemoExchange(engine).request_withdrawal, d.customer.external_id, request)
    case = http_client.get(f"/api/v1/security/cases/{body['case_id']}", headers=d.officer_h)
    assert WITHDRAWAL_TX in [w["tx_hash"] for w in case.json()["trace"]["withdrawals"]]
    # A second request reuses the adapter's connection pool on the application's loop.
    again = report(http_client, d.customer)
    assert again.status_code == 200 and again.json()["joined"] is True
