"""The app over a real socket: uvicorn on a loopback port, httpx as the client."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.app import create_app
from kefu.core.db import session_factory
from kefu.core.settings import Settings
from kefu.testing.net import free_port
from tests.factories import customer_headers, make_agent, make_customer, sign_in


@pytest.fixture
def base_url(settings: Settings, engine: Engine) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app=create_app(settings, engine), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
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


def test_login_create_and_read_over_http(base_url: str, session: Session) -> None:
    agent = make_agent(session)
    customer = make_customer(session)

    with httpx.Client(base_url=base_url, timeout=10) as http:
        assert http.get("/healthz").json() == {"status": "ok"}

        # Password, then the second factor, enrolled over the socket on first sign-in.
        auth = sign_in(http, agent, session_factory(session.get_bind()))  # type: ignore[arg-type]

        created = http.post(
            "/api/v1/tickets",
            json={
                "subject": "KYC stuck",
                "body": "Level 2 pending",
                "category": "kyc",
                "customer_id": customer.id,
            },
            headers={**auth, "Idempotency-Key": "http-1"},
        )
        assert created.status_code == 201, created.text
        ticket = created.json()

        fetched = http.get(f"/api/v1/tickets/{ticket['id']}", headers=auth)
        assert fetched.status_code == 200
        assert fetched.json() == ticket

        mine = http.get("/api/v1/tickets", headers=customer_headers(customer))
        assert [t["id"] for t in mine.json()["items"]] == [ticket["id"]]

        unauthenticated = http.get(f"/api/v1/tickets/{ticket['id']}")
        assert unauthenticated.status_code == 401
        assert unauthenticated.headers["content-type"].startswith("application/problem+json")
