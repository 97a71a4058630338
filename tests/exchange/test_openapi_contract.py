"""The reference server serves exactly the contract in `exchange-api.yaml`, and what it
answers validates against the YAML's schemas (JSON Schema 2020-12, as OpenAPI 3.1 uses)."""

from __future__ import annotations

import time
from datetime import timedelta
from importlib.resources import files
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from sqlalchemy import Engine

from kefu.exchange import signing
from kefu.exchange.reference_server import create_reference_app
from tests.exchange.conftest import KEY_ID, SECRET, T0, Books

CONTRACT: dict[str, Any] = yaml.safe_load(
    files("kefu.exchange").joinpath("contract/exchange-api.yaml").read_text(encoding="utf-8")
)
METHODS = {"get", "post", "put", "patch", "delete"}


# The whole document is one resource, so `#/components/schemas/...` references resolve.
_REGISTRY: Registry[Any] = Registry().with_resource(
    "urn:kefu:exchange-contract",
    Resource.from_contents({**CONTRACT, "$schema": "https://json-schema.org/draft/2020-12/schema"}),
)


def _validator(*pointer: str) -> Draft202012Validator:
    """A validator for the schema at `pointer` inside the contract, whose own
    `#/components/...` references resolve within the same document."""
    fragment = "/".join(quote(p.replace("~", "~0").replace("/", "~1"), safe="") for p in pointer)
    return Draft202012Validator(
        {"$ref": f"urn:kefu:exchange-contract#/{fragment}"}, registry=_REGISTRY
    )


def test_contract_is_openapi_31_with_signing_and_idempotency() -> None:
    assert CONTRACT["openapi"].startswith("3.1")
    assert set(CONTRACT["components"]["securitySchemes"]) == {
        "KefuKeyId",
        "KefuTimestamp",
        "KefuSignature",
    }
    for path, operations in CONTRACT["paths"].items():
        for method, operation in operations.items():
            assert operation["security"], (method, path)
            names = {p["name"] for p in operation.get("parameters", [])}
            is_control = method == "post" and not path.endswith("/withdrawals")
            assert ("Idempotency-Key" in names) == is_control, (method, path)
    # Amounts are strings on the wire.
    assert CONTRACT["components"]["schemas"]["Balance"]["properties"]["available"]["type"] == (
        "string"
    )


