"""`kefu chain ...`: offline verification from the command line."""

from __future__ import annotations

from typer.testing import CliRunner

from kefu.chain import btc
from kefu.cli import app
from tests.chain.loopback import FIXTURES
from tests.chain.test_btc import BLOCK_100000_HEADER, BLOCK_100000_TXIDS
from tests.chain.test_proofs import BIP322_TAPROOT_HELLO, ETH_ADDRESS, ETH_SIGNATURE, P2TR


def test_parse_tx() -> None:
    raw = (FIXTURES / "segwit_announcement_8f9079.hex").read_text().strip()
    result = CliRunner().invoke(app, ["chain", "parse-tx", raw])
    assert result.exit_code == 0, result.output
    assert "txid  8f907925d2ebe48765103e6845c06f1f2bb77c6adc1cc002865865eb5cfd5c1c" in result.output
    assert "0.00311 BTC -> 34rng4QwB5pHUbGDJw1JxjLwgEU8TQuEqv" in result.output
    assert CliRunner().invoke(app, ["chain", "parse-tx", "00"]).exit_code == 1


def test_verify_merkle() -> None:
    branch = btc.merkle_branch(BLOCK_100000_TXIDS, 3)
    args = ["chain", "verify-merkle", BLOCK_100000_TXIDS[3], BLOCK_100000_HEADER]
    result = CliRunner().invoke(app, [*args, "3", *branch])
    assert result.exit_code == 0, result.output
    assert "IS in this block" in result.output
    assert CliRunner().invoke(app, [*args, "2", *branch]).exit_code == 1


def test_verify_message() -> None:
    ok = CliRunner().invoke(
        app, ["chain", "verify-message", P2TR, "Hello World", BIP322_TAPROOT_HELLO]
    )
    assert (ok.exit_code, ok.output.strip()) == (0, "bip322: valid")
    bad = CliRunner().invoke(app, ["chain", "verify-message", P2TR, "Hello", BIP322_TAPROOT_HELLO])
    assert bad.exit_code == 1
    eth = CliRunner().invoke(
        app, ["chain", "verify-message", "--evm", ETH_ADDRESS, "Some data", ETH_SIGNATURE]
    )
    assert eth.exit_code == 0, eth.output
    assert CliRunner().invoke(app, ["chain", "verify-message", P2TR, "x", "@@"]).exit_code == 2
