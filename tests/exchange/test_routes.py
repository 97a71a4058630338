"""The agent API over the exchange port: a customer's exchange data, permission-checked and
audited per read; the deposit and withdrawal lookups the bot and console use."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.identity.models import Role
from tests.core.helpers import assert_problem, audit_entries
from tests.exchange.conftest import BTC_TX, DEPOSIT_BTC, ETH_TX, T0, Books
from tests.factories import agent_headers, customer_headers, make_agent, make_customer


def _setup(client: TestClient, session: Session) -> tuple[dict[str, str], str]:
    customer = make_customer(session, external_id="acct-1", jurisdiction="SG")
    return agent_headers(client, make_agent(session)), customer.id


def test_agent_reads_a_customers_exchange_data_and_each_read_is_audited(
    client: TestClient, session: Session, engine: Engine, books: Books
) -> None:
    headers, customer_id = _setup(client, session)
    base = f"/api/v1/customers/{customer_id}/exchange"

    account = client.get(f"{base}/account", headers=headers)
    assert account.status_code == 200, account.text
    assert account.json()["external_id"] == "acct-1"
    assert account.json()["jurisdiction"] == "SG"

    balances = {b["asset"]: b for b in client.get(f"{base}/balances", headers=headers).json()}
    assert balances["BTC"]["available"] == "1.50000000"  # decimal strings, exactly as kept

    for part, expected in (
        ("kyc", dict),
        ("deposit-addresses", list),
        ("deposits", list),
        ("withdrawals", list),
        ("positions", list),
        ("liquidations", list),
        ("logins", list),
        ("api-keys", list),
    ):
        response = client.get(f"{base}/{part}", headers=headers)
        assert response.status_code == 200, (part, response.text)
        assert isinstance(response.json(), expected)
        assert response.json(), part
    deposits = client.get(f"{base}/deposits", params={"asset": "eth"}, headers=headers).json()
    assert [d["tx_hash"] for d in deposits] == [ETH_TX]

    actions = [e.action for e in audit_entries(engine, subject_id=customer_id)]
    assert actions.count("exchange.account_read") == 1
    assert {
        "exchange.balances_read",
        "exchange.kyc_read",
        "exchange.deposits_read",
        "exchange.withdrawals_read",
        "exchange.positions_read",
        "exchange.liquidations_read",
        "exchange.logins_read",
        "exchange.api_keys_read",
        "exchange.deposit_addresses_read",
    } <= set(actions)
    (filtered,) = [
        e for e in audit_entries(engine, subject_id=customer_id) if e.data.get("asset") == "ETH"
    ]
    assert filtered.actor_type == "agent"


def test_deposit_not_credited_lookup(
    client: TestClient, session: Session, engine: Engine, books: Books
) -> None:
    headers, customer_id = _setup(client, session)
    url = f"/api/v1/customers/{customer_id}/exchange/deposit-status"

    by_hash = client.get(url, params={"tx_hash": BTC_TX.upper()}, headers=headers).json()
    assert by_hash["verdict"] == "confirming"
    (match,) = by_hash["matches"]
    assert match["confirmations_missing"] == 1
    assert match["transfer"]["confirmations_required"] == 2
    assert [a["address"] for a in by_hash["addresses"]] == [DEPOSIT_BTC]

    credited = client.get(url, params={"tx_hash": ETH_TX}, headers=headers).json()
    assert (
        credited["verdict"] == "credited" and credited["matches"][0]["confirmations_missing"] == 0
    )

    unknown = client.get(url, params={"tx_hash": "ef" * 32}, headers=headers).json()
    assert (unknown["verdict"], unknown["matches"]) == ("not_found", [])
    # Not found: all of the customer's deposit addresses, to ask "did you send to one of these?"
    assert {a["asset"] for a in unknown["addresses"]} == {"BTC", "ETH"}

    by_asset = client.get(url, params={"asset": "btc"}, headers=headers).json()
    assert by_asset["verdict"] == "confirming"
    assert [m["transfer"]["tx_hash"] for m in by_asset["matches"]] == [BTC_TX]

    assert_problem(
        client.get(url, params={"tx_hash": "xyz"}, headers=headers), 400, "invalid_tx_hash"
    )
    assert_problem(client.get(url, headers=headers), 400, "lookup_needs_key")
    assert_problem(
        client.get(url, params={"asset": "B!"}, headers=headers), 422, "validation_error"
    )
    lookups = [
        e.data
        for e in audit_entries(engine, subject_id=customer_id)
        if e.action == "exchange.deposit_status_read"
    ]
    assert lookups[0] == {"tx_hash": BTC_TX.upper()}
    assert {"asset": "btc"} in lookups


def test_withdrawal_status_shows_freeze_and_lock(
    client: TestClient, session: Session, books: Books
) -> None:
    import anyio

    from kefu.exchange.port import FreezeScope

    headers, customer_id = _setup(client, session)
    exchange = client.app.state.exchange  # type: ignore[attr-defined]
    url = f"/api/v1/customers/{customer_id}/exchange/withdrawal-status"

    found = client.get(url, params={"withdrawal_id": books.withdrawal_id}, headers=headers).json()
    assert found["verdict"] == "sent"
    assert found["frozen_scopes"] == [] and found["withdrawals_locked"] is False

    anyio.run(exchange.freeze, "acct-1", frozenset({FreezeScope.ALL}), "report", "k-ws")
    anyio.run(exchange.lock_withdrawals, "acct-1", 24, "reset", "k-ws-lock")
    held = client.get(url, headers=headers).json()
    assert held["frozen_scopes"] == ["api_keys", "sessions", "trading", "withdrawals"]
    assert held["withdrawals_locked"] is True
    assert held["account"]["status"] == "frozen"


def test_permissions_unknowns_and_bad_inputs(
    client: TestClient, session: Session, books: Books
) -> None:
    headers, customer_id = _setup(client, session)
    base = f"/api/v1/customers/{customer_id}/exchange"
    customer = make_customer(session, external_id="not-at-exchange")

    assert_problem(client.get(f"{base}/account"), 401, "not_authenticated")
    assert_problem(
        client.get(f"{base}/account", headers=customer_headers(customer)), 403, "permission_denied"
    )
    assert_problem(
        client.get("/api/v1/customers/nope/exchange/account", headers=headers), 404, "not_found"
    )
    missing = client.get(f"/api/v1/customers/{customer.id}/exchange/account", headers=headers)
    body = assert_problem(missing, 404, "exchange_unknown_account")
    assert "not-at-exchange" in body["title"]
    zh_headers = agent_headers(client, make_agent(session, language="zh-CN"))
    zh = client.get(f"/api/v1/customers/{customer.id}/exchange/balances", headers=zh_headers)
    assert (
        "交易所没有账户 not-at-exchange"
        in assert_problem(zh, 404, "exchange_unknown_account")["title"]
    )
    assert_problem(
        client.get(f"{base}/deposits", params={"since": "yesterday"}, headers=headers),
        422,
        "validation_error",
    )
    assert_problem(
        client.get(f"{base}/deposits", params={"since": "2026-11-20T08:00:00"}, headers=headers),
        422,
        "validation_error",
    )


def test_incidents_and_candles_for_agents(
    client: TestClient, session: Session, books: Books
) -> None:
    agent = make_agent(session, role=Role.RISK_OFFICER)
    headers = agent_headers(client, agent)
    window = {"start": T0.isoformat(), "end": (T0 + timedelta(minutes=10)).isoformat()}
    incidents = client.get("/api/v1/exchange/incidents", params=window, headers=headers)
    assert [i["title"] for i in incidents.json()] == ["Order latency"]
    candles = client.get(
        "/api/v1/exchange/candles",
        params={"symbol": "BTCUSDT", "kind": "last", "interval": "5m", **window},
        headers=headers,
    )
    assert candles.status_code == 200, candles.text
    assert [Decimal(c["low"]) for c in candles.json()] == [Decimal(86097), Decimal(86991)]
    bad = client.get(
        "/api/v1/exchange/candles",
        params={
            "symbol": "BTCUSDT",
            "kind": "last",
            "interval": "1m",
            **window,
            "end": window["start"],
        },
        headers=headers,
    )
    assert_problem(bad, 422, "exchange_invalid_request")
