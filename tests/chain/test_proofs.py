"""Address-control proofs against the specifications' and reference libraries' vectors."""

from __future__ import annotations

import base64

import pytest

from kefu.chain import proofs

# BIP-322 (bitcoin/bips bip-0322.mediawiki "Test vectors"; Bitcoin Core util_tests.cpp).
P2WPKH = "bc1q9vza2e8x573nczrlzms0wvx3gsqjx7vavgkx0l"
P2TR = "bc1ppv609nr0vr25u07u95waq5lucwfm6tde4nydujnu8npg4q75mr5sxq8lt3"
BIP322_EMPTY = (
    "AkcwRAIgM2gBAQqvZX15ZiysmKmQpDrG83avLIT492QBzLnQIxYCIBaTpOaD20qRlEylyxFSeEA2ba9YOixpX8z46TSDt"
    "S40ASECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI="
)
BIP322_HELLO = (
    "AkcwRAIgZRfIY3p7/DoVTty6YZbWS71bc5Vct9p9Fia83eRmw2QCICK/ENGfwLtptFluMGs2KsqoNSk89pO7F29zJLUx9"
    "a/sASECx/EgAxlkQpQ9hYjgGu6EBCPMVPwVIVJqO4XCsMvViHI="
)
BIP322_TAPROOT_HELLO = (
    "AUHd69PrJQEv+oKTfZ8l+WROBHuy9HKrbFCJu7U1iK2iiEy1vMU5EfMtjc+VSHM7aU0SDbak5IUZRVno2P5mjSafAQ=="
)

# BIP-137 vectors: bitcoinjs-message test/fixtures.json (key d=1, "vires is numeris") and its
# README (key L4rK1y..., "This is an example of a signed message.").
VIRES = "vires is numeris"
BIP137 = [
    (
        "16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM",
        VIRES,
        "G8JawPtQOrybrSP1WHQnQPr67B9S3qrxBrl1mlzoTJOSHEpmnF7D3+t+LX0Xei9J20B5AIdPbeL3AaTBZ4N3bY0=",
    ),
    (
        "1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs",
        VIRES,
        "H8JawPtQOrybrSP1WHQnQPr67B9S3qrxBrl1mlzoTJOSHEpmnF7D3+t+LX0Xei9J20B5AIdPbeL3AaTBZ4N3bY0=",
    ),
    (
        "3JvL6Ymt8MVWiCNHC7oWU6nLeHNJKLZGLN",
        VIRES,
        "JF8nHqFr3K2UKYahhX3soVeoW8W1ECNbr0wfck7lzyXjCS5Q16Ek45zyBuy1Fiy9sTPKVgsqqOuPvbycuVSSVl8=",
    ),
    (
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        VIRES,
        "KF8nHqFr3K2UKYahhX3soVeoW8W1ECNbr0wfck7lzyXjCS5Q16Ek45zyBuy1Fiy9sTPKVgsqqOuPvbycuVSSVl8=",
    ),
    (
        "1F3sAm6ZtwLAUnj7d38pGFxtP3RVEvtsbV",
        "This is an example of a signed message.",
        "H9L5yLFjti0QTHhPyFrZCT1V/MMnBtXKmoiKDZ78NDBjERki6ZTQZdSMCtkgoNmp17By9ItJr8o7ChX0XxY91nk=",
    ),
]

# EIP-191 personal_sign: web3.js / eth-account documented vector (key 0x4c0883a6...).
ETH_ADDRESS = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"
ETH_SIGNATURE = (
    "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2d"
    "a167c747ef045e5d18a5f5d4300f8e1a0291c"
)


def test_bip322_simple_vectors() -> None:
    assert proofs.verify_bip322_simple(P2WPKH, "", BIP322_EMPTY)
    assert proofs.verify_bip322_simple(P2WPKH, "Hello World", BIP322_HELLO)
    assert proofs.verify_bip322_simple(P2TR, "Hello World", BIP322_TAPROOT_HELLO)
    # The same signatures prove nothing about another message or address.
    assert not proofs.verify_bip322_simple(P2WPKH, "Hello World", BIP322_EMPTY)
    assert not proofs.verify_bip322_simple(P2WPKH, "Hello World!", BIP322_HELLO)
    assert not proofs.verify_bip322_simple(P2TR, "Hello World!", BIP322_TAPROOT_HELLO)
    other_p2tr = "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"
    assert not proofs.verify_bip322_simple(other_p2tr, "Hello World", BIP322_TAPROOT_HELLO)
    assert not proofs.verify_bip322_simple(
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "Hello World", BIP322_HELLO
    )


