"""The pages a person opens first: the landing page and the API reference, served without
any CDN (a self-hosted desk often has no way out to the internet)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import make_customer, make_ticket


def test_api_reference_is_served_with_local_assets(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html.text)
        assert assets, html.text
        for asset in assets:
            assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
            assert client.get(asset).status_code == 200, asset
    spec = client.get("/openapi.json").json()
    # The reference offers "Authorize" for the Authorization header on every protected route.
    assert spec["components"]["securitySchemes"]["kefu"]["name"] == "Authorization"
    assert spec["paths"]["/api/v1/tickets"]["get"]["security"] == [{"kefu": []}]
    assert "security" not in spec["paths"]["/api/v1/auth/login"]["post"]


def test_landing_page_counts_open_tickets_by_queue_in_the_readers_language(
    client: TestClient, session: Session
) -> None:
    customer = make_customer(session, language="zh-CN")
    make_ticket(session, customer)
    make_ticket(session, customer, category="security")

    english = client.get("/", headers={"Accept-Language": "en"})
    chinese = client.get("/", headers={"Accept-Language": "zh-CN"})

    assert english.status_code == chinese.status_code == 200
    assert "Open tickets by queue" in english.text
    assert "各队列未处理工单" in chinese.text
    rows = dict(re.findall(r"<tr><td>([\w:-]+)</td><td>(\d+)</td></tr>", english.text))
    assert rows == {"support:zh-CN": "1", "risk:zh-CN": "1"}
    assert '<html lang="zh-CN">' in chinese.text
