"""Signing in to the console the way a browser does: fetch the form, post it with its token."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from kefu.identity.models import Agent
from tests.factories import PASSWORD


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def sign_in(client: TestClient, agent: Agent, next_path: str = "/console") -> str:
    """Signs in and returns the CSRF token of the console home page."""
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
    home = client.get("/console")
    assert home.status_code == 200, home.text
    return csrf_from(home.text)
