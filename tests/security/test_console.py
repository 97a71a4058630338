"""Console pages of the security protocol: the case list and the case page need the risk
permission, show the trace with explorer links and labels, and carry CSRF-protected forms."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.identity.models import Role
from tests.core.helpers import audit_entries
from tests.factories import make_agent
from tests.security.helpers import THIEF, WITHDRAWAL_TX, desk, report
from tests.web.console_helpers import csrf_from, sign_in


def test_case_pages_show_the_trace_and_take_decisions(
    client: TestClient, session: Session, engine: Engine
) -> None:
    d = desk(client, session, engine)
    case_id = report(client, d.customer, description="Someone drained my ETH").json()["case_id"]
    csrf = sign_in(client, d.officer)

    listing = client.get("/console/cases")
    assert listing.status_code == 200
    assert d.customer.display_name in listing.text and f"/console/cases/{case_id}" in listing.text

    page = client.get(f"/console/cases/{case_id}")
    assert page.status_code == 200
    assert WITHDRAWAL_TX in page.text
    assert f"https://etherscan.io/tx/{WITHDRAWAL_TX}" in page.text
    assert THIEF in page.text and "Reported drainer" in page.text
    assert "api_keys, sessions, withdrawals" in page.text
    assert "Someone drained my ETH" in page.text
    assert audit_entries(engine, action="security.case_read")

    # A form without the CSRF token is refused.
    forged = client.post(
        f"/console/cases/{case_id}/assessments",
        data={"reasoning": "no", "fault": "no"},
        follow_redirects=False,
    )
    assert forged.status_code == 403

    # Bad amounts: the page again with the reason.
    bad = client.post(
        f"/console/cases/{case_id}/assessments",
        data={"csrf_token": csrf, "fault": "yes", "amounts": "ETH lots", "reasoning": "fault"},
        follow_redirects=False,
    )
    assert bad.status_code == 422 and "compensation_amounts_invalid" in bad.text

    # Start the unfreeze verification: the challenge shows what it still needs.
    started = client.post(
        f"/console/cases/{case_id}/challenges",
        data={"csrf_token": csrf, "operation": "account.unfreeze"},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    page = client.get(f"/console/cases/{case_id}")
    assert "customer:id_review" in page.text and "Cooling-off until" in page.text
    # Unfreezing now is refused with the reason on the page.
    refused = client.post(
        f"/console/cases/{case_id}/unfreeze",
        data={"csrf_token": csrf, "reason": "too early", "challenge_id": ""},
        follow_redirects=False,
    )
    assert refused.status_code == 403 and "step_up_required" in refused.text
    assert audit_entries(engine, action="security.unfreeze_refused")

    recorded = client.post(
        f"/console/cases/{case_id}/assessments",
        data={
            "csrf_token": csrf,
            "fault": "yes",
            "amounts": "ETH 4.2\nBTC 0.3",
            "reasoning": "our session bug",
        },
        follow_redirects=False,
    )
    assert recorded.status_code == 303, recorded.text
    page = client.get(f"/console/cases/{case_id}")
    assert "Waiting for approvers" in page.text and "4.2 ETH" in page.text


def test_pages_in_chinese(client: TestClient, session: Session, engine: Engine) -> None:
    d = desk(client, session, engine)
    case_id = report(client, d.customer).json()["case_id"]
    csrf = sign_in(client, d.officer)
    client.post("/console/language", data={"csrf_token": csrf, "language": "zh-CN"})
    page = client.get(f"/console/cases/{case_id}")
    assert page.status_code == 200
    assert "安全事件" in page.text and "已冻结" in page.text
    listing = client.get("/console/cases")
    assert "安全事件" in listing.text


def test_security_pages_need_the_risk_permission(
    client: TestClient, session: Session, engine: Engine
) -> None:
    d = desk(client, session, engine)
    case_id = report(client, d.customer).json()["case_id"]
    signed_out = client.get("/console/cases", follow_redirects=False)
    assert signed_out.status_code == 303
    agent = make_agent(session, Role.AGENT)
    sign_in(client, agent)
    assert client.get("/console/cases").status_code == 403
    assert client.get(f"/console/cases/{case_id}").status_code == 403
    home = client.get("/console")
    assert 'href="/console/cases"' not in home.text
    assert csrf_from(home.text)


def test_freeze_more_and_close_from_the_console(
    client: TestClient, session: Session, engine: Engine
) -> None:
    d = desk(client, session, engine)
    case_id = report(client, d.customer).json()["case_id"]
    csrf = sign_in(client, d.officer)
    frozen = client.post(
        f"/console/cases/{case_id}/freeze",
        data={"csrf_token": csrf, "scopes": ["trading"], "reason": "trading bot abuse"},
        follow_redirects=False,
    )
    assert frozen.status_code == 303, frozen.text
    page = client.get(f"/console/cases/{case_id}")
    assert "api_keys, sessions, trading, withdrawals" in page.text
    assert "trading bot abuse" in page.text
    closed = client.post(
        f"/console/cases/{case_id}/close",
        data={"csrf_token": csrf, "resolution": "Customer moved to a new account."},
        follow_redirects=False,
    )
    assert closed.status_code == 303
    assert "Customer moved to a new account." in client.get(f"/console/cases/{case_id}").text
    assert [e.data["why"] for e in audit_entries(engine, action="security.case_closed")] == [
        "Customer moved to a new account."
    ]