def test_bip322_message_hash_vectors() -> None:
    assert proofs.bip322_message_hash(b"").hex() == (
        "c90c269c4f8fcbe6880f72a721ddfbf1914268a794cbb21cfafee13770ae19f1"
    )
    assert proofs.bip322_message_hash(b"Hello World").hex() == (
        "f0eb03b1a75ac6d9847f55c624a99169b5dccba2a31f5b23bea77ba270de0a7a"
    )


@pytest.mark.parametrize(("address", "message", "signature"), BIP137)
def test_bip137_vectors(address: str, message: str, signature: str) -> None:
    assert proofs.verify_bip137(address, message, signature)
    assert not proofs.verify_bip137(address, message + ".", signature)
    valid, fmt = proofs.verify_bitcoin(address, message, signature)
    assert valid and fmt == proofs.ProofFormat.BIP137


def test_bip137_does_not_cross_verify() -> None:
    # Uncompressed-key header against the compressed key's address, and the reverse.
    assert not proofs.verify_bip137("16UwLL9Risc3QfPqBUvKofHmBQ7wMtjvM", VIRES, BIP137[1][2])
    assert not proofs.verify_bip137("1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs", VIRES, BIP137[0][2])
    assert not proofs.verify_bip137("1111111111111111111114oLvT2", VIRES, BIP137[1][2])


@pytest.mark.parametrize(
    "signature",
    [
        "not base64!",
        base64.b64encode(b"\x2b" + b"\x01" * 64).decode(),  # header 43: out of range
        base64.b64encode(b"\x1f" + b"\x01" * 60).decode(),  # too short
        "A" * 4000,
    ],
)
def test_malformed_bitcoin_signatures(signature: str) -> None:
    with pytest.raises(proofs.ProofError):
        proofs.verify_bip137("1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs", VIRES, signature)


def test_bip322_rejects_unsupported_address_types_and_garbage() -> None:
    with pytest.raises(proofs.ProofError):
        proofs.verify_bip322_simple("1PMycacnJaSqwwJqjawXBErnLsZ7RkXUAs", "x", BIP322_HELLO)
    with pytest.raises(proofs.ProofError):
        proofs.verify_bip322_simple(P2WPKH, "x", base64.b64encode(b"\x05\x01").decode())
    # A well-formed witness with a broken signature is simply not valid.
    broken = bytearray(base64.b64decode(BIP322_HELLO))
    broken[10] ^= 0xFF
    assert not proofs.verify_bip322_simple(P2WPKH, "Hello World", base64.b64encode(broken).decode())


def test_eip191_vector() -> None:
    assert proofs.personal_message_hash(b"Some data").hex() == (
        "1da44b586eb0729ff70a73c326926f6ed5a25f5b056e7f47fbc6e58d86871655"
    )
    assert proofs.recover_eip191("Some data", ETH_SIGNATURE) == ETH_ADDRESS
    assert proofs.verify_eip191(ETH_ADDRESS, "Some data", ETH_SIGNATURE)
    assert proofs.verify_eip191(ETH_ADDRESS.lower(), "Some data", ETH_SIGNATURE)
    assert not proofs.verify_eip191(ETH_ADDRESS, "Some data!", ETH_SIGNATURE)
    assert not proofs.verify_eip191(
        "0x7e5f4552091a69125d5dfcb7b8c2659029395bdf", "Some data", ETH_SIGNATURE
    )


def test_eip191_malformed_input() -> None:
    with pytest.raises(proofs.ProofError):
        proofs.verify_eip191(ETH_ADDRESS, "Some data", "0x1234")
    with pytest.raises(proofs.ProofError):
        proofs.verify_eip191(ETH_ADDRESS, "Some data", ETH_SIGNATURE[:-2] + "05")
    with pytest.raises(proofs.ProofError):  # a broken EIP-55 checksum
        proofs.verify_eip191(
            "0x2C7536E3605D9C16a7a3D7b1898e529396a65c23", "Some data", ETH_SIGNATURE
        )
    assert proofs.to_checksum_address(ETH_ADDRESS.lower()) == ETH_ADDRESS
