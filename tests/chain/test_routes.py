"""The chain API as agents, risk officers and customers see it: checks against a loopback
Esplora and a real anvil node, the own-address privacy rule, labels, proofs, challenges and
clear problem codes for bad input and unreachable backends."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from coincurve import PrivateKey
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kefu.chain import btc, proofs
from kefu.chain.service import SetOwnAddresses
from kefu.core.clock import clock, utcnow
from kefu.core.settings import ChainConfig, Settings
from kefu.identity.models import Role
from tests.chain.conftest import Anvil
from tests.chain.loopback import FIXTURES, Loopback, Reply, esplora_handler, serve
from tests.core.helpers import assert_problem, audit_entries
from tests.factories import agent_headers, customer_headers, make_agent, make_customer, make_ticket

TXID = "9d3ea0d131c45450c135d549b62032019bc47a80368e14edc72caf38f5a88033"
BLOCK170_TX = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"
TO_P2WPKH = "bc1q9yhuu4yty2xd8hmrxnw4yhavvtn7khm62uw38p"
TO_P2WSH = "bc1quhruqrghgcca950rvhtrg7cpd7u8k6svpzgzmrjy8xyukacl5lkq0r8l2d"
API = "/api/v1/chain"


@pytest.fixture(scope="module")
def esplora() -> Iterator[Loopback]:
    with serve(esplora_handler(tip=875_700)) as server:
        yield server


@pytest.fixture(scope="module")
def limited() -> Iterator[Loopback]:
    with serve(lambda r: Reply(429, "Too Many Requests", {"Retry-After": "0"})) as server:
        yield server


@pytest.fixture
def settings(database_url: str, esplora: Loopback, limited: Loopback, anvil: Anvil) -> Settings:
    def btc_chain(url: str) -> ChainConfig:
        return ChainConfig(
            kind="esplora",
            url=url,
            retries=1,
            backoff_seconds=0.0,
            timeout_seconds=2,
            explorer_tx_urls=[
                "https://mempool.space/tx/{txid}",
                "https://blockstream.info/tx/{txid}",
            ],
        )

    return Settings(
        database_url=database_url,
        embedded_worker=False,
        max_body_bytes=64_000,
        chain_challenge_minutes=60,
        chains={
            "bitcoin": btc_chain(esplora.url),
            "bitcoin-down": btc_chain("http://127.0.0.1:9"),
            "bitcoin-busy": btc_chain(limited.url),
            "ethereum": ChainConfig(
                kind="evm",
                url=anvil.url,
                asset="ETH",
                retries=0,
                explorer_tx_urls=["https://etherscan.io/tx/{txid}"],
            ),
            "polygon": ChainConfig(kind="evm", asset="POL"),
        },
    )


def check(
    client: TestClient,
    headers: dict[str, str],
    txid: str = TXID,
    chain: str = "bitcoin",
    **params: Any,
) -> Any:
    return client.get(f"{API}/{chain}/transactions/{txid}", params=params, headers=headers)


def test_agent_checks_a_bitcoin_transaction(
    client: TestClient, session: Session, engine: Any
) -> None:
    agent = agent_headers(client, make_agent(session))
    response = check(client, agent, expected_address=TO_P2WPKH, expected_amount="0.00057")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["confirmations"], body["block_height"]) == (
        "confirmed",
        99,
        875_602,
    )
    assert body["fee"] == "0.00044" and body["fee_asset"] == "BTC"
    assert [(t["to_address"], t["amount"]) for t in body["transfers"]] == [
        (TO_P2WPKH, "0.00057"),
        (TO_P2WSH, "0.17343523"),
    ]
    assert body["expected"]["verdict"] == "received"
    assert body["explorer_links"] == [
        f"https://mempool.space/tx/{TXID}",
        f"https://blockstream.info/tx/{TXID}",
    ]
    less = check(client, agent, expected_address=TO_P2WPKH, expected_amount="0.001").json()
    assert (less["expected"]["verdict"], less["expected"]["received_amount"]) == (
        "received_less",
        "0.00057",
    )
    other = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    assert (
        check(client, agent, expected_address=other).json()["expected"]["verdict"] == "not_received"
    )
    entries = audit_entries(engine, action="chain.tx_checked")
    assert len(entries) == 3 and entries[0].data["txid"] == TXID


def test_results_are_cached_per_block_height(
    client: TestClient, session: Session, esplora: Loopback
) -> None:
    agent = agent_headers(client, make_agent(session))
    before = len([p for p in esplora.paths() if p.startswith(f"/tx/{TXID}")])
    first = check(client, agent).json()
    second = check(client, agent).json()
    assert (first["cached"], second["cached"]) == (False, True)
    assert len([p for p in esplora.paths() if p.startswith(f"/tx/{TXID}")]) == before + 1
    # Unknown transactions are asked again only when the tip moves; same tip, same answer.
    unknown = "ab" * 32
    assert check(client, agent, txid=unknown).json()["status"] == "not_found"
    assert check(client, agent, txid=unknown).json()["cached"] is True


def test_verify_rechecks_the_explorer_offline(client: TestClient, session: Session) -> None:
    agent = agent_headers(client, make_agent(session))
    body = check(client, agent, txid=BLOCK170_TX, verify="true").json()
    assert body["inclusion"]["verified"] is True
    assert body["inclusion"]["merkle_proof"] and body["inclusion"]["header_hash_and_work"]
    assert body["confirmations"] == 875_700 - 170 + 1
    # Pay-to-pubkey outputs have no address; the amounts are still shown.
    assert [t["amount"] for t in body["transfers"]] == ["10", "40"]


def test_labels_are_managed_by_risk_officers_and_shown_to_agents_only(
    client: TestClient, session: Session
) -> None:
    risk = agent_headers(client, make_agent(session, Role.RISK_OFFICER))
    agent = agent_headers(client, make_agent(session))
    payload = {
        "chain": "bitcoin",
        "address": TO_P2WPKH.upper(),
        "kind": "scam",
        "label": "Fake airdrop",
        "source": "user report #41",
        "note": "reported twice",
    }
    assert_problem(
        client.post(f"{API}/labels", json=payload, headers=agent), 403, "permission_denied"
    )
    response = client.post(f"{API}/labels", json=payload, headers=risk)
    assert response.status_code == 201, response.text
    label = response.json()
    assert label["address"] == TO_P2WPKH  # bech32 is stored lower case
    assert_problem(client.post(f"{API}/labels", json=payload, headers=risk), 409, "label_exists")
    assert_problem(
        client.post(f"{API}/labels", json={**payload, "kind": "friend"}, headers=risk),
        422,
        "validation_error",
    )
    assert_problem(
        client.post(f"{API}/labels", json={**payload, "address": "bc1qnotanaddress"}, headers=risk),
        422,
        "malformed_address",
    )

    transfers = check(client, agent).json()["transfers"]
    assert transfers[0]["label"] == {
        "kind": "scam",
        "label": "Fake airdrop",
        "source": "user report #41",
    }
    assert transfers[1]["label"] is None
    assert [entry["id"] for entry in client.get(f"{API}/labels", headers=agent).json()] == [
        label["id"]
    ]

    customer = make_customer(session)
    seen = check(client, customer_headers(customer)).json()["transfers"]
    assert [t["label"] for t in seen] == [None, None]

    updated = client.patch(f"{API}/labels/{label['id']}", json={"kind": "other"}, headers=risk)
    assert updated.json()["kind"] == "other"
    assert client.delete(f"{API}/labels/{label['id']}", headers=risk).status_code == 200
    assert client.get(f"{API}/labels", headers=agent).json() == []
    assert_problem(client.delete(f"{API}/labels/{label['id']}", headers=risk), 404, "not_found")


def test_own_addresses_only_for_the_customer(client: TestClient, session: Session) -> None:
    owner = make_customer(session)
    stranger = make_customer(session)
    records = [{"type": "deposit", "status": "credited", "amount": "0.17343523"}]
    client.app.state.chain_own_addresses = SetOwnAddresses(  # type: ignore[attr-defined]
        {(owner.external_id, "bitcoin"): [TO_P2WSH]}, {("bitcoin", TO_P2WSH): records}
    )
    mine = check(client, customer_headers(owner), expected_address=TO_P2WSH).json()
    assert [t["yours"] for t in mine["transfers"]] == [False, True]
    assert mine["expected"]["verdict"] == "received"
    theirs = check(client, customer_headers(stranger)).json()
    assert [t["yours"] for t in theirs["transfers"]] == [False, False]

    own = client.get(f"{API}/bitcoin/addresses/{TO_P2WSH}", headers=customer_headers(owner)).json()
    assert (own["yours"], own["account_records"], own["script_type"]) == (True, records, "p2wsh")
    # Someone else's address: public facts only, whoever asks.
    public = client.get(f"{API}/bitcoin/addresses/{TO_P2WSH}", headers=customer_headers(stranger))
    assert public.status_code == 200
    assert (public.json()["yours"], public.json()["account_records"], public.json()["label"]) == (
        False,
        [],
        None,
    )
    assert public.json()["explorer_links"] == []  # none configured for this test chain

    # An agent working the owner's ticket sees the owner's addresses marked.
    ticket = make_ticket(session, owner)
    agent = agent_headers(client, make_agent(session))
    via_ticket = check(client, agent, ticket_id=ticket.id).json()
    assert [t["yours"] for t in via_ticket["transfers"]] == [False, True]
    assert [t["yours"] for t in check(client, agent).json()["transfers"]] == [False, False]
    # A customer cannot borrow another customer's ticket.
    assert check(client, customer_headers(stranger), ticket_id=ticket.id).status_code == 404


def test_bad_input_gets_clear_problems(client: TestClient, session: Session) -> None:
    agent = agent_headers(client, make_agent(session))
    assert_problem(check(client, agent, txid="xyz"), 422, "malformed_txid")
    assert_problem(check(client, agent, txid="0x" + "ab" * 32), 422, "malformed_txid")
    assert_problem(check(client, agent, chain="dogecoin"), 404, "unknown_chain")
    assert_problem(check(client, agent, txid="a" * 101), 422, "validation_error")
    assert_problem(check(client, agent, expected_address="bc1qbad"), 422, "malformed_address")
    assert_problem(
        check(client, agent, expected_address="tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx"),
        422,
        "malformed_address",
    )
    assert_problem(check(client, agent, expected_amount="-1"), 422, "validation_error")
    testnet_p2pkh = "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"
    assert_problem(check(client, agent, expected_address=testnet_p2pkh), 422, "malformed_address")
    assert_problem(check(client, agent, chain="ethereum", txid="0x1234"), 422, "malformed_txid")
    # The caller's own language: a customer who reads Chinese gets the problem in Chinese.
    zh_customer = customer_headers(make_customer(session, language="zh-CN"))
    zh = check(client, zh_customer, chain="dogecoin")
    assert zh.status_code == 404 and zh.json()["title"] == "未配置链 dogecoin。"
    assert check(client, {}).status_code == 401


def test_unreachable_backends_are_503(client: TestClient, session: Session) -> None:
    agent = agent_headers(client, make_agent(session))
    assert_problem(check(client, agent, chain="bitcoin-down"), 503, "chain_backend_unavailable")
    assert_problem(check(client, agent, chain="bitcoin-busy"), 503, "chain_backend_rate_limited")
    assert_problem(
        check(client, agent, chain="polygon", txid="0x" + "ab" * 32),
        503,
        "chain_backend_not_configured",
    )


def test_ethereum_check_on_anvil(client: TestClient, session: Session, anvil: Anvil) -> None:
    alice, bob = anvil.rpc("eth_accounts")[:2]
    txhash = anvil.send(**{"from": alice, "to": bob, "value": hex(2 * 10**18)})
    anvil.mine(2)
    agent = agent_headers(client, make_agent(session))
    body = check(
        client,
        agent,
        chain="ethereum",
        txid=txhash.upper().replace("0X", "0x"),
        expected_address=bob,
        expected_amount="2",
    ).json()
    assert (body["status"], body["confirmations"]) == ("confirmed", 3)
    assert body["transfers"][0]["amount"] == "2" and body["transfers"][0]["asset"] == "ETH"
    assert body["expected"]["verdict"] == "received"
    assert body["explorer_links"] == [f"https://etherscan.io/tx/{txhash}"]


def test_offline_raw_transaction_and_merkle_proof(client: TestClient, session: Session) -> None:
    agent = agent_headers(client, make_agent(session))
    raw = (FIXTURES / "segwit_announcement_8f9079.hex").read_text().strip()
    body = client.post(
        f"{API}/bitcoin/raw-transactions/parse", json={"raw_hex": raw}, headers=agent
    ).json()
    assert body["txid"] == "8f907925d2ebe48765103e6845c06f1f2bb77c6adc1cc002865865eb5cfd5c1c"
    assert body["segwit"] is True and body["wtxid"] != body["txid"]
    assert body["outputs"][0] == {
        "index": 0,
        "amount": "0.00311",
        "address": "34rng4QwB5pHUbGDJw1JxjLwgEU8TQuEqv",
        "script_pubkey": "a91422c17a06117b40516f9826804800003562e834c987",
    }
    assert_problem(
        client.post(
            f"{API}/bitcoin/raw-transactions/parse", json={"raw_hex": raw[:-2]}, headers=agent
        ),
        422,
        "malformed_raw_transaction",
    )
    assert_problem(
        client.post(
            f"{API}/bitcoin/raw-transactions/parse", json={"raw_hex": "ab" * 40_000}, headers=agent
        ),
        413,
        "payload_too_large",
    )

    from tests.chain.test_btc import BLOCK_100000_HASH, BLOCK_100000_HEADER, BLOCK_100000_TXIDS

    proof = {
        "txid": BLOCK_100000_TXIDS[2],
        "merkle": btc.merkle_branch(BLOCK_100000_TXIDS, 2),
        "pos": 2,
        "header_hex": BLOCK_100000_HEADER,
    }
    ok = client.post(f"{API}/bitcoin/merkle-proofs/verify", json=proof, headers=agent).json()
    assert (
        ok["valid"] is True
        and ok["header"]["hash"] == BLOCK_100000_HASH
        and ok["header"]["meets_target"]
    )
    wrong = client.post(
        f"{API}/bitcoin/merkle-proofs/verify", json={**proof, "pos": 3}, headers=agent
    )
    assert wrong.json()["valid"] is False
    assert_problem(
        client.post(
            f"{API}/bitcoin/merkle-proofs/verify",
            json={**proof, "header_hex": "zz" * 80},
            headers=agent,
        ),
        422,
        "malformed_block_header",
    )


def test_signed_message_verification(client: TestClient, session: Session) -> None:
    agent = agent_headers(client, make_agent(session))
    from tests.chain.test_proofs import BIP322_HELLO, ETH_ADDRESS, ETH_SIGNATURE, P2WPKH

    def verify(**body: str) -> Any:
        return client.post(f"{API}/proofs/verify", json=body, headers=agent)

    good = verify(chain="bitcoin", address=P2WPKH, message="Hello World", signature=BIP322_HELLO)
    assert good.json() == {"valid": True, "format": "bip322"}
    bad = verify(chain="bitcoin", address=P2WPKH, message="Hello", signature=BIP322_HELLO)
    assert bad.json() == {"valid": False, "format": "bip322"}
    eth = verify(
        chain="ethereum", address=ETH_ADDRESS, message="Some data", signature=ETH_SIGNATURE
    )
    assert eth.json() == {"valid": True, "format": "eip191"}
    assert_problem(
        verify(chain="bitcoin", address=P2WPKH, message="x", signature="@@@"),
        422,
        "malformed_signature",
    )
    assert_problem(
        verify(chain="ethereum", address=ETH_ADDRESS, message="x", signature="0x12"),
        422,
        "malformed_signature",
    )
    assert_problem(
        verify(chain="bitcoin", address="nope", message="x", signature=BIP322_HELLO),
        422,
        "malformed_address",
    )
    assert_problem(
        verify(chain="bitcoin", address=P2WPKH, message="x" * 5000, signature=BIP322_HELLO),
        422,
        "validation_error",
    )


def _bip137_sign(key: PrivateKey, message: str) -> str:
    recoverable = key.sign_recoverable(proofs.bitcoin_message_hash(message.encode()), hasher=None)
    header = 31 + recoverable[64]  # compressed P2PKH
    return base64.b64encode(bytes([header]) + recoverable[:64]).decode()


def test_challenge_flow_bitcoin(client: TestClient, session: Session, engine: Any) -> None:
    agent = agent_headers(client, make_agent(session))
    key = PrivateKey()
    address = btc.base58check_encode(b"\x00" + btc.hash160(key.public_key.format()))
    customer = make_customer(session)
    ticket = make_ticket(session, customer)
    response = client.post(
        f"{API}/challenges",
        json={"chain": "bitcoin", "address": address, "ticket_id": ticket.id},
        headers=agent,
    )
    assert response.status_code == 201, response.text
    challenge = response.json()
    assert challenge["nonce"] in challenge["message"] and address in challenge["message"]
    assert "Expires:" in challenge["message"] and challenge["status"] == "open"

    answer = f"{API}/challenges/{challenge['id']}/answer"
    wrong = _bip137_sign(PrivateKey(), challenge["message"])
    assert_problem(
        client.post(answer, json={"signature": wrong}, headers=agent), 422, "signature_mismatch"
    )
    state = client.get(f"{API}/challenges/{challenge['id']}", headers=agent).json()
    assert (state["status"], state["failed_attempts"]) == ("open", 1)

    right = _bip137_sign(key, challenge["message"])
    verified = client.post(answer, json={"signature": right}, headers=agent)
    assert verified.status_code == 200, verified.text
    assert (verified.json()["status"], verified.json()["proof_format"]) == ("verified", "bip137")
    # Single use: the same answer again is refused.
    assert_problem(
        client.post(answer, json={"signature": right}, headers=agent), 409, "challenge_closed"
    )
    on_ticket = client.get(f"{API}/challenges", params={"ticket_id": ticket.id}, headers=agent)
    assert [(c["id"], c["status"]) for c in on_ticket.json()] == [(challenge["id"], "verified")]
    actions = [e.data for e in audit_entries(engine, action="chain.challenge_answered")]
    assert [a["verified"] for a in actions] == [False, True]

    # A signature over another message (e.g. an old challenge) proves nothing here.
    second = client.post(
        f"{API}/challenges", json={"chain": "bitcoin", "address": address}, headers=agent
    ).json()
    assert_problem(
        client.post(
            f"{API}/challenges/{second['id']}/answer", json={"signature": right}, headers=agent
        ),
        422,
        "signature_mismatch",
    )
    assert_problem(
        client.post(
            f"{API}/challenges/{second['id']}/answer", json={"signature": "!!"}, headers=agent
        ),
        422,
        "malformed_signature",
    )
    assert_problem(
        client.post(
            f"{API}/challenges",
            json={"chain": "bitcoin", "address": address, "ticket_id": "nope"},
            headers=agent,
        ),
        404,
        "not_found",
    )


def test_challenge_flow_ethereum_with_a_wallet_and_expiry(
    client: TestClient, session: Session, anvil: Anvil
) -> None:
    agent = agent_headers(client, make_agent(session))
    holder = anvil.rpc("eth_accounts")[4]
    challenge = client.post(
        f"{API}/challenges", json={"chain": "ethereum", "address": holder}, headers=agent
    ).json()
    # The node's unlocked account signs as a wallet does for personal_sign.
    signature = anvil.rpc("personal_sign", "0x" + challenge["message"].encode().hex(), holder)
    answer = client.post(
        f"{API}/challenges/{challenge['id']}/answer", json={"signature": signature}, headers=agent
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["proof_format"] == "eip191"

    late = client.post(
        f"{API}/challenges", json={"chain": "ethereum", "address": holder}, headers=agent
    ).json()
    clock.freeze(utcnow() + timedelta(hours=2))
    signature = anvil.rpc("personal_sign", "0x" + late["message"].encode().hex(), holder)
    assert_problem(
        client.post(
            f"{API}/challenges/{late['id']}/answer", json={"signature": signature}, headers=agent
        ),
        409,
        "challenge_expired",
    )


def test_three_wrong_answers_close_a_challenge(client: TestClient, session: Session) -> None:
    agent = agent_headers(client, make_agent(session))
    address = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    challenge = client.post(
        f"{API}/challenges", json={"chain": "bitcoin", "address": address}, headers=agent
    ).json()
    url = f"{API}/challenges/{challenge['id']}/answer"
    for _ in range(3):
        wrong = _bip137_sign(PrivateKey(), challenge["message"])
        assert_problem(
            client.post(url, json={"signature": wrong}, headers=agent), 422, "signature_mismatch"
        )
    assert (
        client.get(f"{API}/challenges/{challenge['id']}", headers=agent).json()["status"]
        == "failed"
    )
    assert_problem(
        client.post(url, json={"signature": wrong}, headers=agent), 409, "challenge_closed"
    )
    customer = make_customer(session)
    assert (
        client.post(
            f"{API}/challenges",
            json={"chain": "bitcoin", "address": address},
            headers=customer_headers(customer),
        ).status_code
        == 403
    )
    # A P2WSH (script) address cannot sign a simple message: refused before anyone tries.
    assert_problem(
        client.post(
            f"{API}/challenges", json={"chain": "bitcoin", "address": TO_P2WSH}, headers=agent
        ),
        422,
        "unsupported_proof_address",
    )


def test_token_transfer_and_revert_through_the_api(
    client: TestClient, session: Session, anvil: Anvil
) -> None:
    from tests.chain.test_evm import deploy_token, token_transfer

    alice, _bob, carol, dave = anvil.rpc("eth_accounts")[:4]
    token = deploy_token(anvil, alice)
    sent = token_transfer(anvil, token, alice, carol, 12_345_678)
    agent = agent_headers(client, make_agent(session))
    body = check(
        client,
        agent,
        chain="ethereum",
        txid=sent,
        expected_address=carol,
        expected_amount="12.345678",
        expected_asset="TUSD",
    ).json()
    assert body["status"] == "confirmed"
    assert [(t["kind"], t["amount"], t["asset"]) for t in body["transfers"]] == [
        ("token", "12.345678", "TUSD")
    ]
    assert body["expected"]["verdict"] == "received"
    # The same amount of another asset is not what was expected.
    eth_only = check(
        client, agent, chain="ethereum", txid=sent, expected_address=carol, expected_asset="ETH"
    ).json()
    assert eth_only["expected"]["verdict"] == "not_received"

    reverted = token_transfer(anvil, token, dave, carol, 5, gas=hex(100_000))
    failed = check(client, agent, chain="ethereum", txid=reverted, expected_address=carol).json()
    assert (failed["status"], failed["transfers"]) == ("failed", [])
    assert failed["expected"]["verdict"] == "not_received"
    assert failed["fee"] is not None
