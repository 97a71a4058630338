"""The demo exchange page: on only with `demo_pages`, embeds the widget with one tag and a
server-minted token, and its code check answers genuine or not."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from kefu.app import create_app
from kefu.core.settings import Settings
from tests.chat.helpers import hello, open_socket
from tests.factories import make_customer
from tests.web.console_helpers import csrf_from


def test_demo_page_embeds_the_widget_for_the_chosen_customer(
    client: TestClient, session: Any
) -> None:
    make_customer(session, external_id="demo-0001", display_name="Demo Li", language="zh-CN")
    page = client.get("/demo/exchange?customer=demo-0001")
    assert page.status_code == 200
    assert "Demo Li" in page.text
    tag = re.search(r'<script src="/static/chat/widget.js" defer([^>]*)></script>', page.text)
    assert tag, page.text
    token = re.search(r'data-kefu-token="([^"]+)"', tag.group(1))
    assert token
    assert "<script>" not in page.text and "style=" not in page.text
    with open_socket(client) as ws:
        welcome = hello(ws, token.group(1))
    code = welcome["conversation"]["verification_code"]
    genuine = client.post(
        "/demo/exchange/check",
        data={"customer": "demo-0001", "code": code, "csrf_token": csrf_from(page.text)},
    )
    assert genuine.status_code == 200 and 'class="ok"' in genuine.text
    fake = client.post(
        "/demo/exchange/check",
        data={"customer": "demo-0001", "code": "ZZZZ-2222", "csrf_token": csrf_from(page.text)},
    )
    assert 'class="bad"' in fake.text
    widget = client.get("/static/chat/widget.js")
    assert widget.status_code == 200 and "attachShadow" in widget.text


def test_demo_page_is_off_unless_configured(settings: Settings, engine: Any) -> None:
    off = settings.model_copy(update={"demo_pages": False})
    with TestClient(create_app(off, engine), raise_server_exceptions=False) as client:
        assert client.get("/demo/exchange").status_code == 404
