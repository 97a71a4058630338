"""Authenticator apps (RFC 6238) and recovery codes, as agents and customers use them."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from kefu.core.clock import clock
from kefu.identity.mfa import totp
from kefu.identity.mfa.models import RecoveryCode, TotpCredential
from kefu.identity.models import Role
from tests.core.helpers import assert_problem, audit_entries, new_session
from tests.factories import (
    customer_headers,
    make_agent,
    make_customer,
    password_only_headers,
)
from tests.identity.mfa.helpers import T0, assert_no_secrets_in_audit, code_for

# RFC 6238 appendix B: HMAC-SHA1 with the 20-byte ASCII seed "12345678901234567890", 8 digits.
RFC_SEED = base64.b32encode(b"12345678901234567890").decode()
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("unix_time", "expected"), RFC_VECTORS)
def test_rfc_6238_test_vectors(unix_time: int, expected: str) -> None:
    at = datetime.fromtimestamp(unix_time, UTC)
    assert RFC_SEED == "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
    assert totp.code_at_step(RFC_SEED, totp.step_of(at), digits=8) == expected
    assert pyotp.TOTP(RFC_SEED, digits=8).at(unix_time) == expected
    assert totp.matching_step(RFC_SEED, expected, at, digits=8) == totp.step_of(at)


def test_drift_of_one_step_is_accepted_two_is_not() -> None:
    step = totp.step_of(T0)
    for offset in (-1, 0, 1):
        code = totp.code_at_step(RFC_SEED, step + offset)
        assert totp.matching_step(RFC_SEED, code, T0) == step + offset
    for offset in (-2, 2):
        assert totp.matching_step(RFC_SEED, totp.code_at_step(RFC_SEED, step + offset), T0) is None
    # A step at or before the last accepted one is a replay.
    assert totp.matching_step(RFC_SEED, code_for(RFC_SEED, T0), T0, last_used_step=step) is None
    assert totp.matching_step(RFC_SEED, "12345", T0) is None
    assert totp.matching_step(RFC_SEED, "", T0) is None


def test_agent_enrols_with_a_qr_code_and_the_seed_is_sealed(
    client: TestClient, session: Session, engine: Engine
) -> None:
    clock.freeze(T0)
    agent = make_agent(session)
    headers = password_only_headers(client, agent)

    begun = client.post("/api/v1/mfa/totp", headers=headers)
    assert begun.status_code == 201, begun.text
    body = begun.json()
    secret = body["secret"]
    assert len(base64.b32decode(secret)) == 20
    assert body["otpauth_uri"].startswith("otpauth://totp/kefu:")
    assert f"secret={secret}" in body["otpauth_uri"] and "issuer=kefu" in body["otpauth_uri"]
    assert body["qr_svg"].startswith("<svg") and "path" in body["qr_svg"]

    with new_session(engine) as s:
        stored = s.scalars(select(TotpCredential)).one()
        assert secret.encode() not in stored.sealed_seed
        assert base64.b32decode(secret) not in stored.sealed_seed
        assert stored.status == "pending"

    wrong = client.post("/api/v1/mfa/totp/confirm", json={"code": "000000"}, headers=headers)
    assert_problem(wrong, 400, "invalid_code")
    confirmed = client.post(
        "/api/v1/mfa/totp/confirm", json={"code": code_for(secret, T0)}, headers=headers
    )
    assert confirmed.status_code == 200, confirmed.text
    recovery = confirmed.json()["recovery_codes"]
    assert len(recovery) == 10 and len(set(recovery)) == 10

    # The first code completed this sign-in as well.
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    status = client.get("/api/v1/mfa", headers=headers).json()
    assert status == {
        "enrolled": True,
        "recovery_codes_left": 10,
        "required": True,
        "verified": True,
    }
    with new_session(engine) as s:
        hashes = [r.code_hash for r in s.scalars(select(RecoveryCode))]
        assert all(code.replace("-", "") not in " ".join(hashes) for code in recovery)

    again = client.post("/api/v1/mfa/totp", headers=headers)
    assert_problem(again, 409, "totp_already_enrolled")
    actions = [e.action for e in audit_entries(engine, subject_id=agent.id)]
    assert "mfa.totp_enrolment_started" in actions and "mfa.totp_enrolled" in actions
    assert "mfa.verify_failed" in actions
    assert_no_secrets_in_audit(engine, secret, *recovery, code_for(secret, T0))


def test_a_code_is_accepted_once(client: TestClient, session: Session, engine: Engine) -> None:
    clock.freeze(T0)
    agent = make_agent(session)
    enrolment = password_only_headers(client, agent)
    secret = client.post("/api/v1/mfa/totp", headers=enrolment).json()["secret"]
    client.post("/api/v1/mfa/totp/confirm", json={"code": code_for(secret, T0)}, headers=enrolment)

    first = password_only_headers(client, agent)
    second = password_only_headers(client, agent)
    next_code = code_for(secret, T0, 1)
    assert client.post("/api/v1/mfa/verify", json={"code": next_code}, headers=first).is_success
    replay = client.post("/api/v1/mfa/verify", json={"code": next_code}, headers=second)
    assert_problem(replay, 400, "invalid_code")
    # An older step than the last accepted one is refused too, even inside the window.
    older = client.post("/api/v1/mfa/verify", json={"code": code_for(secret, T0)}, headers=second)
    assert_problem(older, 400, "invalid_code")
    assert_problem(client.get("/api/v1/auth/me", headers=second), 401, "mfa_required")

    clock.freeze(T0 + timedelta(seconds=60))
    fresh = client.post(
        "/api/v1/mfa/verify",
        json={"code": code_for(secret, T0 + timedelta(seconds=60))},
        headers=second,
    )
    assert fresh.status_code == 200, fresh.text
    assert client.get("/api/v1/auth/me", headers=second).status_code == 200


def test_wrong_codes_lock_the_factor(client: TestClient, session: Session, engine: Engine) -> None:
    clock.freeze(T0)
    agent = make_agent(session)
    enrolment = password_only_headers(client, agent)
    secret = client.post("/api/v1/mfa/totp", headers=enrolment).json()["secret"]
    client.post("/api/v1/mfa/totp/confirm", json={"code": code_for(secret, T0)}, headers=enrolment)
    headers = password_only_headers(client, agent)

    for _ in range(5):
        wrong = client.post("/api/v1/mfa/verify", json={"code": "999999"}, headers=headers)
        assert_problem(wrong, 400, "invalid_code")
    right = code_for(secret, T0, 1)
    locked = client.post("/api/v1/mfa/verify", json={"code": right}, headers=headers)
    assert_problem(locked, 429, "mfa_locked")
    assert len(audit_entries(engine, action="mfa.verify_failed")) == 5
    assert len(audit_entries(engine, action="mfa.locked")) == 1

    clock.freeze(T0 + timedelta(minutes=16))
    later = code_for(secret, T0 + timedelta(minutes=16))
    assert client.post("/api/v1/mfa/verify", json={"code": later}, headers=headers).is_success


def test_recovery_codes_are_single_use_and_regenerated_with_a_fresh_factor(
    client: TestClient, session: Session, engine: Engine
) -> None:
    clock.freeze(T0)
    agent = make_agent(session)
    enrolment = password_only_headers(client, agent)
    secret = client.post("/api/v1/mfa/totp", headers=enrolment).json()["secret"]
    confirmed = client.post(
        "/api/v1/mfa/totp/confirm", json={"code": code_for(secret, T0)}, headers=enrolment
    )
    recovery = confirmed.json()["recovery_codes"]

    headers = password_only_headers(client, agent)
    used = {"code": recovery[0].lower(), "factor": "recovery_code"}
    assert client.post("/api/v1/mfa/verify", json=used, headers=headers).status_code == 200
    other = password_only_headers(client, agent)
    assert_problem(client.post("/api/v1/mfa/verify", json=used, headers=other), 400, "invalid_code")
    assert client.get("/api/v1/mfa", headers=headers).json()["recovery_codes_left"] == 9

    regenerate = client.post(
        "/api/v1/mfa/recovery-codes", json={"code": code_for(secret, T0, 1)}, headers=headers
    )
    assert regenerate.status_code == 200, regenerate.text
    fresh = regenerate.json()["recovery_codes"]
    old = {"code": recovery[1], "factor": "recovery_code"}
    assert_problem(client.post("/api/v1/mfa/verify", json=old, headers=other), 400, "invalid_code")
    new = {"code": fresh[0], "factor": "recovery_code"}
    assert client.post("/api/v1/mfa/verify", json=new, headers=other).status_code == 200
    assert_no_secrets_in_audit(engine, secret, *recovery, *fresh)


def test_customer_enrols_and_disables_only_with_a_fresh_factor(
    client: TestClient, session: Session, engine: Engine
) -> None:
    clock.freeze(T0)
    customer = make_customer(session)
    headers = customer_headers(customer)
    assert client.get("/api/v1/mfa", headers=headers).json() == {
        "enrolled": False,
        "recovery_codes_left": 0,
        "required": None,
        "verified": None,
    }
    begun = client.post("/api/v1/mfa/totp", headers=headers).json()
    assert f"kefu:{customer.email}".replace("@", "%40") in begun["otpauth_uri"]
    secret = begun["secret"]
    client.post("/api/v1/mfa/totp/confirm", json={"code": code_for(secret, T0)}, headers=headers)

    no_code = client.post("/api/v1/mfa/totp/disable", json={}, headers=headers)
    assert_problem(no_code, 422, "validation_error")
    replayed = client.post(
        "/api/v1/mfa/totp/disable", json={"code": code_for(secret, T0)}, headers=headers
    )
    assert_problem(replayed, 400, "invalid_code")
    assert client.get("/api/v1/mfa", headers=headers).json()["enrolled"] is True

    disabled = client.post(
        "/api/v1/mfa/totp/disable", json={"code": code_for(secret, T0, 1)}, headers=headers
    )
    assert disabled.status_code == 204, disabled.text
    assert client.get("/api/v1/mfa", headers=headers).json()["enrolled"] is False
    assert [e.actor_id for e in audit_entries(engine, action="mfa.totp_disabled")] == [customer.id]
    not_enrolled = client.post("/api/v1/mfa/totp/disable", json={"code": "123456"}, headers=headers)
    assert_problem(not_enrolled, 409, "totp_not_enrolled")


def test_agents_whose_role_requires_it_cannot_turn_it_off(
    client: TestClient, session: Session
) -> None:
    clock.freeze(T0)
    agent = make_agent(session, Role.SUPERVISOR)
    enrolment = password_only_headers(client, agent)
    secret = client.post("/api/v1/mfa/totp", headers=enrolment).json()["secret"]
    client.post("/api/v1/mfa/totp/confirm", json={"code": code_for(secret, T0)}, headers=enrolment)
    refused = client.post(
        "/api/v1/mfa/totp/disable", json={"code": code_for(secret, T0, 1)}, headers=enrolment
    )
    assert_problem(refused, 409, "mfa_required_for_role")


def test_a_sealed_seed_copied_to_another_owner_does_not_open(
    client: TestClient, session: Session, engine: Engine
) -> None:
    clock.freeze(T0)
    victim, attacker = make_customer(session), make_customer(session)
    for customer in (victim, attacker):
        begun = client.post("/api/v1/mfa/totp", headers=customer_headers(customer)).json()
        client.post(
            "/api/v1/mfa/totp/confirm",
            json={"code": code_for(begun["secret"], T0)},
            headers=customer_headers(customer),
        )
    with new_session(engine) as s:
        rows = {c.owner_id: c for c in s.scalars(select(TotpCredential))}
        rows[attacker.id].sealed_seed = rows[victim.id].sealed_seed
        s.commit()
    response = client.post(
        "/api/v1/mfa/totp/disable", json={"code": "123456"}, headers=customer_headers(attacker)
    )
    assert_problem(response, 500, "decryption_failed")
