"""Offline Bitcoin verification on real mainnet data: raw transactions to txid/wtxid, block
headers to hash and proof of work, merkle proofs, addresses."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kefu.chain import btc
from tests.chain.loopback import FIXTURES

# Block 100000 (mainnet): header and its four txids.
BLOCK_100000_HEADER = (
    "0100000050120119172a610421a6c3011dd330d9df07b63616c2cc1f1cd00200000000006657a9252aacd5c0b2"
    "940996ecff952228c3067cc38d4885efb5a4ac4247e9f337221b4d4c86041b0f2b5710"
)
BLOCK_100000_HASH = "000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506"
BLOCK_100000_TXIDS = [
    "8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87",
    "fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4",
    "6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4",
    "e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d",
]


def test_legacy_transaction_from_block_170() -> None:
    tx = btc.parse_transaction_hex((FIXTURES / "block170_f4184f.hex").read_text())
    assert tx.txid == "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"
    assert tx.wtxid == tx.txid and not tx.is_segwit
    assert [o.value_btc for o in tx.outputs] == [Decimal(10), Decimal(40)]
    assert tx.inputs[0].prev_txid == (
        "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9"
    )
    assert (tx.size, tx.weight) == (275, 1100)


def test_segwit_transaction_has_distinct_wtxid() -> None:
    """The BIP-141 announcement transaction (block 481824): P2SH-P2WPKH spend."""
    tx = btc.parse_transaction_hex((FIXTURES / "segwit_announcement_8f9079.hex").read_text())
    assert tx.is_segwit
    assert tx.txid == "8f907925d2ebe48765103e6845c06f1f2bb77c6adc1cc002865865eb5cfd5c1c"
    assert tx.wtxid != tx.txid
    assert tx.wtxid == btc.display(
        btc.hash256(bytes.fromhex((FIXTURES / "segwit_announcement_8f9079.hex").read_text()))
    )
    assert tx.outputs[0].value_sats == 311_000
    assert tx.outputs[0].address() == "34rng4QwB5pHUbGDJw1JxjLwgEU8TQuEqv"
    assert tx.outputs[1].script_pubkey[0] == 0x6A  # OP_RETURN "Hello SegWit"
    assert tx.vsize < tx.size


@pytest.mark.parametrize(
    "raw",
    ["", "zz", "0100000000", "01000000" + "01" + "00" * 10, "ab" * 400_001],
)
def test_malformed_transactions_are_refused(raw: str) -> None:
    with pytest.raises(btc.ParseError):
        btc.parse_transaction_hex(raw)


def test_trailing_bytes_are_refused() -> None:
    raw = (FIXTURES / "block170_f4184f.hex").read_text().strip() + "00"
    with pytest.raises(btc.ParseError):
        btc.parse_transaction_hex(raw)


def test_block_100000_header_and_merkle_proofs() -> None:
    header = btc.parse_header(bytes.fromhex(BLOCK_100000_HEADER))
    assert header.hash == BLOCK_100000_HASH
    assert header.meets_target
    assert btc.merkle_root(BLOCK_100000_TXIDS) == header.merkle_root
    for position, txid in enumerate(BLOCK_100000_TXIDS):
        branch = btc.merkle_branch(BLOCK_100000_TXIDS, position)
        assert btc.verify_merkle_proof(txid, branch, position, header.merkle_root)
        assert not btc.verify_merkle_proof(txid, branch, position ^ 1, header.merkle_root)
    # A txid that is not in the block does not verify with another's branch.
    branch = btc.merkle_branch(BLOCK_100000_TXIDS, 1)
    assert not btc.verify_merkle_proof("00" * 32, branch, 1, header.merkle_root)


def test_tampered_header_fails_proof_of_work() -> None:
    raw = bytearray(bytes.fromhex(BLOCK_100000_HEADER))
    raw[-1] ^= 1  # another nonce
    assert not btc.parse_header(bytes(raw)).meets_target
    with pytest.raises(btc.ParseError):
        btc.parse_header(bytes(raw[:79]))


def test_block_170_header_commits_to_its_two_transactions() -> None:
    header = btc.parse_header(
        bytes.fromhex((FIXTURES / "esplora/block_170_header.hex").read_text())
    )
    assert header.hash == "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee"
    assert header.meets_target
    coinbase = "b1fea52486ce0c62bb442b530a3f0132b826c74e473d1f2c220bfa78111c5082"
    txid = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"
    assert btc.verify_merkle_proof(txid, [coinbase], 1, header.merkle_root)


@pytest.mark.parametrize(
    ("address", "script"),
    [
        # BIP-173 / BIP-350 test vectors
        (
            "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
            "0014751e76e8199196d454941c45d1b3a323f1433bd6",
        ),
        (
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
            "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        ),
        (
            "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMH",
            "76a914751e76e8199196d454941c45d1b3a323f1433bd688ac",
        ),
        ("3JvL6Ymt8MVWiCNHC7oWU6nLeHNJKLZGLN", "a914bcfeb728b584253d5f3f70bcb780e9ef218a68f487"),
    ],
)
def test_addresses_round_trip(address: str, script: str) -> None:
    assert btc.address_to_script(address).hex() == script
    assert (
        btc.script_to_address(bytes.fromhex(script)) == address.lower()
        if address.startswith("BC1")
        else address
    )


@pytest.mark.parametrize(
    "address",
    [
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",  # bad checksum
        "BC1QW508d6QEJxTDG4y5R3ZARVARY0C5XW7KV8F3T4",  # mixed case
        "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",  # bech32 for v1
        "1BgGZ9tcN4rm9KBzDn7KprQz87SZ26SAMI",
        "",
    ],
)
def test_invalid_addresses(address: str) -> None:
    assert not btc.is_valid_address(address)
