"""Signing in to the console the way a browser does: fetch the form, post it with its token,
then the second step — enrol an authenticator app (reading the key off the page and computing
its code with pyotp, as the app would) or type its current code."""

from __future__ import annotations

import re
from typing import Any

import pyotp
from fastapi.testclient import TestClient

from kefu.core.clock import utcnow
from kefu.identity.models import Agent
from tests.factories import PASSWORD, _recovery_codes, fresh_totp_code

# The key each agent's authenticator app was set up with in the console, by agent id.
console_secrets: dict[str, str] = {}


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def secret_from(html: str) -> str:
    found = re.search(r'<code class="secret" id="secret">([A-Z2-7 ]+)</code>', html)
    assert found, html
    return found.group(1).replace(" ", "")


def recovery_codes_from(html: str) -> list[str]:
    return re.findall(r"<li><code>([A-Z0-9-]{19})</code></li>", html)


def post_password(client: TestClient, agent: Agent, next_path: str = "/console") -> Any:
    page = client.get("/console/sign-in")
    response = client.post(
        "/console/sign-in",
        data={
            "email": agent.email,
            "password": PASSWORD,
            "csrf_token": csrf_from(page.text),
            "next": next_path,
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response


def current_code(client: TestClient, agent: Agent) -> str:
    """What the agent's authenticator app shows now (a step not used yet)."""
    app: Any = client.app
    code = fresh_totp_code(app.state.sessionmaker, agent.id, app.state.settings)
    assert code is not None
    return code


def enrol_in_console(client: TestClient, agent: Agent) -> tuple[str, list[str], Any]:
    """On the enrolment page: read the key, confirm with its first code; (secret, recovery
    codes, the response showing them)."""
    page = client.get("/console/sign-in/enrol")
    assert page.status_code == 200, page.text
    secret = secret_from(page.text)
    confirmed = client.post(
        "/console/sign-in/enrol",
        data={"code": pyotp.TOTP(secret).at(utcnow()), "csrf_token": csrf_from(page.text)},
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = recovery_codes_from(confirmed.text)
    console_secrets[agent.id] = secret
    _recovery_codes[agent.id] = list(codes)
    return secret, codes, confirmed


def second_step(client: TestClient, agent: Agent, location: str) -> None:
    if location.startswith("/console/sign-in/enrol"):
        enrol_in_console(client, agent)
    elif location.startswith("/console/sign-in/verify"):
        page = client.get(location)
        verified = client.post(
            "/console/sign-in/verify",
            data={
                "code": current_code(client, agent),
                "factor": "totp",
                "csrf_token": csrf_from(page.text),
            },
            follow_redirects=False,
        )
        assert verified.status_code == 303, verified.text


def sign_in(client: TestClient, agent: Agent, next_path: str = "/console") -> str:
    """Signs in (password, then the second factor) and returns the CSRF token of the console
    home page."""
    response = post_password(client, agent, next_path)
    second_step(client, agent, response.headers["location"])
    home = client.get("/console")
    assert home.status_code == 200, home.text
    return csrf_from(home.text)
