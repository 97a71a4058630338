"""The console's chain check page against a loopback Esplora replaying real answers: a
confirmed transaction with its amounts, confirmations and explorer links, an expected
receipt's verdict, and bad input or an unreachable backend as messages on the page."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterator

import pytest
from coincurve import PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kefu.chain import btc, proofs
from kefu.chain.service import tx_cache
from kefu.core.settings import ChainConfig, Settings
from kefu.tickets.models import Category
from tests.chain.loopback import Loopback, Reply, esplora_handler, serve
from tests.core.helpers import audit_entries
from tests.factories import make_agent, make_customer, make_ticket
from tests.web.console_helpers import sign_in

TXID = "9d3ea0d131c45450c135d549b62032019bc47a80368e14edc72caf38f5a88033"
TO_P2WPKH = "bc1q9yhuu4yty2xd8hmrxnw4yhavvtn7khm62uw38p"


@pytest.fixture(scope="module")
def esplora() -> Iterator[Loopback]:
    with serve(esplora_handler(tip=875_700)) as server:
        yield server


@pytest.fixture(scope="module")
def down() -> Iterator[Loopback]:
    with serve(lambda r: Reply(503, "Service Unavailable")) as server:
        yield server


@pytest.fixture
def settings(database_url: str, esplora: Loopback, down: Loopback) -> Iterator[Settings]:
    def chain(url: str) -> ChainConfig:
        return ChainConfig(
            kind="esplora",
            url=url,
            retries=0,
            backoff_seconds=0.0,
            timeout_seconds=2,
            explorer_tx_urls=["https://mempool.space/tx/{txid}"],
        )

    tx_cache.clear()
    yield Settings(
        database_url=database_url,
        embedded_worker=False,
        max_body_bytes=64_000,
        chains={"bitcoin": chain(esplora.url), "bitcoin-down": chain(down.url)},
    )
    tx_cache.clear()


def test_check_a_transaction_on_the_page(
    client: TestClient, session: Session, engine: Engine
) -> None:
    agent = make_agent(session)
    csrf = sign_in(client, agent)
    page = client.get("/console/chain")
    assert page.status_code == 200
    assert '<label for="chain-txid">' in page.text
    result = client.post(
        "/console/chain",
        data={
            "chain": "bitcoin",
            "txid": f"  {TXID} ",
            "address": TO_P2WPKH,
            "amount": "0.00057",
            "csrf_token": csrf,
        },
    )
    assert result.status_code == 200, result.text
    assert "Confirmed" in result.text
    assert "<dd>99</dd>" in result.text  # 875 700 - 875 602 + 1 confirmations
    assert "0.00057" in result.text and "0.17343523" in result.text
    assert f"https://mempool.space/tx/{TXID}" in result.text
    assert "Received the expected amount" in result.text
    (entry,) = audit_entries(engine, action="chain.tx_checked")
    assert entry.actor_id == agent.id


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"chain": "dogecoin", "txid": TXID}, 404, "unknown_chain"),
        ({"chain": "bitcoin", "txid": "not-a-hash"}, 422, "malformed_txid"),
        ({"chain": "bitcoin", "txid": ""}, 422, "Enter a transaction hash."),
        (
            {"chain": "bitcoin", "txid": TXID, "address": TO_P2WPKH, "amount": "-1"},
            422,
            "bad_amount",
        ),
        (
            {"chain": "bitcoin", "txid": TXID, "address": TO_P2WPKH, "amount": "lots"},
            422,
            "bad_amount",
        ),
        ({"chain": "bitcoin-down", "txid": TXID}, 503, "chain_backend_unavailable"),
    ],
)
def test_bad_input_and_outages_are_messages_not_500s(
    client: TestClient, session: Session, form: dict[str, str], status: int, message: str
) -> None:
    csrf = sign_in(client, make_agent(session))
    response = client.post("/console/chain", data={**form, "csrf_token": csrf})
    assert response.status_code == status, response.text
    assert message in response.text
    assert 'role="alert"' in response.text
    # The form keeps what was typed.
    assert f'value="{form["txid"]}"' in response.text


def test_chain_page_needs_csrf_and_speaks_chinese(client: TestClient, session: Session) -> None:
    agent = make_agent(session, language="zh-CN")
    sign_in(client, agent)
    assert client.post("/console/chain", data={"chain": "bitcoin", "txid": TXID}).status_code == 403
    page = client.get("/console/chain")
    assert "链上核查" in page.text


def _bip137_sign(key: PrivateKey, message: str) -> str:
    """What a wallet's "sign message" gives for a compressed P2PKH key."""
    recoverable = key.sign_recoverable(proofs.bitcoin_message_hash(message.encode()), hasher=None)
    return base64.b64encode(bytes([31 + recoverable[64]]) + recoverable[:64]).decode()


def test_address_control_challenge_in_the_console(
    client: TestClient, session: Session, engine: Engine
) -> None:
    agent = make_agent(session, teams=["support"], languages=["en"])
    ticket = make_ticket(session, make_customer(session))
    csrf = sign_in(client, agent)
    key = PrivateKey()
    address = btc.base58check_encode(b"\x00" + btc.hash160(key.public_key.format()))
    issued = client.post(
        "/console/chain/challenges",
        data={
            "chain": "bitcoin",
            "address": address,
            "ticket": ticket.reference,
            "csrf_token": csrf,
        },
        follow_redirects=False,
    )
    assert issued.status_code == 303, issued.text
    url = issued.headers["location"]
    page = client.get(url)
    message = re.search(r'<textarea id="challenge-message"[^>]*>([^<]+)</textarea>', page.text)
    assert message is not None
    text = html.unescape(message.group(1))
    assert address in text and "Nonce:" in text
    assert ticket.reference in page.text

    wrong = client.post(
        f"{url}/answer",
        data={"signature": _bip137_sign(PrivateKey(), text), "csrf_token": csrf},
    )
    assert wrong.status_code == 422
    assert "signature_mismatch" in wrong.text
    assert "<dd>1</dd>" in wrong.text  # the wrong attempt counts
    right = client.post(
        f"{url}/answer", data={"signature": _bip137_sign(key, text), "csrf_token": csrf}
    )
    assert right.status_code == 200
    assert "the holder controls this address" in right.text
    actions = [e.action for e in audit_entries(engine) if e.action.startswith("chain.challenge")]
    assert actions == [
        "chain.challenge_issued",
        "chain.challenge_answered",
        "chain.challenge_answered",
    ]

    # Bad input is a message on the page; a ticket the agent cannot see is a 404.
    bad = client.post(
        "/console/chain/challenges",
        data={"chain": "bitcoin", "address": "nope", "csrf_token": csrf},
    )
    assert bad.status_code == 422 and "malformed_address" in bad.text
    risk = make_ticket(session, make_customer(session), Category.SECURITY)
    hidden = client.post(
        "/console/chain/challenges",
        data={"chain": "bitcoin", "address": address, "ticket": risk.id, "csrf_token": csrf},
    )
    assert hidden.status_code == 404
