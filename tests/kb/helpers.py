"""Shared helpers for the knowledge-base tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


def create_category(client: TestClient, headers: dict[str, str], slug: str = "deposits") -> None:
    response = client.put(
        "/api/v1/kb/categories",
        json={"slug": slug, "names": {"en": slug.title(), "zh-CN": "充值"}},
        headers=headers,
    )
    assert response.status_code == 200, response.text


def create_article(
    client: TestClient, headers: dict[str, str], slug: str = "deposit-help", **fields: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "slug": slug,
        "category": "deposits",
        "translations": [
            {"language": "en", "title": "Deposit help", "body": "Wait for **confirmations**."},
            {"language": "zh-CN", "title": "充值帮助", "body": "请等待区块**确认**。"},
        ],
    }
    payload.update(fields)
    response = client.post("/api/v1/kb/articles", json=payload, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def publish(client: TestClient, headers: dict[str, str], ref: str, language: str) -> None:
    response = client.post(
        f"/api/v1/kb/articles/{ref}/translations/{language}/publish", json={}, headers=headers
    )
    assert response.status_code == 200, response.text
