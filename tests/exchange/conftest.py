"""Both adapters over the same books: the demo exchange directly, and the http adapter
talking to the reference server (real uvicorn on a loopback socket) over the same database."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.core.db import session_factory
from kefu.exchange.adapters.demo import DemoExchange
from kefu.exchange.adapters.http import HttpExchange
from kefu.exchange.demo_data import open_demo_account
from kefu.exchange.models import (
    DemoApiKey,
    DemoCandle,
    DemoDepositAddress,
    DemoIncident,
    DemoLiquidation,
    DemoLogin,
    DemoPosition,
    DemoSession,
    DemoTransfer,
)
from kefu.exchange.reference_server import create_reference_app

KEY_ID, SECRET = "kefu-test", "test-secret-0123456789"
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
BTC_TX = "a1" * 32
ETH_TX = "0x" + "b2" * 32
DEPOSIT_BTC = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
ETH_ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """`app` on a loopback socket bound before uvicorn starts (no port race)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive(), "uvicorn exited during start-up"
        assert time.monotonic() < deadline, "uvicorn did not start in time"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def reference_url(engine: Engine) -> Iterator[str]:
    with serve(create_reference_app(engine, key_id=KEY_ID, secret=SECRET)) as url:
        yield url


@dataclass
class Books:
    liquidation_id: str
    withdrawal_id: str


@pytest.fixture
def books(engine: Engine) -> Books:
    """One account, `acct-1` (SG), with a little of everything; `acct-2` (DE) bare."""
    with session_factory(engine)() as s:
        books = fill_books(s)
        s.commit()
    return books


def fill_books(s: Session) -> Books:
    open_demo_account(
        s,
        "acct-1",
        "SG",
        created_at=T0 - timedelta(days=300),
        balances={"BTC": Decimal("1.50000000"), "ETH": Decimal("10"), "USDT": Decimal("250.5")},
    )
    open_demo_account(s, "acct-2", "DE", created_at=T0 - timedelta(days=30), balances={})
    s.add_all(
        [
            DemoDepositAddress(external_id="acct-1", asset="BTC", chain="BTC", address=DEPOSIT_BTC),
            DemoDepositAddress(external_id="acct-1", asset="ETH", chain="ETH", address=ETH_ADDR),
            DemoTransfer(
                external_id="acct-1",
                direction="deposit",
                asset="BTC",
                chain="BTC",
                amount=Decimal("0.25"),
                fee=Decimal(0),
                address=DEPOSIT_BTC,
                tx_hash=BTC_TX,
                status="confirming",
                confirmations=1,
                confirmations_required=2,
                created_at=T0 - timedelta(minutes=20),
            ),
            DemoTransfer(
                external_id="acct-1",
                direction="deposit",
                asset="ETH",
                chain="ETH",
                amount=Decimal("2.5"),
                fee=Decimal(0),
                address=ETH_ADDR,
                tx_hash=ETH_TX,
                status="completed",
                confirmations=80,
                confirmations_required=64,
                created_at=T0 - timedelta(days=3),
                completed_at=T0 - timedelta(days=3) + timedelta(minutes=15),
            ),
        ]
    )
    withdrawal = DemoTransfer(
        external_id="acct-1",
        direction="withdrawal",
        asset="ETH",
        chain="ETH",
        amount=Decimal("1.000000000000000001"),
        fee=Decimal("0.0015"),
        address=ETH_ADDR,
        tx_hash="0x" + "c3" * 32,
        status="completed",
        confirmations=70,
        confirmations_required=64,
        created_at=T0 - timedelta(days=1),
        completed_at=T0 - timedelta(days=1) + timedelta(minutes=5),
    )
    position = DemoPosition(
        external_id="acct-1",
        symbol="BTCUSDT",
        contract_type="linear",
        margin_mode="isolated",
        side="long",
        leverage=Decimal(20),
        entry_price=Decimal("91000"),
        size=Decimal("0.5"),
        contract_size=Decimal(1),
        margin=Decimal("2275"),
        margin_asset="USDT",
        mm_tier=1,
        mm_max_notional=Decimal(50000),
        mm_rate=Decimal("0.004"),
        mm_amount=Decimal(0),
        opened_at=T0 - timedelta(hours=5),
        closed_at=T0 + timedelta(minutes=3),
    )
    s.add_all([withdrawal, position])
    s.flush()
    liquidation = DemoLiquidation(
        position_id=position.id,
        external_id="acct-1",
        triggered_at=T0 + timedelta(minutes=3, seconds=12),
        trigger_price=Decimal("86810.4"),
        liquidation_price=Decimal("86812.85"),
        mark_price=Decimal("86810.4"),
        fee=Decimal("11.4"),
    )
    s.add(liquidation)
    for i in range(10):  # ten one-minute candles, a wick on the last price at minute 3
        for kind in ("last", "mark", "index"):
            low = Decimal(87000 - i) - (Decimal(900) if kind == "last" and i == 3 else 0)
            s.add(
                DemoCandle(
                    symbol="BTCUSDT",
                    kind=kind,
                    open_time=T0 + timedelta(minutes=i),
                    open=Decimal(87100 - i),
                    high=Decimal(87200 - i),
                    low=low,
                    close=Decimal(87050 - i),
                    volume=Decimal("1.5") if kind == "last" else Decimal(0),
                )
            )
    s.add_all(
        [
            DemoIncident(
                component="matching-engine",
                severity="major",
                title="Order latency",
                description="Orders delayed",
                started_at=T0 + timedelta(minutes=1),
                ended_at=T0 + timedelta(minutes=30),
            ),
            DemoIncident(
                component="api",
                severity="minor",
                title="Old",
                description="Long ago",
                started_at=T0 - timedelta(days=10),
                ended_at=T0 - timedelta(days=10) + timedelta(hours=1),
            ),
            DemoLogin(
                external_id="acct-1",
                at=T0 - timedelta(hours=1),
                ip="203.0.113.7",
                device="Chrome 131 · Windows 11",
                country="SG",
                result="success",
            ),
            DemoSession(external_id="acct-1", device="iPhone", ip="203.0.113.7", created_at=T0),
            DemoSession(external_id="acct-1", device="Chrome", ip="203.0.113.7", created_at=T0),
            DemoApiKey(
                external_id="acct-1",
                label="trading bot",
                permissions=["read", "trade"],
                created_at=T0 - timedelta(days=9),
            ),
        ]
    )
    s.flush()
    return Books(liquidation_id=liquidation.id, withdrawal_id=withdrawal.id)


def http_adapter(base_url: str, **kwargs: object) -> HttpExchange:
    options: dict[str, object] = {"retries": 2, "backoff": 0.01, "timeout": 10.0}
    options.update(kwargs)
    return HttpExchange(base_url, key_id=KEY_ID, secret=SECRET, **options)  # type: ignore[arg-type]


@pytest.fixture(params=["demo", "http"])
def exchange(request: pytest.FixtureRequest, engine: Engine) -> DemoExchange | HttpExchange:
    if request.param == "demo":
        return DemoExchange(engine)
    return http_adapter(request.getfixturevalue("reference_url"))
