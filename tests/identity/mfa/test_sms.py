"""SMS codes: the outbox adapter (the demo's phone), Twilio's REST wire format over a real
loopback HTTP server, expiry, send limits and wrong tries."""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.app import create_app
from kefu.core.clock import clock
from kefu.core.settings import Settings
from kefu.identity.adapters import SmsDeliveryError
from kefu.identity.adapters.twilio import TwilioSmsSender
from kefu.identity.models import Role
from tests.core.helpers import assert_problem, audit_entries
from tests.factories import agent_headers, customer_headers, make_agent, make_customer
from tests.identity.mfa.helpers import T0, assert_no_secrets_in_audit

SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "twilio-auth-token-for-tests"
FROM = "+15005550006"
INVALID_NUMBER = "+15005550001"


class FakeTwilio(BaseHTTPRequestHandler):
    """Speaks Twilio's Messages API: checks the path, basic auth and form fields it expects."""

    received: list[dict[str, str]]

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        expected_auth = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != expected_auth:
            self._answer(
                401,
                {
                    "code": 20003,
                    "message": "Authenticate",
                    "more_info": "https://www.twilio.com/docs/errors/20003",
                    "status": 401,
                },
            )
            return
        if self.path != f"/2010-04-01/Accounts/{SID}/Messages.json":
            self._answer(404, {"code": 20404, "message": "Not found", "status": 404})
            return
        assert self.headers["Content-Type"] == "application/x-www-form-urlencoded"
        length = int(self.headers["Content-Length"])
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        if set(form) != {"To", "From", "Body"} or form["From"] != FROM:
            self._answer(400, {"code": 21603, "message": "A 'From' phone number is required."})
            return
        if form["To"] == INVALID_NUMBER:
            self._answer(
                400,
                {
                    "code": 21211,
                    "message": f"The 'To' number {INVALID_NUMBER} is not a valid phone number.",
                    "more_info": "https://www.twilio.com/docs/errors/21211",
                    "status": 400,
                },
            )
            return
        self.received.append(form)
        sid = f"SM{len(self.received):032d}"
        self._answer(
            201,
            {
                "sid": sid,
                "account_sid": SID,
                "to": form["To"],
                "from": form["From"],
                "body": form["Body"],
                "status": "queued",
                "uri": f"/2010-04-01/Accounts/{SID}/Messages/{sid}.json",
            },
        )


