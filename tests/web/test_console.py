"""The agent console: cookie sign-in, CSRF on every form, security headers, zh and en pages,
permission checks, and the ID-document review pages."""

from __future__ import annotations

import re

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.app import create_app
from kefu.core.settings import Settings
from kefu.identity.models import Agent, Role
from tests.core.helpers import assert_problem, audit_entries, new_session
from tests.factories import (
    PASSWORD,
    customer_headers,
    make_agent,
    make_customer,
    make_ticket,
)
from tests.identity.documents_helpers import PDF, PNG, submit, upload
from tests.web.console_helpers import (
    csrf_from,
    enrol_in_console,
    post_password,
    secret_from,
    sign_in,
)


def _set_cookie_headers(response: object) -> list[str]:
    return response.headers.get_list("set-cookie")  # type: ignore[attr-defined,no-any-return]


def test_signed_out_pages_redirect_to_sign_in_and_come_back(
    client: TestClient, session: Session
) -> None:
    response = client.get("/console/reviews", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in?next=/console/reviews"

    officer = make_agent(session, role=Role.RISK_OFFICER)
    page = client.get("/console/sign-in?next=/console/reviews")
    signed_in = client.post(
        "/console/sign-in",
        data={
            "email": officer.email,
            "password": PASSWORD,
            "csrf_token": csrf_from(page.text),
            "next": "/console/reviews",
        },
        follow_redirects=False,
    )
    # The second factor comes first (enrolment, for an agent without an authenticator yet),
    # and the page asked for is kept for afterwards.
    assert signed_in.headers["location"] == "/console/sign-in/enrol?next=/console/reviews"
    assert client.get("/console/reviews", follow_redirects=False).headers["location"] == (
        "/console/sign-in/enrol"
    )
    enrol = client.get(signed_in.headers["location"])
    assert 'name="next" value="/console/reviews"' in enrol.text
    confirmed = client.post(
        "/console/sign-in/enrol",
        data={
            "code": pyotp.TOTP(secret_from(enrol.text)).now(),
            "next": "/console/reviews",
            "csrf_token": csrf_from(enrol.text),
        },
    )
    assert '<a href="/console/reviews">' in confirmed.text
    assert client.get("/console/reviews").status_code == 200


def test_sign_in_sets_a_strict_http_only_cookie_and_the_api_ignores_it(
    client: TestClient, session: Session, engine: Engine
) -> None:
    agent = make_agent(session)
    page = client.get("/console/sign-in")
    assert page.status_code == 200
    assert '<label for="email">' in page.text and '<label for="password">' in page.text
    [pre_cookie] = _set_cookie_headers(page)
    assert pre_cookie.startswith("kefu_presession=")
    assert "HttpOnly" in pre_cookie and "SameSite=strict" in pre_cookie

    response = client.post(
        "/console/sign-in",
        data={"email": agent.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/console/sign-in/enrol"
    session_cookie = next(c for c in _set_cookie_headers(response) if c.startswith("kefu_session="))
    assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie
    assert "Secure" not in session_cookie  # plain http in tests; see the next test
    assert [e.actor_id for e in audit_entries(engine, action="agent.login")] == [agent.id]

    # The JSON API is header-only: the browser's cookie opens nothing there.
    assert_problem(client.get("/api/v1/auth/me"), 401, "not_authenticated")


def test_cookies_are_secure_over_https_or_when_configured(
    settings: Settings, engine: Engine, session: Session
) -> None:
    agent = make_agent(session)
    secure = settings.model_copy(update={"console_secure_cookies": True})
    with TestClient(create_app(secure, engine)) as client:
        page = client.get("/console/sign-in")
        assert "Secure" in _set_cookie_headers(page)[0]
    with TestClient(create_app(settings, engine), base_url="https://testserver") as client:
        page = client.get("/console/sign-in")
        response = client.post(
            "/console/sign-in",
            data={"email": agent.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
        cookies = _set_cookie_headers(response)
        assert any(c.startswith("kefu_session=") and "Secure" in c for c in cookies)
        assert client.get("/console").status_code == 200


def test_wrong_password_shows_the_form_again_and_is_recorded(
    client: TestClient, session: Session, engine: Engine
) -> None:
    agent = make_agent(session)
    page = client.get("/console/sign-in")
    response = client.post(
        "/console/sign-in",
        data={"email": agent.email, "password": "wrong", "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 401
    assert 'role="alert"' in response.text and "The email or password is wrong." in response.text
    assert not any(c.startswith("kefu_session=") for c in _set_cookie_headers(response))
    assert len(audit_entries(engine, action="agent.login_failed")) == 1


@pytest.mark.parametrize("token", [None, "", "0" * 64], ids=["missing", "empty", "wrong"])
def test_forms_without_the_right_csrf_token_are_refused(
    client: TestClient, session: Session, engine: Engine, token: str | None
) -> None:
    agent = make_agent(session)
    client.get("/console/sign-in")
    form = {"email": agent.email, "password": PASSWORD}
    if token is not None:
        form["csrf_token"] = token
    response = client.post("/console/sign-in", data=form, follow_redirects=False)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "did not come from this site" in response.text
    assert audit_entries(engine, action="agent.login") == []

    good = sign_in(client, agent)
    out = {"csrf_token": token} if token is not None else {}
    refused = client.post("/console/sign-out", data=out, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/console", follow_redirects=False).status_code == 200  # still signed in
    assert good != token


def test_a_token_from_another_browser_session_is_refused(
    client: TestClient, settings: Settings, engine: Engine, session: Session
) -> None:
    first, second = make_agent(session), make_agent(session)
    token_of_first = sign_in(client, first)
    with TestClient(create_app(settings, engine)) as other_browser:
        sign_in(other_browser, second)
        response = other_browser.post(
            "/console/sign-out", data={"csrf_token": token_of_first}, follow_redirects=False
        )
        assert response.status_code == 403


def test_sign_out_revokes_the_session(client: TestClient, session: Session, engine: Engine) -> None:
    agent = make_agent(session)
    token = sign_in(client, agent)
    cookie = client.cookies.get("kefu_session")
    response = client.post("/console/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/sign-in"
    assert any(c.startswith('kefu_session=""') for c in _set_cookie_headers(response))
    # The old cookie, replayed, no longer opens the console.
    client.cookies.set("kefu_session", str(cookie))
    assert client.get("/console", follow_redirects=False).status_code == 303
    assert len(audit_entries(engine, action="agent.logout")) == 1


def test_pages_carry_strict_security_headers_and_no_inline_code(
    client: TestClient, session: Session
) -> None:
    officer = make_agent(session, role=Role.RISK_OFFICER)
    pages = [client.get("/"), client.get("/console/sign-in")]
    post_password(client, officer)
    pages.append(client.get("/console/sign-in/enrol"))  # the QR code is an inline <svg>
    enrol_in_console(client, officer)
    pages += [
        client.get(path) for path in ("/console/security", "/console/approvals", "/console/step-up")
    ]
    pages += [client.get("/console"), client.get("/console/reviews"), client.get("/console/nope")]
    for page in pages:
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "same-origin"
        assert "<script" not in page.text and "<style" not in page.text
        assert "style=" not in page.text and "onclick" not in page.text
        assert '<main id="main"' in page.text
    assert pages[-1].status_code == 404
    css = client.get("/static/kefu.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_open_redirects_are_refused(client: TestClient, session: Session) -> None:
    agent = make_agent(session)
    for target in ("//evil.example/console", "https://evil.example/", "/api/v1/tickets"):
        page = client.get("/console/sign-in", params={"next": target})
        response = client.post(
            "/console/sign-in",
            data={
                "email": agent.email,
                "password": PASSWORD,
                "csrf_token": csrf_from(page.text),
                "next": target,
            },
            follow_redirects=False,
        )
        # The second step comes next, without the foreign target.
        assert response.headers["location"] == "/console/sign-in/enrol"
        enrol = client.get("/console/sign-in/enrol", params={"next": target})
        assert 'name="next" value="/console"' in enrol.text
        client.cookies.clear()


def test_home_lists_the_agents_tickets(client: TestClient, session: Session) -> None:
    agent = make_agent(session, languages=["en"])
    customer = make_customer(session)
    ticket = make_ticket(session, customer, subject="Withdrawal stuck")
    ticket.assignee_id = agent.id
    make_ticket(session, customer, subject="Cannot verify phone")
    session.commit()
    sign_in(client, agent)
    home = client.get("/console")
    mine = home.text.split('id="mine-heading"')[1].split('id="queue-heading"')[0]
    queue = home.text.split('id="queue-heading"')[1]
    assert "Withdrawal stuck" in mine and "Cannot verify phone" not in mine
    assert "Cannot verify phone" in queue and ticket.reference in mine
    assert "ID reviews" not in home.text  # no permission, no link


def test_pages_in_chinese_and_english_and_the_language_switch(
    client: TestClient, session: Session, engine: Engine
) -> None:
    zh = client.get("/console/sign-in", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    en = client.get("/console/sign-in", headers={"Accept-Language": "en"})
    assert '<html lang="zh-CN">' in zh.text and "登录客服控制台" in zh.text
    assert '<html lang="en">' in en.text and "Sign in to the console" in en.text

    # Signed out, the switch keeps the choice in a cookie.
    switched = client.post(
        "/console/language",
        data={"language": "zh-CN", "next": "/console/sign-in", "csrf_token": csrf_from(en.text)},
        headers={"Accept-Language": "en"},
        follow_redirects=False,
    )
    assert switched.status_code == 303 and switched.headers["location"] == "/console/sign-in"
    again = client.get("/console/sign-in", headers={"Accept-Language": "en"})
    assert "登录客服控制台" in again.text

    # Signed in, the agent's own setting decides, and the switch saves it.
    agent = make_agent(session, language="en")
    client.cookies.clear()
    token = sign_in(client, agent)
    assert "Assigned to me" in client.get("/console", headers={"Accept-Language": "zh-CN"}).text
    client.post(
        "/console/language",
        data={"language": "zh-CN", "next": "/console", "csrf_token": token},
        follow_redirects=False,
    )
    home = client.get("/console", headers={"Accept-Language": "en"})
    assert '<html lang="zh-CN">' in home.text and "分配给我的" in home.text
    with new_session(engine) as s:
        assert s.get(Agent, agent.id).language == "zh-CN"  # type: ignore[union-attr]
    assert len(audit_entries(engine, action="agent.language_changed")) == 1


def test_review_pages_need_the_permission(client: TestClient, session: Session) -> None:
    headers = customer_headers(make_customer(session))
    document = upload(client, headers).json()
    review = submit(client, headers)
    agent = make_agent(session, language="zh-CN")
    sign_in(client, agent)
    for path in (
        "/console/reviews",
        f"/console/reviews/{review['id']}",
        f"/console/reviews/{review['id']}/documents/{document['id']}",
    ):
        page = client.get(path)
        assert page.status_code == 403, path
        assert page.headers["content-type"].startswith("text/html")
        assert "您无权执行此操作" in page.text or "权限" in page.text


def test_reviewer_works_a_review_in_the_console(
    client: TestClient, session: Session, engine: Engine
) -> None:
    customer = make_customer(session, display_name="Li Wei")
    headers = customer_headers(customer)
    photo = upload(client, headers).json()
    bill = upload(
        client, headers, kind="proof_of_address", data=PDF, content_type="application/pdf"
    ).json()
    review = submit(client, headers)
    officer = make_agent(session, role=Role.RISK_OFFICER)
    token = sign_in(client, officer)

    queue = client.get("/console/reviews")
    assert "Li Wei" in queue.text and f'href="/console/reviews/{review["id"]}"' in queue.text
    page = client.get(f"/console/reviews/{review['id']}")
    image_url = f"/console/reviews/{review['id']}/documents/{photo['id']}"
    assert re.search(rf'<img src="{image_url}" alt="Passport"', page.text)
    assert f'href="/console/reviews/{review["id"]}/documents/{bill["id"]}?download=1"' in page.text
    assert page.text.count('name="csrf_token"') >= 3  # language, sign-out, two decision forms

    image = client.get(image_url)
    assert image.status_code == 200 and image.content == PNG
    assert image.headers["content-type"] == "image/png"
    assert image.headers["x-content-type-options"] == "nosniff"
    pdf = client.get(f"/console/reviews/{review['id']}/documents/{bill['id']}?download=1")
    assert pdf.headers["content-disposition"].startswith("attachment;")
    views = audit_entries(engine, action="identity_document.viewed")
    assert [(v.actor_id, v.subject_id) for v in views] == [
        (officer.id, photo["id"]),
        (officer.id, bill["id"]),
    ]
    assert views[0].data["reason"] == f"console: identity review {review['id']}"
    # A document is opened only through its own review.
    other = client.get(f"/console/reviews/nope/documents/{photo['id']}")
    assert other.status_code == 404

    decision_url = f"/console/reviews/{review['id']}/decision"
    no_token = client.post(decision_url, data={"decision": "reject", "reason": "Blurred"})
    assert no_token.status_code == 403
    no_reason = client.post(
        decision_url, data={"decision": "reject", "reason": " ", "csrf_token": token}
    )
    assert no_reason.status_code == 422 and 'role="alert"' in no_reason.text
    rejected = client.post(
        decision_url,
        data={"decision": "reject", "reason": "Photo is blurred", "csrf_token": token},
        follow_redirects=False,
    )
    assert rejected.status_code == 303
    final = client.get(f"/console/reviews/{review['id']}")
    assert "Rejected" in final.text and "Photo is blurred" in final.text
    assert "/decision" not in final.text  # no forms once decided
    again = client.post(decision_url, data={"decision": "approve", "csrf_token": token})
    assert again.status_code == 409
    assert "decisions are final" in again.text
    assert len(audit_entries(engine, action="identity_review.rejected")) == 1
    queue_after = client.get("/console/reviews").text
    assert "No reviews are waiting." in queue_after
    assert "Recently decided" in queue_after and "Li Wei" in queue_after

    # The customer tries again; the reviewer sees the earlier rejection beside the new review.
    upload(client, headers)
    second = submit(client, headers)
    page = client.get(f"/console/reviews/{second['id']}")
    assert "Earlier reviews of this customer" in page.text and "Photo is blurred" in page.text
    assert "/decision" in page.text


def test_customer_text_is_escaped(client: TestClient, session: Session) -> None:
    customer = make_customer(session, display_name='<script>alert("x")</script>')
    headers = customer_headers(customer)
    upload(client, headers, filename='"><img src=x onerror=alert(1)>.png')
    review = submit(client, headers)
    sign_in(client, make_agent(session, role=Role.RISK_OFFICER))
    for path in ("/console/reviews", f"/console/reviews/{review['id']}"):
        page = client.get(path)
        assert "<script>" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;" in page.text
