"""Choosing the adapter by settings, the whole path agent API → http adapter → reference
server, and `kefu exchange serve-reference` as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.app import create_app
from kefu.core.settings import Settings
from kefu.exchange.adapters.demo import DemoExchange
from kefu.exchange.adapters.http import HttpExchange
from kefu.exchange.factory import exchange_for
from kefu.exchange.port import Exchange
from kefu.exchange.signing import KEY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from kefu.migrations import upgrade
from kefu.testing.net import free_port
from tests.exchange.conftest import KEY_ID, SECRET, Books
from tests.factories import agent_headers, make_agent, make_customer


def test_settings_choose_the_adapter(settings: Settings, engine: Engine) -> None:
    demo = exchange_for(settings, engine)
    assert isinstance(demo, DemoExchange) and isinstance(demo, Exchange)
    http = exchange_for(
        settings.model_copy(
            update={"exchange_adapter": "http", "exchange_base_url": "https://ex.example/kefu/"}
        ),
        engine,
    )
    assert isinstance(http, HttpExchange) and http.base_url == "https://ex.example/kefu"


def test_bad_adapter_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEFU_EXCHANGE_ADAPTER", "ftp")
    with pytest.raises(ValidationError):
        Settings()


def test_agent_api_over_the_http_adapter(
    settings: Settings, engine: Engine, session: Session, reference_url: str, books: Books
) -> None:
    over_http = settings.model_copy(
        update={
            "exchange_adapter": "http",
            "exchange_base_url": reference_url,
            "exchange_key_id": KEY_ID,
            "exchange_secret": SECRET,
        }
    )
    with TestClient(create_app(over_http, engine), raise_server_exceptions=False) as client:
        headers = agent_headers(client, make_agent(session))
        customer = make_customer(session, external_id="acct-1")
        response = client.get(f"/api/v1/customers/{customer.id}/exchange/balances", headers=headers)
        assert response.status_code == 200, response.text
        assert {b["asset"] for b in response.json()} == {"BTC", "ETH", "USDT"}
        stranger = make_customer(session, external_id="ghost")
        missing = client.get(f"/api/v1/customers/{stranger.id}/exchange/account", headers=headers)
        assert missing.status_code == 404
        assert missing.json()["code"] == "exchange_unknown_account"
        assert "ghost" in missing.json()["title"]


def test_serve_reference_command(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ref.db'}"
    upgrade(url)
    port = free_port()
    env = {
        **os.environ,
        "KEFU_DATABASE_URL": url,
        "KEFU_EXCHANGE_KEY_ID": "ref",
        "KEFU_EXCHANGE_SECRET": "ref-secret",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "exchange", "serve-reference", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            stamp = str(int(time.time()))
            path = "/v1/accounts/nobody"
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}{path}",
                    headers={
                        KEY_HEADER: "ref",
                        TIMESTAMP_HEADER: stamp,
                        SIGNATURE_HEADER: signature("ref-secret", stamp, "GET", path, b""),
                    },
                    timeout=5,
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the reference server did not start"
                time.sleep(0.2)
        assert response.status_code == 404
        assert response.json()["code"] == "exchange_unknown_account"
    finally:
        process.terminate()
        process.wait(timeout=15)
