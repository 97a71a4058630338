"""The console's second factor pages: enrolment with a QR code, sign-in with a TOTP or a
recovery code, wrong codes and lockout, nothing before the second step, CSRF, the security
page, four-eyes approvals, step-up challenges and the SMS outbox — in English and Chinese."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.core.clock import clock
from kefu.identity.models import Role
from tests.core.helpers import audit_entries
from tests.factories import agent_headers, customer_headers, make_agent, make_customer
from tests.identity.mfa.helpers import T0, assert_no_secrets_in_audit, enrol_customer
from tests.web.console_helpers import (
    csrf_from,
    current_code,
    enrol_in_console,
    post_password,
    recovery_codes_from,
    secret_from,
    sign_in,
)


def _sign_out(client: TestClient) -> None:
    page = client.get("/console/security")
    client.post("/console/sign-out", data={"csrf_token": csrf_from(page.text)})
    client.cookies.clear()


def _verify(client: TestClient, code: str, factor: str = "totp", next_path: str = "") -> Any:
    page = client.get("/console/sign-in/verify")
    data = {"code": code, "factor": factor, "csrf_token": csrf_from(page.text)}
    if next_path:
        data["next"] = next_path
    return client.post("/console/sign-in/verify", data=data, follow_redirects=False)


def test_enrolment_then_sign_in_with_the_authenticator(
    client: TestClient, session: Session, engine: Engine
) -> None:
    clock.freeze(T0)
    agent = make_agent(session)
    assert post_password(client, agent).headers["location"] == "/console/sign-in/enrol"
    page = client.get("/console/sign-in/enrol")
    assert page.status_code == 200
    assert "<svg" in page.text and "<script" not in page.text and "style=" not in page.text
    assert '<label for="code">' in page.text
    secret = secret_from(page.text)
    # Reloading shows the same key (the one the app has just scanned).
    assert secret_from(client.get("/console/sign-in/enrol").text) == secret
    # The navigation is not offered half-signed-in.
    assert 'href="/console/security"' not in page.text

    wrong = client.post(
        "/console/sign-in/enrol", data={"code": "000000", "csrf_token": csrf_from(page.text)}
    )
    assert wrong.status_code == 400
    assert "The code is wrong, expired or already used." in wrong.text
    assert secret_from(wrong.text) == secret

    shown = client.post(
        "/console/sign-in/enrol",
        data={"code": pyotp.TOTP(secret).at(T0), "csrf_token": csrf_from(page.text)},
    )
    assert shown.status_code == 200
    codes = recovery_codes_from(shown.text)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert shown.headers["cache-control"] == "no-store"
    assert client.get("/console").status_code == 200
    security = client.get("/console/security")
    assert "Set up" in security.text and ">10<" in security.text

    # The next sign-in asks for the code.
    _sign_out(client)
    clock.freeze(T0 + timedelta(seconds=60))
    assert post_password(client, agent).headers["location"] == "/console/sign-in/verify"
    wrong = _verify(client, "123456")
    assert wrong.status_code == 400 and "The code is wrong" in wrong.text
    assert client.get("/console", follow_redirects=False).headers["location"] == (
        "/console/sign-in/verify"
    )
    done = _verify(client, pyotp.TOTP(secret).at(T0 + timedelta(seconds=60)))
    assert done.status_code == 303 and done.headers["location"] == "/console"
    assert client.get("/console").status_code == 200
    assert [e.data["factor"] for e in audit_entries(engine, action="agent.mfa_verified")] == [
        "totp"
    ]
    assert_no_secrets_in_audit(engine, secret, *codes)


def test_a_recovery_code_signs_in_once(client: TestClient, session: Session) -> None:
    clock.freeze(T0)
    agent = make_agent(session)
    post_password(client, agent)
    _secret, codes, _page = enrol_in_console(client, agent)
    _sign_out(client)

    post_password(client, agent, "/console/security")
    done = _verify(client, codes[0].lower(), "recovery_code", "/console/security")
    assert done.headers["location"] == "/console/security"
    assert ">9<" in client.get("/console/security").text
    _sign_out(client)

    post_password(client, agent)
    reused = _verify(client, codes[0], "recovery_code")
    assert reused.status_code == 400
    assert 'value="recovery_code" checked' in reused.text


def test_nothing_opens_before_the_second_step(client: TestClient, session: Session) -> None:
    admin = make_agent(session, Role.ADMIN)
    post_password(client, admin)
    for path in (
        "/console",
        "/console/security",
        "/console/approvals",
        "/console/step-up",
        "/console/sms-outbox",
        "/console/reviews",
    ):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/console/sign-in/enrol"
    token = csrf_from(client.get("/console/sign-in/enrol").text)
    refused = client.post(
        "/console/security/recovery-codes",
        data={"code": "123456", "csrf_token": token},
        follow_redirects=False,
    )
    assert refused.status_code == 303
    # The verify page belongs to an enrolled agent; signed out, both send to sign-in.
    assert client.get("/console/sign-in/verify", follow_redirects=False).headers["location"] == (
        "/console/sign-in/enrol"
    )
    client.cookies.clear()
    for path in ("/console/sign-in/enrol", "/console/sign-in/verify"):
        response = client.get(path, follow_redirects=False)
        assert response.headers["location"].startswith("/console/sign-in?next=")


def test_wrong_codes_lock_the_factor(client: TestClient, session: Session) -> None:
    clock.freeze(T0)
    agent = make_agent(session)
    post_password(client, agent)
    secret, _codes, _page = enrol_in_console(client, agent)
    _sign_out(client)
    clock.freeze(T0 + timedelta(seconds=60))
    post_password(client, agent)
    for _ in range(5):
        assert _verify(client, "000000").status_code == 400
    locked = _verify(client, pyotp.TOTP(secret).at(T0 + timedelta(seconds=60)))
    assert locked.status_code == 429
    assert "Too many wrong codes; try again in 15 minutes." in locked.text
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_the_second_step_forms_need_the_csrf_token(client: TestClient, session: Session) -> None:
    agent = make_agent(session)
    post_password(client, agent)
    secret = secret_from(client.get("/console/sign-in/enrol").text)
    for data in ({}, {"csrf_token": "forged"}):
        refused = client.post(
            "/console/sign-in/enrol", data={"code": pyotp.TOTP(secret).at(T0), **data}
        )
        assert refused.status_code == 403
        assert "The form has expired" in refused.text
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_second_step_pages_in_chinese(client: TestClient, session: Session) -> None:
    clock.freeze(T0)
    agent = make_agent(session, language="zh-CN")
    post_password(client, agent)
    page = client.get("/console/sign-in/enrol")
    assert '<html lang="zh-CN">' in page.text and "设置身份验证器应用" in page.text
    wrong = client.post(
        "/console/sign-in/enrol", data={"code": "000000", "csrf_token": csrf_from(page.text)}
    )
    assert "验证码" in wrong.text and "The code is wrong" not in wrong.text
    _secret, _codes, shown = enrol_in_console(client, agent)
    assert "您的恢复码" in shown.text
    home = client.get("/console")
    assert "安全" in home.text and 'href="/console/security"' in home.text
    assert "第二重验证" in client.get("/console/security").text
    _sign_out(client)
    clock.freeze(T0 + timedelta(seconds=60))
    post_password(client, agent)
    assert "确认是您本人" in client.get("/console/sign-in/verify").text


def test_new_recovery_codes_need_a_fresh_code(client: TestClient, session: Session) -> None:
    clock.freeze(T0)
    agent = make_agent(session)
    post_password(client, agent)
    secret, old_codes, _page = enrol_in_console(client, agent)
    page = client.get("/console/security")
    wrong = client.post(
        "/console/security/recovery-codes",
        data={"code": "000000", "factor": "totp", "csrf_token": csrf_from(page.text)},
    )
    assert wrong.status_code == 400 and "The code is wrong" in wrong.text
    clock.freeze(T0 + timedelta(seconds=30))
    renewed = client.post(
        "/console/security/recovery-codes",
        data={
            "code": pyotp.TOTP(secret).at(T0 + timedelta(seconds=30)),
            "factor": "totp",
            "csrf_token": csrf_from(page.text),
        },
    )
    new_codes = recovery_codes_from(renewed.text)
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    _sign_out(client)
    post_password(client, agent)
    assert _verify(client, old_codes[0], "recovery_code").status_code == 400
    assert _verify(client, new_codes[0], "recovery_code").status_code == 303


def _reset_challenge(client: TestClient, headers: dict[str, str], customer_id: str) -> str:
    created = client.post(
        "/api/v1/step-up/challenges",
        json={
            "operation": "2fa.reset",
            "customer_id": customer_id,
            "payload": {"customer_id": customer_id, "factor": "totp"},
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    challenge_id: str = created.json()["id"]
    return challenge_id


def test_approvals_page_decides_with_a_fresh_code_never_ones_own(
    client: TestClient, session: Session, engine: Engine
) -> None:
    clock.freeze(T0)
    customer = make_customer(session, display_name="Zhang Wei")
    requester = make_agent(session, Role.SUPERVISOR, display_name="Requesting Supervisor")
    approver = make_agent(session, Role.SUPERVISOR)
    plain = make_agent(session)
    headers = agent_headers(client, requester)
    challenge_id = _reset_challenge(client, headers, customer.id)
    asked = client.post(
        "/api/v1/approvals",
        json={"challenge_id": challenge_id, "reason": "Lost phone, passport checked"},
        headers=headers,
    )
    assert asked.status_code == 201, asked.text

    # The requester sees it but cannot approve their own request.
    clock.freeze(T0 + timedelta(seconds=30))
    token = sign_in(client, requester)
    page = client.get("/console/approvals")
    assert "Zhang Wei" in page.text and "Lost phone, passport checked" in page.text
    approval_id = asked.json()["id"]
    own = client.post(
        f"/console/approvals/{approval_id}/decision",
        data={"decision": "approve", "code": current_code(client, requester), "csrf_token": token},
    )
    assert own.status_code == 403
    assert "the requester cannot approve their own request" in own.text
    no_token = client.post(
        f"/console/approvals/{approval_id}/decision", data={"decision": "approve", "code": "1"}
    )
    assert no_token.status_code == 403 and "The form has expired" in no_token.text
    _sign_out(client)

    # An agent without the permission is refused the page.
    sign_in(client, plain)
    assert client.get("/console/approvals").status_code == 403
    assert 'href="/console/approvals"' not in client.get("/console").text
    _sign_out(client)

    clock.freeze(T0 + timedelta(seconds=60))
    token = sign_in(client, approver)
    wrong = client.post(
        f"/console/approvals/{approval_id}/decision",
        data={"decision": "approve", "code": "000000", "csrf_token": token},
    )
    assert wrong.status_code == 400 and "The code is wrong" in wrong.text
    clock.freeze(T0 + timedelta(seconds=90))
    done = client.post(
        f"/console/approvals/{approval_id}/decision",
        data={"decision": "approve", "code": current_code(client, approver), "csrf_token": token},
        follow_redirects=False,
    )
    assert done.status_code == 303
    page = client.get("/console/approvals")
    assert "No approvals are waiting." in page.text and "status-approved" in page.text
    assert [e.actor_id for e in audit_entries(engine, action="approval.approved")] == [approver.id]
    assert [e.actor_id for e in audit_entries(engine, action="approval.refused")] == [requester.id]


def test_step_up_page_and_the_sms_outbox(client: TestClient, session: Session) -> None:
    clock.freeze(T0)
    customer = make_customer(session, display_name="Li Lei", phone="+8613800138000")
    enrol_customer(client, customer)
    supervisor = make_agent(session, Role.SUPERVISOR)
    headers = agent_headers(client, supervisor)
    created = client.post(
        "/api/v1/step-up/challenges",
        json={"operation": "withdrawal.unlock", "customer_id": customer.id, "payload": {"n": 1}},
        headers=headers,
    )
    challenge_id = created.json()["id"]

    clock.freeze(T0 + timedelta(seconds=30))
    sign_in(client, supervisor)
    listing = client.get("/console/step-up")
    assert f'href="/console/step-up/{challenge_id}"' in listing.text
    page = client.get(f"/console/step-up/{challenge_id}")
    assert "Unlock withdrawals" in page.text and "Li Lei" in page.text
    assert "The customer:" in page.text and "SMS code or authenticator app code" in page.text
    assert "You (the acting agent):" in page.text
    token = csrf_from(page.text)
    wrong = client.post(
        f"/console/step-up/{challenge_id}/verify", data={"code": "000000", "csrf_token": token}
    )
    assert wrong.status_code == 400 and "The code is wrong" in wrong.text

    clock.freeze(T0 + timedelta(seconds=60))
    proven = client.post(
        f"/console/step-up/{challenge_id}/verify",
        data={"code": current_code(client, supervisor), "csrf_token": token},
    )
    assert proven.status_code == 200
    assert "You (the acting agent):" not in proven.text

    texted = client.post(f"/console/step-up/{challenge_id}/sms", data={"csrf_token": token})
    assert texted.status_code == 200 and "A code was sent" in texted.text
    outbox = client.get("/console/sms-outbox")
    assert "+8613800138000" in outbox.text and "Your kefu verification code is" in outbox.text
    code = outbox.text.split("Your kefu verification code is ")[1][:6]
    # The customer types it in the exchange's app: the challenge is then complete.
    typed = client.post(
        f"/api/v1/step-up/challenges/{challenge_id}/verify",
        json={"factor": "sms", "code": code},
        headers=customer_headers(customer),
    )
    assert typed.status_code == 200 and typed.json()["ready"] is True
    assert "Ready: the operation may run" in client.get(f"/console/step-up/{challenge_id}").text
    _sign_out(client)

    agent = make_agent(session)
    sign_in(client, agent)
    assert client.get("/console/sms-outbox").status_code == 403
    # A four-eyes operation: the acting agent asks for approval from the challenge's page.
    reset_id = _reset_challenge(client, agent_headers(client, agent), customer.id)
    page = client.get(f"/console/step-up/{reset_id}")
    assert "not requested yet" in page.text
    asked = client.post(
        f"/console/step-up/{reset_id}/approval",
        data={"reason": "Customer lost their phone", "csrf_token": csrf_from(page.text)},
    )
    assert asked.status_code == 200 and "Ask for approval" not in asked.text
    assert ">pending<" in asked.text
    assert client.get(f"/console/step-up/{challenge_id}").status_code == 404
