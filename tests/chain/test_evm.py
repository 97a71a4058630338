"""The EVM adapter against a real local node (anvil): ETH and ERC-20 transfers, confirmations
growing as blocks are mined, pending transactions and a reverted one."""

from __future__ import annotations

import subprocess
import tempfile
from decimal import Decimal
from pathlib import Path

from kefu.chain.adapters import TxState
from kefu.chain.adapters.evm import EvmBackend
from kefu.chain.adapters.http import RetryingHttp
from tests.chain.conftest import REPO, Anvil

EVM = Path(__file__).parent / "fixtures/evm"
SUPPLY = 1_000_000 * 10**6  # TestToken has 6 decimals


def _word(value: int | str) -> str:
    if isinstance(value, str):
        value = int(value, 16)
    return f"{value:064x}"


def deploy_token(anvil: Anvil, owner: str) -> str:
    bytecode = (EVM / "TestToken.bin").read_text().strip()
    txhash = anvil.send(**{"from": owner, "data": "0x" + bytecode + _word(SUPPLY)})
    address = anvil.receipt(txhash)["contractAddress"]
    assert address
    return str(address).lower()


def token_transfer(anvil: Anvil, token: str, sender: str, to: str, units: int, **extra: str) -> str:
    data = "0xa9059cbb" + _word(to) + _word(units)
    return anvil.send(**{"from": sender, "to": token, "data": data, **extra})


def make_backend(anvil: Anvil) -> EvmBackend:
    return EvmBackend(RetryingHttp(anvil.url, retries=0))


def test_eth_transfer_and_confirmations(anvil: Anvil) -> None:
    alice, bob = anvil.rpc("eth_accounts")[:2]
    txhash = anvil.send(**{"from": alice, "to": bob, "value": hex(15 * 10**17)})
    backend = make_backend(anvil)
    tx = backend.get_transaction(txhash)
    assert tx is not None and tx.state == TxState.CONFIRMED
    assert [(t.kind, t.to_address, t.amount, t.asset) for t in tx.transfers] == [
        ("native", bob.lower(), Decimal("1.5"), "ETH")
    ]
    receipt = anvil.receipt(txhash)
    expected_fee = Decimal(int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16))
    assert tx.fee == expected_fee / Decimal(10) ** 18 and tx.fee > 0
    assert tx.block_time is not None
    assert tx.block_height is not None
    assert backend.tip_height() - tx.block_height + 1 == 1
    anvil.mine(5)
    assert backend.tip_height() - tx.block_height + 1 == 6


def test_erc20_transfer_is_decoded_with_decimals(anvil: Anvil) -> None:
    alice, _bob, carol = anvil.rpc("eth_accounts")[:3]
    token = deploy_token(anvil, alice)
    txhash = token_transfer(anvil, token, alice, carol, 12_345_678)
    tx = make_backend(anvil).get_transaction(txhash)
    assert tx is not None and tx.state == TxState.CONFIRMED
    assert [
        (t.kind, t.from_address, t.to_address, t.amount, t.asset, t.token_contract)
        for t in tx.transfers
    ] == [("token", alice.lower(), carol.lower(), Decimal("12.345678"), "TUSD", token)]


def test_reverted_transaction_is_failed(anvil: Anvil) -> None:
    alice, _bob, carol, dave = anvil.rpc("eth_accounts")[:4]
    token = deploy_token(anvil, alice)
    # Dave holds no tokens: the transfer reverts ("insufficient balance"). An explicit gas
    # limit skips estimation, which would refuse to send a reverting call.
    txhash = token_transfer(anvil, token, dave, carol, 5, gas=hex(100_000))
    assert anvil.receipt(txhash)["status"] == "0x0"
    tx = make_backend(anvil).get_transaction(txhash)
    assert tx is not None and tx.state == TxState.FAILED
    assert tx.transfers == ()  # a reverted call moved nothing
    assert tx.fee is not None and tx.fee > 0  # but the sender paid for the gas


def test_pending_then_mined(anvil: Anvil) -> None:
    alice, bob = anvil.rpc("eth_accounts")[:2]
    anvil.rpc("evm_setAutomine", False)
    try:
        txhash = anvil.send(wait=False, **{"from": alice, "to": bob, "value": hex(10**16)})
        backend = make_backend(anvil)
        pending = backend.get_transaction(txhash)
        assert pending is not None and pending.state == TxState.PENDING
        assert pending.block_height is None
        anvil.rpc("evm_mine")
    finally:
        anvil.rpc("evm_setAutomine", True)
    mined = backend.get_transaction(txhash)
    assert mined is not None and mined.state == TxState.CONFIRMED


def test_unknown_hash_is_none(anvil: Anvil) -> None:
    assert make_backend(anvil).get_transaction("0x" + "ab" * 32) is None


def test_committed_bytecode_matches_the_pinned_compiler() -> None:
    """TestToken.bin is what the pinned solc (tools/evm) makes of TestToken.sol."""
    solcjs = REPO / "tools/evm/node_modules/.bin/solcjs"
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [str(solcjs), "--bin", "--optimize", "-o", out, "TestToken.sol"],
            cwd=EVM,
            check=True,
            capture_output=True,
            timeout=120,
        )
        compiled = next(Path(out).glob("*TestToken.bin")).read_text().strip()
    assert compiled == (EVM / "TestToken.bin").read_text().strip()
