"""The Esplora adapter against a loopback server replaying real Esplora answers: found,
unknown (404), rate limiting (429 + Retry-After, retried with backoff), timeouts, outages."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from kefu.chain import btc
from kefu.chain.adapters import BackendError, TxState
from kefu.chain.adapters.esplora import EsploraBackend
from kefu.chain.adapters.http import RetryingHttp
from tests.chain.loopback import Reply, Request, esplora_handler, serve

TXID = "9d3ea0d131c45450c135d549b62032019bc47a80368e14edc72caf38f5a88033"
BLOCK170_TX = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"


def backend(url: str, **kwargs: object) -> tuple[EsploraBackend, list[float]]:
    sleeps: list[float] = []
    http = RetryingHttp(url, sleep=sleeps.append, **kwargs)  # type: ignore[arg-type]
    return EsploraBackend(http), sleeps


def test_reads_a_confirmed_transaction() -> None:
    with serve(esplora_handler(tip=875_700)) as server:
        esplora, _ = backend(server.url)
        assert esplora.tip_height() == 875_700
        tx = esplora.get_transaction(TXID)
    assert tx is not None
    assert tx.state == TxState.CONFIRMED
    assert (tx.block_height, tx.block_hash) == (
        875_602,
        "000000000000000000016c0639b6c1a34d6659c231aa2de5849ab3377ed75020",
    )
    assert tx.block_time == datetime.fromtimestamp(1734704791, UTC)
    assert tx.fee == Decimal("0.00044")
    assert [(t.to_address, t.amount) for t in tx.transfers] == [
        ("bc1q9yhuu4yty2xd8hmrxnw4yhavvtn7khm62uw38p", Decimal("0.00057")),
        ("bc1quhruqrghgcca950rvhtrg7cpd7u8k6svpzgzmrjy8xyukacl5lkq0r8l2d", Decimal("0.17343523")),
    ]
    assert tx.inputs_from == (
        "3L4YUynB4X44rJBY9CmiLMN8Wjti49JCYB",
        "3GcWrnGFoNzbn1KaiP5czS5xPELdWcgDX2",
    )


def test_unknown_transaction_is_none() -> None:
    with serve(esplora_handler()) as server:
        esplora, sleeps = backend(server.url)
        assert esplora.get_transaction("ab" * 32) is None
    assert sleeps == []  # a 404 is an answer, not a failure


def test_inclusion_proof_verifies_offline() -> None:
    with serve(esplora_handler(tip=171)) as server:
        esplora, _ = backend(server.url)
        tx = esplora.get_transaction(BLOCK170_TX)
        assert tx is not None and tx.block_hash is not None
        proof = esplora.inclusion_proof(BLOCK170_TX, tx.block_hash)
    assert btc.parse_transaction(proof.raw_tx).txid == BLOCK170_TX
    header = btc.parse_header(proof.header)
    assert header.hash == tx.block_hash and header.meets_target
    assert btc.verify_merkle_proof(BLOCK170_TX, proof.merkle, proof.pos, header.merkle_root)


def test_rate_limit_is_retried_after_the_servers_delay() -> None:
    replay = esplora_handler()
    calls = {"n": 0}

    def limited(request: Request) -> Reply:
        calls["n"] += 1
        if calls["n"] <= 2:
            return Reply(429, "Too Many Requests", {"Retry-After": "3"})
        return replay(request)

    with serve(limited) as server:
        esplora, sleeps = backend(server.url, retries=3, backoff=0.25)
        tx = esplora.get_transaction(TXID)
    assert tx is not None
    assert calls["n"] == 3
    assert sleeps == [3.0, 3.0]  # Retry-After wins over the shorter backoff


def test_rate_limit_that_persists_is_reported() -> None:
    with serve(lambda r: Reply(429, "Too Many Requests", {"Retry-After": "1"})) as server:
        esplora, sleeps = backend(server.url, retries=2, backoff=0.1)
        with pytest.raises(BackendError) as caught:
            esplora.get_transaction(TXID)
    assert caught.value.reason == "rate_limited"
    assert len(sleeps) == 2


def test_server_errors_back_off_exponentially() -> None:
    with serve(lambda r: Reply(502, "Bad Gateway")) as server:
        esplora, sleeps = backend(server.url, retries=3, backoff=0.5)
        with pytest.raises(BackendError) as caught:
            esplora.tip_height()
        assert len(server.requests) == 4
    assert caught.value.reason == "unreachable"
    assert sleeps == [0.5, 1.0, 2.0]


def test_timeout_is_reported() -> None:
    with serve(lambda r: Reply(200, "875700", delay=2.0)) as server:
        esplora, _ = backend(server.url, timeout=0.2, retries=1, backoff=0.0)
        with pytest.raises(BackendError) as caught:
            esplora.tip_height()
    assert caught.value.reason == "timeout"


def test_unreachable_backend() -> None:
    with serve(esplora_handler()) as server:
        url = server.url
    esplora, _ = backend(url, retries=1, backoff=0.0, timeout=1.0)
    with pytest.raises(BackendError) as caught:
        esplora.tip_height()
    assert caught.value.reason == "unreachable"


def test_garbage_answers_are_backend_errors() -> None:
    with serve(lambda r: Reply(200, {"txid": "x"})) as server:
        esplora, _ = backend(server.url)
        with pytest.raises(BackendError):
            esplora.get_transaction(TXID)
    with serve(lambda r: Reply(200, "not a number")) as server:
        esplora, _ = backend(server.url)
        with pytest.raises(BackendError):
            esplora.tip_height()
