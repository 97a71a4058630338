"""The console: analyse from a CSRF-protected form, read the analysis with its chart as an
image from its own route, under the strict CSP."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kefu.identity.models import Role
from tests.exchange.conftest import Books
from tests.factories import make_agent, make_customer, make_ticket
from tests.web.console_helpers import sign_in


def test_console_analyses_and_shows_the_chart(
    client: TestClient, session: Session, books: Books
) -> None:
    customer = make_customer(session, external_id="acct-1", jurisdiction="SG")
    ticket = make_ticket(session, customer, subject="Liquidated unfairly")
    officer = make_agent(session, role=Role.RISK_OFFICER)
    csrf = sign_in(client, officer)

    form = client.get(f"/console/disputes?ticket_id={ticket.id}")
    assert form.status_code == 200 and ticket.id in form.text

    data = {"ticket_id": ticket.id, "liquidation_id": books.liquidation_id}
    forged = client.post("/console/disputes", data=data, follow_redirects=False)
    assert forged.status_code in (400, 403)

    bad = client.post(
        "/console/disputes", data={**data, "liquidation_id": "nope", "csrf_token": csrf}
    )
    assert bad.status_code == 404 and "liquidation_not_found" in bad.text

    made = client.post(
        "/console/disputes", data={**data, "csrf_token": csrf}, follow_redirects=False
    )
    assert made.status_code == 303, made.text
    page = client.get(made.headers["location"])
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<svg" not in page.text  # the chart is an image, not inline
    dispute_id = made.headers["location"].rsplit("/", 1)[1]
    assert f'src="/console/disputes/{dispute_id}/chart.svg"' in page.text
    assert "Verdict: needs risk review" in page.text
    assert "86797.19" in page.text
    # Which tier of the exchange's table applied, and why (the demo serves BTCUSDT's table).
    assert "Maintenance tier 1 of the exchange" in page.text
    assert "tier 1 at the entry price" in page.text

    chart = client.get(f"/console/disputes/{dispute_id}/chart.svg")
    assert chart.status_code == 200
    assert chart.headers["content-type"].startswith("image/svg+xml")
    ET.fromstring(chart.text)
