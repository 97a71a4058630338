"""Response templates: sandboxed rendering with strict variables, per language, and policy
templates per jurisdiction with facts and advice kept apart."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.identity.models import Role
from kefu.kb import service
from kefu.kb.loader import load_content
from tests.core.helpers import assert_problem, audit_entries
from tests.factories import agent_headers, make_agent

MACRO = {
    "key": "deposit-pending",
    "language": "en",
    "title": "Deposit pending",
    "body": "Hello {{ customer_name }}, ticket {{ ticket_id }}: see {{ explorer_link }}",
}


def _create(client: TestClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    response = client.post("/api/v1/kb/templates", json={**MACRO, **fields}, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_a_macro_renders_its_variables_and_names_the_missing_ones(
    client: TestClient, session: Session, engine: Engine
) -> None:
    headers = agent_headers(client, make_agent(session))
    template = _create(client, headers)
    assert template["variables"] == ["customer_name", "explorer_link", "ticket_id"]
    zh = _create(
        client, headers, language="zh-CN", body="{{ customer_name }}您好，工单 {{ ticket_id }}。"
    )
    assert zh["language"] == "zh-CN"

    rendered = client.post(
        f"/api/v1/kb/templates/{template['id']}/render",
        json={
            "variables": {
                "customer_name": "Alice <b>",
                "ticket_id": "T-42",
                "explorer_link": "https://mempool.space/tx/abc",
            }
        },
        headers=headers,
    )
    assert rendered.status_code == 200, rendered.text
    assert rendered.json()["text"] == (
        "Hello Alice <b>, ticket T-42: see https://mempool.space/tx/abc"
    )

    missing = client.post(
        f"/api/v1/kb/templates/{template['id']}/render",
        json={"variables": {"customer_name": "Alice"}},
        headers={**headers, "Accept-Language": "en"},
    )
    body = assert_problem(missing, 422, "template_variable_missing")
    assert "explorer_link" in body["title"] and "ticket_id" in body["title"]
    assert [e.action for e in audit_entries(engine, subject_id=template["id"])] == [
        "kb.template_created"
    ]


def test_templates_are_sandboxed_and_checked_when_saved(
    client: TestClient, session: Session
) -> None:
    headers = agent_headers(client, make_agent(session))
    broken = client.post(
        "/api/v1/kb/templates", json={**MACRO, "body": "Hello {{ customer_name "}, headers=headers
    )
    assert_problem(broken, 422, "template_syntax_error")
    empty = client.post("/api/v1/kb/templates", json={**MACRO, "body": "  "}, headers=headers)
    assert_problem(empty, 422, "validation_error")

    sneaky = _create(
        client,
        headers,
        key="sneaky",
        body="{{ customer_name.__class__.__mro__[1].__subclasses__() }}",
    )
    response = client.post(
        f"/api/v1/kb/templates/{sneaky['id']}/render",
        json={"variables": {"customer_name": "x"}},
        headers=headers,
    )
    assert response.status_code == 422, response.text
    assert response.json()["code"] in {"template_unsafe", "template_variable_missing"}

    _create(client, headers, key="dup")
    assert_problem(
        client.post("/api/v1/kb/templates", json={**MACRO, "key": "dup"}, headers=headers),
        409,
        "kb_template_exists",
    )
    assert_problem(
        client.post("/api/v1/kb/templates/nope/render", json={"variables": {}}, headers=headers),
        404,
        "kb_template_not_found",
    )
    assert_problem(
        client.post(
            "/api/v1/kb/templates",
            json={**MACRO, "key": "x", "language": "de"},
            headers=headers,
        ),
        422,
        "validation_error",
    )


def test_policy_templates_need_a_publisher_and_keep_facts_apart_from_advice(
    client: TestClient, session: Session
) -> None:
    policy = {
        "key": "policy.sg.regulation",
        "kind": "policy",
        "language": "en",
        "jurisdiction": "sg",
        "topic": "regulation",
        "title": "Singapore",
        "facts": "MAS licenses DPT services.",
        "advice": "Check the register, {{ customer_name }}.",
        "referral": "Ask compliance.",
    }
    agent = agent_headers(client, make_agent(session))
    assert_problem(
        client.post("/api/v1/kb/templates", json=policy, headers=agent), 403, "permission_denied"
    )
    compliance = agent_headers(client, make_agent(session, role=Role.COMPLIANCE_OFFICER))
    incomplete = {**policy, "advice": None}
    assert_problem(
        client.post("/api/v1/kb/templates", json=incomplete, headers=compliance),
        409,
        "kb_template_incomplete",
    )
    created = client.post("/api/v1/kb/templates", json=policy, headers=compliance).json()
    assert created["jurisdiction"] == "SG"

    rendered = client.post(
        f"/api/v1/kb/templates/{created['id']}/render",
        json={"variables": {"customer_name": "Wei"}},
        headers=agent,
    ).json()
    assert rendered["facts"] == "MAS licenses DPT services."
    assert rendered["advice"] == "Check the register, Wei."
    assert rendered["disclaimer"] == "This is general information, not legal advice."
    assert rendered["referral"] == "Ask compliance."
    text = rendered["text"]
    assert text.index("MAS") < text.index("not legal advice") < text.index("Check the register")


def test_policy_template_lookup_returns_none_when_nothing_fits(session: Session) -> None:
    load_content(session)
    session.commit()

    found = service.policy_template(session, "sg", "regulation", "zh")
    assert found is not None and found.language == "zh-CN" and "金融管理局" in (found.facts or "")
    rendered = service.render_template(found, {})
    assert rendered.disclaimer == "本内容仅为一般信息，不构成法律意见。"
    assert rendered.facts and rendered.advice and rendered.referral
    assert service.policy_template(session, "DE", "tax", "en") is not None

    assert service.policy_template(session, "FR", "regulation", "en") is None
    assert service.policy_template(session, "SG", "tax", "en") is None
    assert service.policy_template(session, "SG", "regulation", "ja") is None
