"""Shared helpers for the second-factor and step-up tests."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from kefu.identity.mfa import totp
from kefu.identity.models import Customer
from tests.core.helpers import audit_entries
from tests.factories import customer_headers, enrol_totp, fresh_totp_code

# Aligned to a 30-second step, plus 10 s: a step boundary is 20 s away.
T0 = datetime(2026, 11, 26, 6, 0, 10, tzinfo=UTC)


def app_state(client: TestClient) -> Any:
    app: Any = client.app
    return app.state


def customer_code(client: TestClient, customer: Customer) -> str:
    state = app_state(client)
    code = fresh_totp_code(state.sessionmaker, customer.id, state.settings, "customer")
    assert code is not None
    return code


def agent_code(client: TestClient, agent_id: str) -> str:
    state = app_state(client)
    code = fresh_totp_code(state.sessionmaker, agent_id, state.settings)
    assert code is not None
    return code


def enrol_customer(client: TestClient, customer: Customer) -> tuple[str, list[str]]:
    return enrol_totp(client, customer_headers(customer), customer.id)


def code_for(secret: str, at: datetime, offset_steps: int = 0) -> str:
    return totp.code_at_step(secret, totp.step_of(at) + offset_steps)


def assert_no_secrets_in_audit(engine: Any, *secrets: str) -> None:
    """No code, seed or recovery code appears anywhere in the audit log (as a whole token:
    a six-digit code may by chance sit inside a hex hash, which is not a leak)."""
    entries = audit_entries(engine)
    assert entries
    text = " ".join(f"{e.action} {e.subject_id} {json.dumps(e.data)}" for e in entries)
    for secret in secrets:
        for form in {secret, secret.replace("-", "")}:
            pattern = rf"(?<![0-9A-Za-z]){re.escape(form)}(?![0-9A-Za-z])"
            assert re.search(pattern, text, re.IGNORECASE) is None, f"{form!r} leaked"