def test_every_path_in_the_contract_is_served_and_nothing_else(
    engine: Engine, reference_url: str, books: Books
) -> None:
    app = create_reference_app(engine, key_id=KEY_ID, secret=SECRET)
    routed = {
        (method, path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    documented = {
        (method, path)
        for path, operations in CONTRACT["paths"].items()
        for method in operations
        if method in METHODS
    }
    assert routed == documented
    # And each one answers: a route's own refusal carries a contract `code`, an unrouted
    # path would get the framework's bare 404/405.
    with httpx.Client(base_url=reference_url, timeout=10) as client:
        for method, path in sorted(documented):
            url = path.format(external_id="acct-1", liquidation_id=books.liquidation_id)
            response = _signed(client, method.upper(), url)
            assert response.status_code != 405, (method, path)
            if response.is_error:
                assert "code" in response.json(), (method, path, response.text)


def _signed(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    request = client.build_request(method, url, **kwargs)
    timestamp = str(int(time.time()))
    target = request.url.raw_path.decode()
    request.headers[signing.KEY_HEADER] = KEY_ID
    request.headers[signing.TIMESTAMP_HEADER] = timestamp
    request.headers[signing.SIGNATURE_HEADER] = signing.signature(
        SECRET, timestamp, method, target, request.content
    )
    return client.send(request)


def _response_pointer(path: str, method: str, status: int, content_type: str) -> list[str]:
    responses = CONTRACT["paths"][path][method]["responses"]
    key = str(status) if str(status) in responses else f"{str(status)[0]}XX"
    assert content_type in responses[key]["content"], (path, status, content_type)
    return ["paths", path, method, "responses", key, "content", content_type, "schema"]


def test_responses_validate_against_the_contract(reference_url: str, books: Books) -> None:
    window = {"start": T0.isoformat(), "end": (T0 + timedelta(minutes=10)).isoformat()}
    calls: list[tuple[str, str, str, dict[str, Any]]] = [
        ("get", "/v1/accounts/{external_id}", "/v1/accounts/acct-1", {}),
        ("get", "/v1/accounts/{external_id}/kyc", "/v1/accounts/acct-1/kyc", {}),
        ("get", "/v1/accounts/{external_id}/balances", "/v1/accounts/acct-1/balances", {}),
        (
            "get",
            "/v1/accounts/{external_id}/deposit-addresses",
            "/v1/accounts/acct-1/deposit-addresses",
            {},
        ),
        ("get", "/v1/accounts/{external_id}/deposits", "/v1/accounts/acct-1/deposits", {}),
        ("get", "/v1/accounts/{external_id}/withdrawals", "/v1/accounts/acct-1/withdrawals", {}),
        ("get", "/v1/accounts/{external_id}/positions", "/v1/accounts/acct-1/positions", {}),
        (
            "get",
            "/v1/accounts/{external_id}/liquidations",
            "/v1/accounts/acct-1/liquidations",
            {},
        ),
        (
            "get",
            "/v1/liquidations/{liquidation_id}",
            f"/v1/liquidations/{books.liquidation_id}",
            {},
        ),
        ("get", "/v1/accounts/{external_id}/logins", "/v1/accounts/acct-1/logins", {}),
        ("get", "/v1/accounts/{external_id}/api-keys", "/v1/accounts/acct-1/api-keys", {}),
        (
            "get",
            "/v1/candles",
            "/v1/candles",
            {"params": {"symbol": "BTCUSDT", "kind": "mark", "interval": "5m", **window}},
        ),
        ("get", "/v1/incidents", "/v1/incidents", {"params": window}),
        (
            "post",
            "/v1/accounts/{external_id}/freeze",
            "/v1/accounts/acct-1/freeze",
            {
                "json": {"scopes": ["withdrawals", "sessions"], "reason": "report"},
                "headers": {"Idempotency-Key": "c-1"},
            },
        ),
        (
            "post",
            "/v1/accounts/{external_id}/withdrawals",
            "/v1/accounts/acct-1/withdrawals",
            {"json": {"asset": "BTC", "chain": "BTC", "amount": "0.1", "address": "bc1qx"}},
        ),
        (
            "post",
            "/v1/accounts/{external_id}/unfreeze",
            "/v1/accounts/acct-1/unfreeze",
            {
                "json": {"scopes": ["all"], "reason": "verified"},
                "headers": {"Idempotency-Key": "c-2"},
            },
        ),
        (
            "post",
            "/v1/accounts/{external_id}/password-reset",
            "/v1/accounts/acct-1/password-reset",
            {"json": {"reason": "asked"}, "headers": {"Idempotency-Key": "c-3"}},
        ),
        (
            "post",
            "/v1/accounts/{external_id}/withdrawal-lock",
            "/v1/accounts/acct-1/withdrawal-lock",
            {"json": {"hours": 24, "reason": "reset"}, "headers": {"Idempotency-Key": "c-4"}},
        ),
        (
            "post",
            "/v1/accounts/{external_id}/payouts",
            "/v1/accounts/acct-1/payouts",
            {
                "json": {"asset": "USDT", "amount": "10.5", "reason": "case"},
                "headers": {"Idempotency-Key": "c-5"},
            },
        ),
        # Refusals: problem bodies, also in the contract.
        ("get", "/v1/accounts/{external_id}", "/v1/accounts/nobody", {}),
        (
            "post",
            "/v1/accounts/{external_id}/payouts",
            "/v1/accounts/acct-1/payouts",
            {
                "json": {"asset": "USDT", "amount": 10.5, "reason": "x"},  # a float
                "headers": {"Idempotency-Key": "c-float"},
            },
        ),
        (
            "get",
            "/v1/candles",
            "/v1/candles",
            {"params": {"symbol": "BTCUSDT", "kind": "mark", "interval": "7m", **window}},
        ),
    ]
    seen_problem_codes: set[str] = set()
    answers: list[httpx.Response] = []
    with httpx.Client(base_url=reference_url, timeout=10) as client:
        for method, template, url, kwargs in calls:
            response = _signed(client, method.upper(), url, **kwargs)
            content_type = response.headers["content-type"].split(";")[0]
            pointer = _response_pointer(template, method, response.status_code, content_type)
            errors = list(_validator(*pointer).iter_errors(response.json()))
            assert not errors, (url, response.status_code, errors[0].message)
            answers.append(response)
            if response.is_error:
                seen_problem_codes.add(response.json()["code"])
    float_payout = answers[-2]
    assert float_payout.status_code == 422
    assert "never floats" in float_payout.json()["detail"]
    assert seen_problem_codes == {
        "exchange_unknown_account",
        "exchange_invalid_request",
        "exchange_account_frozen",  # the withdrawal, after the freeze
    }


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {signing.KEY_HEADER: KEY_ID, signing.TIMESTAMP_HEADER: "1", signing.SIGNATURE_HEADER: "0"},
    ],
)
def test_unsigned_or_stale_requests_are_refused(
    reference_url: str, books: Books, headers: dict[str, str]
) -> None:
    response = httpx.get(f"{reference_url}/v1/accounts/acct-1", headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json()["code"] == "exchange_auth_failed"


def test_the_reference_servers_schemas_match_the_contract(engine: Engine) -> None:
    """Drift check: what the reference server declares (its models, parameters and bodies)
    is exactly what the YAML documents."""
    served = create_reference_app(engine, key_id=KEY_ID, secret=SECRET).openapi()
    documented = CONTRACT["components"]["schemas"]
    for name, schema in served["components"]["schemas"].items():
        if name in {"HTTPValidationError", "ValidationError"}:
            continue  # FastAPI's own 422 body; the contract answers with Problem instead
        assert documented.get(name) == schema, name
    for path, operations in served["paths"].items():
        for method, operation in operations.items():
            mine = CONTRACT["paths"][path][method]
            assert operation.get("parameters") == mine.get("parameters"), (method, path)
            assert operation.get("requestBody") == mine.get("requestBody"), (method, path)
