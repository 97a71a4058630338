"""The Bitcoin Core adapter against a loopback server speaking bitcoind's JSON-RPC wire format:
basic auth, `{"result", "error", "id"}` envelopes, HTTP 500/404 with RPC error codes, and
amounts as JSON numbers read as exact decimals."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from kefu.audit.service import Actor
from kefu.chain import service
from kefu.chain.adapters import BackendError, TxState
from kefu.chain.adapters.bitcoind import BitcoindBackend
from kefu.chain.adapters.http import RetryingHttp
from kefu.core.settings import ChainConfig, Settings
from tests.chain.loopback import Reply, Request, basic_auth, serve

TXID = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"
BLOCK170 = "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee"

# getrawtransaction f4184f... true, in bitcoind's field layout (block 170; amounts exact).
RAW_VERBOSE = """{
  "txid": "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16",
  "hash": "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16",
  "version": 1, "size": 275, "vsize": 275, "weight": 1100, "locktime": 0,
  "vin": [{"txid": "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9",
           "vout": 0, "scriptSig": {"asm": "", "hex": ""}, "sequence": 4294967295}],
  "vout": [
    {"value": 10.00000000, "n": 0, "scriptPubKey": {"asm": "", "hex": "", "type": "pubkey"}},
    {"value": 40.00000000, "n": 1, "scriptPubKey": {"asm": "", "hex": "", "type": "pubkey"}}
  ],
  "blockhash": "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee",
  "confirmations": 5, "time": 1231731025, "blocktime": 1231731025
}"""


def bitcoind(tip: int = 174) -> Callable[[Request], Reply]:
    def handle(request: Request) -> Reply:
        if basic_auth(request) != ("kefu", "s3cret"):
            return Reply(401, b"")  # bitcoind answers a bad password with an empty 401
        call = json.loads(request.body)
        rid = call["id"]
        method, params = call["method"], call["params"]
        if method == "getblockcount":
            return Reply(body={"result": tip, "error": None, "id": rid})
        if method == "getblockheader" and params[0] == BLOCK170:
            return Reply(
                body={"result": {"hash": BLOCK170, "height": 170}, "error": None, "id": rid}
            )
        if method == "getrawtransaction" and params[0] == TXID:
            body = '{"result": ' + RAW_VERBOSE + ', "error": null, "id": "' + rid + '"}'
            return Reply(200, body, {"Content-Type": "application/json"})
        if method == "getrawtransaction":
            error = {
                "code": -5,
                "message": "No such mempool or blockchain transaction. Use gettransaction for "
                "wallet transactions.",
            }
            return Reply(500, {"result": None, "error": error, "id": rid})
        return Reply(
            404,
            {"result": None, "error": {"code": -32601, "message": "Method not found"}, "id": rid},
        )

    return handle


def make(url: str, password: str = "s3cret") -> BitcoindBackend:
    http = RetryingHttp(url, auth=("kefu", password), retries=0)
    return BitcoindBackend(http)


def test_confirmed_transaction_with_exact_amounts() -> None:
    with serve(bitcoind()) as server:
        node = make(server.url)
        assert node.tip_height() == 174
        tx = node.get_transaction(TXID)
    assert tx is not None and tx.state == TxState.CONFIRMED
    assert tx.block_height == 170 and tx.block_hash == BLOCK170
    assert [t.amount for t in tx.transfers] == [Decimal("10.00000000"), Decimal("40.00000000")]
    assert tx.fee is None  # verbosity 1 carries no fee


def test_unknown_transaction_is_none() -> None:
    with serve(bitcoind()) as server:
        assert make(server.url).get_transaction("00" * 32) is None


def test_wrong_password_is_a_backend_error() -> None:
    with serve(bitcoind()) as server, pytest.raises(BackendError):
        make(server.url, password="wrong").tip_height()


def test_other_rpc_errors_surface() -> None:
    with serve(bitcoind()) as server, pytest.raises(BackendError) as caught:
        make(server.url).call("nosuchmethod")
    assert "-32601" in str(caught.value)


def test_check_through_the_service_with_a_bitcoind_backend(session: Session) -> None:
    with serve(bitcoind(tip=174)) as server:
        settings = Settings(
            database_url="sqlite://",
            chains={
                "btc-core": ChainConfig(
                    kind="bitcoind",
                    url=server.url,
                    rpc_user="kefu",
                    rpc_password="s3cret",
                    retries=0,
                    explorer_tx_urls=["https://mempool.space/tx/{txid}"],
                )
            },
        )
        viewer = service.Viewer(Actor.system(), internal=True)
        result = service.check_transaction(
            session, settings, "btc-core", TXID.upper(), viewer=viewer
        )
        missing = service.check_transaction(session, settings, "btc-core", "00" * 32, viewer=viewer)
    session.commit()
    assert (result.status, result.confirmations, result.block_height) == ("confirmed", 5, 170)
    assert [t.amount for t in result.transfers] == [Decimal(10), Decimal(40)]
    assert result.explorer_links == [f"https://mempool.space/tx/{TXID}"]
    assert missing.status == "not_found"