@pytest.fixture
def twilio() -> Iterator[tuple[str, list[dict[str, str]]]]:
    received: list[dict[str, str]] = []
    handler = type("Handler", (FakeTwilio,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="fake-twilio", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _code_in(text: str) -> str:
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    return match.group(1)


def test_twilio_adapter_speaks_the_rest_wire_format(
    twilio: tuple[str, list[dict[str, str]]], session: Session
) -> None:
    base_url, received = twilio
    sender = TwilioSmsSender(SID, TOKEN, FROM, base_url=base_url, timeout_seconds=5)

    sent = sender.send(session, "+6591234567", "hello")
    assert (sent.provider_id, sent.status) == ("SM" + "1".zfill(32), "queued")
    assert received == [{"To": "+6591234567", "From": FROM, "Body": "hello"}]

    with pytest.raises(SmsDeliveryError) as refused:
        sender.send(session, INVALID_NUMBER, "hello")
    assert refused.value.code == "21211"
    assert "not a valid phone number" in refused.value.reason

    with pytest.raises(SmsDeliveryError) as unauthorised:
        TwilioSmsSender(SID, "wrong", FROM, base_url=base_url).send(session, "+6591234567", "x")
    assert unauthorised.value.code == "20003"

    with pytest.raises(SmsDeliveryError, match="unreachable"):
        TwilioSmsSender(SID, TOKEN, FROM, base_url="http://127.0.0.1:9", timeout_seconds=2).send(
            session, "+6591234567", "x"
        )


def _challenge(client: TestClient, headers: dict[str, str], customer_id: str, op: str) -> str:
    created = client.post(
        "/api/v1/step-up/challenges",
        json={"operation": op, "customer_id": customer_id, "payload": {"asset": "BTC"}},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    challenge_id: str = created.json()["id"]
    return challenge_id


def test_step_up_by_sms_through_twilio(
    twilio: tuple[str, list[dict[str, str]]],
    settings: Settings,
    engine: Engine,
    session: Session,
) -> None:
    clock.freeze(T0)
    base_url, received = twilio
    configured = settings.model_copy(
        update={
            "sms_adapter": "twilio",
            "twilio_base_url": base_url,
            "twilio_account_sid": SID,
            "twilio_auth_token": TOKEN,
            "twilio_from_number": FROM,
        }
    )
    customer = make_customer(session, phone="+6598765432", language="zh-CN")
    agent = make_agent(session)
    with TestClient(create_app(configured, engine), raise_server_exceptions=False) as client:
        headers = agent_headers(client, agent)
        challenge_id = _challenge(client, headers, customer.id, "withdrawal.unlock")
        sent = client.post(f"/api/v1/step-up/challenges/{challenge_id}/sms", headers=headers)
        assert sent.status_code == 202, sent.text
        assert sent.json()["expires_at"].startswith("2026-11-26T06:05:10")
        [message] = received
        assert message["To"] == "+6598765432"
        code = _code_in(message["Body"])
        assert "验证码" in message["Body"]  # in the customer's language

        verified = client.post(
            f"/api/v1/step-up/challenges/{challenge_id}/verify",
            json={"factor": "sms", "code": code},
            headers=customer_headers(customer),
        )
        assert verified.status_code == 200, verified.text
        assert [v["factor"] for v in verified.json()["verifications"]] == ["sms"]

        bad_number = make_customer(session, phone=INVALID_NUMBER)
        other = _challenge(client, headers, bad_number.id, "withdrawal.unlock")
        failed = client.post(f"/api/v1/step-up/challenges/{other}/sms", headers=headers)
        body = assert_problem(failed, 502, "sms_delivery_failed")
        assert "21211" in body["detail"]
    assert len(audit_entries(engine, action="sms.send_failed")) == 1
    assert_no_secrets_in_audit(engine, code, TOKEN)


def test_outbox_expiry_and_wrong_tries(
    client: TestClient, session: Session, engine: Engine
) -> None:
    clock.freeze(T0)
    customer = make_customer(session, phone="+6590000001")
    agent = make_agent(session)
    supervisor = make_agent(session, Role.SUPERVISOR)
    headers = agent_headers(client, agent)
    challenge_id = _challenge(client, headers, customer.id, "withdrawal.unlock")
    verify_url = f"/api/v1/step-up/challenges/{challenge_id}/verify"
    as_customer = customer_headers(customer, lifetime=timedelta(hours=2))

    def send_and_read() -> str:
        sent = client.post(f"/api/v1/step-up/challenges/{challenge_id}/sms", headers=headers)
        assert sent.status_code == 202, sent.text
        outbox = client.get(
            "/api/v1/sms/outbox", params={"to": "+6590000001"}, headers=supervisor_headers
        )
        assert outbox.status_code == 200, outbox.text
        return _code_in(outbox.json()[0]["body"])

    supervisor_headers = agent_headers(client, supervisor)
    assert_problem(client.get("/api/v1/sms/outbox", headers=headers), 403, "permission_denied")

    # Expired after five minutes.
    code = send_and_read()
    clock.freeze(T0 + timedelta(minutes=5, seconds=1))
    expired = client.post(verify_url, json={"factor": "sms", "code": code}, headers=as_customer)
    assert_problem(expired, 400, "invalid_code")

    # Three wrong tries kill the code, even if the fourth is right.
    code = send_and_read()
    wrong = str((int(code) + 1) % 1_000_000).zfill(6)
    for _ in range(3):
        response = client.post(
            verify_url, json={"factor": "sms", "code": wrong}, headers=as_customer
        )
        assert_problem(response, 400, "invalid_code")
    dead = client.post(verify_url, json={"factor": "sms", "code": code}, headers=as_customer)
    assert_problem(dead, 400, "invalid_code")

    # Five wrong codes so far: the customer's factors are locked for a while.
    locked = client.post(verify_url, json={"factor": "sms", "code": code}, headers=as_customer)
    assert_problem(locked, 429, "mfa_locked")
    clock.freeze(T0 + timedelta(minutes=21))

    # A new code works once; a resend supersedes the previous code.
    first = send_and_read()
    second = send_and_read()
    if first != second:
        stale = client.post(verify_url, json={"factor": "sms", "code": first}, headers=as_customer)
        assert_problem(stale, 400, "invalid_code")
    ok = client.post(verify_url, json={"factor": "sms", "code": second}, headers=as_customer)
    assert ok.status_code == 200, ok.text
    again = client.post(verify_url, json={"factor": "sms", "code": second}, headers=as_customer)
    assert_problem(again, 400, "invalid_code")
    assert audit_entries(engine, action="sms.outbox_read")
    assert_no_secrets_in_audit(engine, code, first, second)


def test_sends_per_number_are_limited_per_hour(client: TestClient, session: Session) -> None:
    clock.freeze(T0)
    customer = make_customer(session, phone="+6590000002")
    agent = make_agent(session)
    headers = agent_headers(client, agent)
    challenge_id = _challenge(client, headers, customer.id, "withdrawal.unlock")
    url = f"/api/v1/step-up/challenges/{challenge_id}/sms"
    for _ in range(5):
        assert client.post(url, headers=headers).status_code == 202
    assert_problem(client.post(url, headers=headers), 429, "sms_send_limited")
    clock.freeze(T0 + timedelta(minutes=61))
    later = _challenge(client, agent_headers(client, agent), customer.id, "withdrawal.unlock")
    assert client.post(f"/api/v1/step-up/challenges/{later}/sms", headers=headers).is_success


def test_sms_is_refused_where_the_policy_forbids_it_and_without_a_phone(
    client: TestClient, session: Session
) -> None:
    clock.freeze(T0)
    customer = make_customer(session)
    headers = agent_headers(client, make_agent(session))
    # account.unfreeze: SMS is a restricted authenticator, not accepted for it.
    unfreeze = _challenge(client, headers, customer.id, "account.unfreeze")
    refused = client.post(f"/api/v1/step-up/challenges/{unfreeze}/sms", headers=headers)
    assert_problem(refused, 400, "factor_not_accepted")
    verify = client.post(
        f"/api/v1/step-up/challenges/{unfreeze}/verify",
        json={"factor": "sms", "code": "123456"},
        headers=customer_headers(customer),
    )
    assert_problem(verify, 400, "factor_not_accepted")

    no_phone = make_customer(session, phone=None)
    unlock = _challenge(client, headers, no_phone.id, "withdrawal.unlock")
    missing = client.post(f"/api/v1/step-up/challenges/{unlock}/sms", headers=headers)
    assert_problem(missing, 409, "sms_unavailable")
