"""Sample files and upload helpers for the ID-document tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

# Real file signatures followed by filler: the service checks content, not names.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"passport-scan" * 20
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"selfie-pixels" * 20
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\n" + b"utility bill " * 20 + b"\n%%EOF\n"


def upload(
    client: TestClient,
    headers: dict[str, str],
    *,
    kind: str = "passport",
    data: bytes = PNG,
    filename: str = "passport.png",
    content_type: str = "image/png",
) -> Any:
    return client.post(
        "/api/v1/identity/documents",
        headers=headers,
        data={"kind": kind},
        files={"file": (filename, data, content_type)},
    )


def submit(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    response = client.post("/api/v1/identity/reviews", headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result
