"""Portal sign-in from the exchange's signed link: one use, kefu's own short cookie session,
clear pages for bad links in the customer's language, sign-out, and no crossing between the
portal's and the console's sessions."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.app import create_app
from kefu.core.clock import utcnow
from kefu.core.settings import Settings
from kefu.identity import service as identity
from kefu.web.security import PORTAL_SESSION_COOKIE, SESSION_COOKIE
from tests.core.helpers import assert_problem, audit_entries
from tests.factories import make_agent, make_customer
from tests.web.console_helpers import csrf_from, sign_in
from tests.web.portal.helpers import link_token, portal_csrf, portal_sign_in


def _portal_cookie_header(response: object) -> str:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    found = [h for h in headers if h.startswith(f"{PORTAL_SESSION_COOKIE}=")]
    assert len(found) == 1, headers
    return str(found[0])


def test_a_signed_link_opens_a_short_http_only_session_and_leaves_no_token_behind(
    client: TestClient, session: Session, engine: Engine
) -> None:
    customer = make_customer(session, display_name="Lin Mei")
    token = link_token(customer)
    response = client.get(
        "/portal/sign-in",
        params={"token": token, "next": "/portal/help"},
        follow_redirects=False,
    )
    # Answered with a redirect at once: the token leaves the address bar, and the redirect
    # itself sends no Referer anywhere.
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/help"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    cookie = _portal_cookie_header(response).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/portal" in cookie
    assert "max-age=3600" in cookie
    assert "secure" not in cookie  # plain http in this test; see the https test
    assert token not in cookie

    tickets = client.get("/portal/tickets")
    assert tickets.status_code == 200
    assert "Lin Mei" in tickets.text
    assert token not in tickets.text
    assert [e.action for e in audit_entries(engine, subject_id=customer.id)][-1] == (
        "portal.signed_in"
    )


def test_the_cookie_is_secure_when_served_over_https(
    settings: Settings, engine: Engine, session: Session
) -> None:
    customer = make_customer(session)
    app = create_app(settings, engine)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as https:
        response = portal_sign_in(https, customer)
        assert "; secure" in _portal_cookie_header(response).lower()


def test_the_exchange_may_post_the_token_instead(client: TestClient, session: Session) -> None:
    customer = make_customer(session)
    response = client.post(
        "/portal/sign-in",
        data={"token": link_token(customer), "next": "/portal/documents"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/documents"
    assert client.get("/portal/documents").status_code == 200


def test_expired_forged_and_reused_links_get_a_clear_page_in_the_customers_language(
    client: TestClient, session: Session
) -> None:
    customer = make_customer(session)
    expired = identity.sign_customer_token(customer.external_id, utcnow() - timedelta(minutes=1))
    page = client.get("/portal/sign-in", params={"token": expired, "lang": "zh-CN"})
    assert page.status_code == 401
    assert 'lang="zh-CN"' in page.text
    assert "登录链接无效或已过期" in page.text
    assert client.get("/portal/tickets", follow_redirects=False).status_code == 303

    forged = identity.sign_customer_token(
        customer.external_id, utcnow() + timedelta(minutes=5), secret="not-the-exchange"
    )
    page = client.get(
        "/portal/sign-in", params={"token": forged}, headers={"Accept-Language": "en"}
    )
    assert page.status_code == 401
    assert "This sign-in link is invalid or has expired." in page.text
    garbage = client.get("/portal/sign-in", params={"token": "not.a-token"})
    assert garbage.status_code == 401

    token = link_token(customer)
    first = client.get("/portal/sign-in", params={"token": token}, follow_redirects=False)
    assert first.status_code == 303
    # The same link again in this browser, already signed in as its customer: carry on.
    again = client.get("/portal/sign-in", params={"token": token}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/portal"
    # In another browser (a copy from history or a log), the link is worthless.
    client.cookies.clear()
    reused = client.get("/portal/sign-in", params={"token": token})
    assert reused.status_code == 401
    assert "This sign-in link has already been used." in reused.text
    assert client.get("/portal/tickets", follow_redirects=False).status_code == 303


def test_without_a_link_the_sign_in_page_explains_where_to_start(client: TestClient) -> None:
    page = client.get("/portal/tickets")
    assert page.url.path == "/portal/sign-in"
    assert "open the exchange&#39;s app or website" in page.text
    zh = client.get("/portal/sign-in", params={"lang": "zh-CN"})
    assert 'lang="zh-CN"' in zh.text and "帮助中心" in zh.text


def test_sign_out_ends_the_session_for_good(
    client: TestClient, session: Session, engine: Engine
) -> None:
    customer = make_customer(session)
    portal_sign_in(client, customer)
    cookie = client.cookies.get(PORTAL_SESSION_COOKIE)
    assert cookie
    csrf = portal_csrf(client)
    response = client.post("/portal/sign-out", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/portal/sign-in?signed_out=1"
    assert "max-age=0" in _portal_cookie_header(response).lower()
    assert "signed out" in client.get(response.headers["location"]).text
    # The old cookie, replayed, opens nothing: the session is revoked in the database.
    client.cookies.set(PORTAL_SESSION_COOKIE, cookie, path="/portal")
    again = client.get("/portal/tickets", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"] == "/portal/sign-in?expired=1"
    assert "portal.signed_out" in [e.action for e in audit_entries(engine, subject_id=customer.id)]


def test_an_expired_session_signs_the_customer_out(
    settings: Settings, engine: Engine, session: Session
) -> None:
    customer = make_customer(session)
    short = settings.model_copy(update={"portal_session_minutes": 0})
    with TestClient(create_app(short, engine), raise_server_exceptions=False) as client:
        portal_sign_in(client, customer)
        client.cookies.set(
            PORTAL_SESSION_COOKIE, client.cookies.get(PORTAL_SESSION_COOKIE) or "", path="/portal"
        )
        response = client.get("/portal/tickets", follow_redirects=False)
        assert response.headers["location"] == "/portal/sign-in?expired=1"
        assert "session has ended" in client.get(response.headers["location"]).text


def test_portal_and_console_never_accept_each_others_sessions(
    client: TestClient, session: Session
) -> None:
    customer = make_customer(session)
    agent = make_agent(session)
    sign_in(client, agent)
    agent_cookie = client.cookies.get(SESSION_COOKIE)
    assert agent_cookie
    # Signed in to the console only: the portal sees nobody, even with the agent's token
    # in the portal's cookie.
    assert client.get("/portal/tickets", follow_redirects=False).status_code == 303
    client.cookies.set(PORTAL_SESSION_COOKIE, agent_cookie, path="/portal")
    assert client.get("/portal/tickets", follow_redirects=False).status_code == 303

    # A customer's portal session put in the console's cookie (or the API's header) opens
    # nothing there.
    client.cookies.clear()
    portal_sign_in(client, customer)
    portal_cookie = client.cookies.get(PORTAL_SESSION_COOKIE)
    assert portal_cookie
    client.cookies.set(SESSION_COOKIE, portal_cookie)
    console = client.get("/console", follow_redirects=False)
    assert console.status_code == 303 and console.headers["location"].startswith("/console/sign-in")
    api = client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {portal_cookie}"})
    assert_problem(api, 401, "not_authenticated")


def test_forms_refuse_a_missing_or_foreign_csrf_token(client: TestClient, session: Session) -> None:
    customer = make_customer(session)
    # A token minted for the console's session is worthless on the portal.
    agent = make_agent(session)
    console_token = sign_in(client, agent)
    portal_sign_in(client, customer)
    for data in (
        {},
        {"csrf_token": "forged"},
        {"csrf_token": console_token},
    ):
        response = client.post(
            "/portal/tickets/new",
            data={"category": "deposit", "subject": "s", "message": "m", **data},
        )
        assert response.status_code == 403, data
        assert "did not come from this site" in response.text
    assert client.get("/portal/tickets").text.count("/portal/tickets/0") == 0


def test_pages_carry_the_content_security_policy(client: TestClient, session: Session) -> None:
    portal_sign_in(client, make_customer(session))
    page = client.get("/portal/tickets")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["cache-control"] == "no-store"
    # No inline script ever: only the chat widget's file.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert [body for _, body in scripts] == [""]
    assert scripts[0][0].startswith(' src="/static/chat/widget.js" defer data-kefu-token="')
    assert 'style="' not in page.text
    assert csrf_from(page.text)
