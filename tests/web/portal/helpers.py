"""Signing in to the portal the way the exchange's link does it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from kefu.core.clock import utcnow
from kefu.identity import service as identity
from kefu.identity.models import Customer
from tests.web.console_helpers import csrf_from


def link_token(customer: Customer, lifetime: timedelta = timedelta(minutes=5)) -> str:
    return identity.sign_customer_token(customer.external_id, utcnow() + lifetime)


def portal_sign_in(client: TestClient, customer: Customer, **params: str) -> Any:
    response = client.get(
        "/portal/sign-in",
        params={"token": link_token(customer), **params},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return response


def portal_csrf(client: TestClient, path: str = "/portal/tickets") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_from(page.text)
