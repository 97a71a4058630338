"""The chain module's privacy rule reads a customer's own addresses from the exchange port:
their deposit addresses are "yours" (with the exchange's records); any other address —
the thief's included — gets public chain data only."""

from __future__ import annotations

import anyio
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.exchange.adapters.demo import DemoExchange
from kefu.security.own_addresses import ExchangeOwnAddresses
from tests.factories import customer_headers
from tests.security.helpers import DEPOSIT_ETH, THIEF, desk


def test_chain_lookups_mark_the_customers_deposit_addresses_from_the_exchange(
    client: TestClient, session: Session, engine: Engine
) -> None:
    d = desk(client, session, engine)
    headers = customer_headers(d.customer)
    own = client.get(f"/api/v1/chain/ethereum/addresses/{DEPOSIT_ETH.lower()}", headers=headers)
    assert own.status_code == 200, own.text
    assert own.json()["yours"] is True
    assert own.json()["account_records"] == [
        {"kind": "deposit_address", "asset": "ETH", "chain": "ETH", "memo": None}
    ]
    other = client.get(f"/api/v1/chain/ethereum/addresses/{THIEF}", headers=headers)
    assert other.status_code == 200, other.text
    assert other.json()["yours"] is False
    assert other.json()["account_records"] == []
    assert other.json()["label"] is None  # customers never see labels


def test_unknown_accounts_and_other_chains_are_not_own(engine: Engine) -> None:
    own = ExchangeOwnAddresses(DemoExchange(engine), chain_names={"ETH": "ethereum"})
    # Outside any event loop (CLI, jobs): the port runs on a fresh loop.
    assert own.is_own("no-such-account", "ethereum", DEPOSIT_ETH) is False

    async def inside_worker_thread() -> bool:
        return await anyio.to_thread.run_sync(own.is_own, "no-such-account", "bitcoin", THIEF)

    assert anyio.run(inside_worker_thread) is False
