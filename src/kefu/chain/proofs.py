"""Address-control proofs: did the holder of this address sign this message?

- Bitcoin BIP-137 ("legacy" signed messages, as Bitcoin Core, Electrum and hardware wallets
  make them) for P2PKH, P2SH-P2WPKH and P2WPKH, the address type told by the header byte;
- BIP-322 "simple" signatures for segwit v0 (P2WPKH) and taproot (P2TR key path, BIP-340);
- Ethereum EIP-191 `personal_sign`.

Each verifier answers True or False for a well-formed signature and raises `ProofError` for
input that is no signature at all, so callers can tell "wrong signer" from "garbage".
"""

from __future__ import annotations

import base64
import binascii
import re
from enum import StrEnum

from coincurve import PublicKey, PublicKeyXOnly
from Crypto.Hash import keccak

from kefu.chain import btc

MAX_MESSAGE_BYTES = 4096
MAX_SIGNATURE_CHARS = 2048


class ProofError(ValueError):
    """The signature or address is malformed (not merely from someone else)."""


class ProofFormat(StrEnum):
    BIP137 = "bip137"
    BIP322 = "bip322"
    EIP191 = "eip191"


# --- Bitcoin: BIP-137 ------------------------------------------------------------------------


def bitcoin_message_hash(message: bytes) -> bytes:
    prefix = b"\x18Bitcoin Signed Message:\n"
    return btc.hash256(prefix + btc.varint(len(message)) + message)


def _b64(signature: str) -> bytes:
    if len(signature) > MAX_SIGNATURE_CHARS:
        raise ProofError("signature too long")
    try:
        return base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProofError("signature is not base64") from exc


def _recover(sig64: bytes, recid: int, digest: bytes) -> PublicKey | None:
    try:
        return PublicKey.from_signature_and_message(sig64 + bytes([recid]), digest, hasher=None)
    except Exception:  # libsecp256k1 refuses: no key recovers from this signature
        return None


def verify_bip137(address: str, message: str, signature: str) -> bool:
    raw = _b64(signature)
    if len(raw) != 65:
        raise ProofError("a BIP-137 signature has 65 bytes")
    header = raw[0]
    if not 27 <= header <= 42:
        raise ProofError("unknown BIP-137 header byte")
    try:
        script = btc.address_to_script(address)
    except (btc.ParseError, KeyError, IndexError) as exc:
        raise ProofError("not a Bitcoin address") from exc
    key = _recover(raw[1:], (header - 27) & 3, bitcoin_message_hash(message.encode()))
    if key is None:
        return False
    if header < 31:
        candidates = [_p2pkh(key.format(compressed=False))]
    else:
        compressed = key.format(compressed=True)
        by_header = {
            0: [_p2pkh(compressed)],
            1: [_p2sh_p2wpkh(compressed)],
            2: [_p2wpkh(compressed)],
        }[(header - 31) // 4]
        # Electrum and others sign segwit addresses with the compressed-P2PKH header (31-34);
        # the key still decides, so those signatures are accepted for the same key's segwit
        # addresses too.
        candidates = by_header
        if header < 35:
            candidates = [*by_header, _p2sh_p2wpkh(compressed), _p2wpkh(compressed)]
    return script in candidates


def _p2pkh(pubkey: bytes) -> bytes:
    return b"\x76\xa9\x14" + btc.hash160(pubkey) + b"\x88\xac"


def _p2wpkh(pubkey: bytes) -> bytes:
    return b"\x00\x14" + btc.hash160(pubkey)


def _p2sh_p2wpkh(pubkey: bytes) -> bytes:
    return b"\xa9\x14" + btc.hash160(_p2wpkh(pubkey)) + b"\x87"


# --- Bitcoin: BIP-322 simple -----------------------------------------------------------------


def bip322_message_hash(message: bytes) -> bytes:
    return btc.tagged_hash("BIP0322-signed-message", message)


def _to_spend_txid(script_pubkey: bytes, message: bytes) -> bytes:
    """The virtual transaction whose only output the proof spends (BIP-322)."""
    script_sig = b"\x00\x20" + bip322_message_hash(message)
    tx = (
        (0).to_bytes(4, "little")
        + b"\x01"
        + b"\x00" * 32
        + (0xFFFFFFFF).to_bytes(4, "little")
        + btc.varint(len(script_sig))
        + script_sig
        + (0).to_bytes(4, "little")
        + b"\x01"
        + (0).to_bytes(8, "little")
        + btc.varint(len(script_pubkey))
        + script_pubkey
        + (0).to_bytes(4, "little")
    )
    return btc.hash256(tx)


def _parse_witness(raw: bytes) -> list[bytes]:
    reader = btc._Reader(raw)
    try:
        count = reader.varint()
        if count > 16:
            raise ProofError("too many witness items")
        items = [reader.var_bytes() for _ in range(count)]
    except btc.ParseError as exc:
        raise ProofError("not a BIP-322 witness") from exc
    if reader.pos != len(raw):
        raise ProofError("trailing bytes after the witness")
    return items


_OP_RETURN_OUTPUT = (0).to_bytes(8, "little") + b"\x01\x6a"


def verify_bip322_simple(address: str, message: str, signature: str) -> bool:
    try:
        script = btc.address_to_script(address)
    except (btc.ParseError, KeyError, IndexError) as exc:
        raise ProofError("not a Bitcoin address") from exc
    witness = _parse_witness(_b64(signature))
    prev_txid = _to_spend_txid(script, message.encode())
    outpoint = prev_txid + (0).to_bytes(4, "little")
    sequence = (0).to_bytes(4, "little")
    version = locktime = (0).to_bytes(4, "little")
    amount = (0).to_bytes(8, "little")
    if script[:2] == b"\x00\x14":
        if len(witness) != 2 or len(witness[1]) != 33 or not witness[0]:
            return False
        signature_der, hash_type, pubkey = witness[0][:-1], witness[0][-1], witness[1]
        if hash_type != 0x01 or btc.hash160(pubkey) != script[2:]:
            return False
        script_code = b"\x19\x76\xa9\x14" + script[2:] + b"\x88\xac"
        preimage = (
            version
            + btc.hash256(outpoint)
            + btc.hash256(sequence)
            + outpoint
            + script_code
            + amount
            + sequence
            + btc.hash256(_OP_RETURN_OUTPUT)
            + locktime
            + (1).to_bytes(4, "little")
        )
        try:
            return PublicKey(pubkey).verify(signature_der, btc.hash256(preimage), hasher=None)
        except Exception:  # a malformed DER signature or public key: not a valid proof
            return False
    if script[:2] == b"\x51\x20":
        if len(witness) != 1 or len(witness[0]) not in (64, 65):
            return False
        sig = witness[0]
        hash_type = sig[64] if len(sig) == 65 else 0
        if hash_type not in (0x00, 0x01) or (len(sig) == 65 and hash_type == 0):
            return False
        spk = btc.varint(len(script)) + script
        sig_msg = (
            bytes([hash_type])
            + version
            + locktime
            + btc.sha256(outpoint)
            + btc.sha256(amount)
            + btc.sha256(spk)
            + btc.sha256(sequence)
            + btc.sha256(_OP_RETURN_OUTPUT)
            + b"\x00"
            + (0).to_bytes(4, "little")
        )
        digest = btc.tagged_hash("TapSighash", b"\x00" + sig_msg)
        try:
            return bool(PublicKeyXOnly(script[2:]).verify(sig[:64], digest))
        except Exception:  # not a point on the curve
            return False
    raise ProofError("BIP-322 simple covers P2WPKH and P2TR addresses")


def verify_bitcoin(address: str, message: str, signature: str) -> tuple[bool, ProofFormat]:
    """Tells the format apart: a BIP-137 signature is exactly 65 bytes with a header byte in
    27..42; anything else is read as a BIP-322 simple witness."""
    raw = _b64(signature)
    if len(raw) == 65 and 27 <= raw[0] <= 42:
        return verify_bip137(address, message, signature), ProofFormat.BIP137
    return verify_bip322_simple(address, message, signature), ProofFormat.BIP322


# --- Ethereum: EIP-191 personal_sign ---------------------------------------------------------

_ETH_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def keccak256(data: bytes) -> bytes:
    return keccak.new(digest_bits=256, data=data).digest()


def to_checksum_address(address: str) -> str:
    """EIP-55 mixed-case checksum encoding."""
    lower = address.lower().removeprefix("0x")
    digest = keccak256(lower.encode()).hex()
    return "0x" + "".join(
        c.upper() if int(d, 16) >= 8 else c for c, d in zip(lower, digest[:40], strict=True)
    )


def is_eth_address(address: str) -> bool:
    if not _ETH_ADDRESS.match(address):
        return False
    body = address[2:]
    if body.lower() == body or body.upper() == body:
        return True
    return to_checksum_address(address) == address


def personal_message_hash(message: bytes) -> bytes:
    return keccak256(b"\x19Ethereum Signed Message:\n" + str(len(message)).encode() + message)


def recover_eip191(message: str, signature: str) -> str | None:
    text = signature.strip().removeprefix("0x")
    if len(text) != 130:
        raise ProofError("an EIP-191 signature has 65 bytes")
    try:
        raw = bytes.fromhex(text)
    except ValueError as exc:
        raise ProofError("signature is not hex") from exc
    v = raw[64]
    if v in (27, 28):
        v -= 27
    if v not in (0, 1):
        raise ProofError("bad recovery id")
    key = _recover(raw[:64], v, personal_message_hash(message.encode()))
    if key is None:
        return None
    return to_checksum_address("0x" + keccak256(key.format(compressed=False)[1:])[-20:].hex())


def verify_eip191(address: str, message: str, signature: str) -> bool:
    if not is_eth_address(address):
        raise ProofError("not an Ethereum address")
    recovered = recover_eip191(message, signature)
    return recovered is not None and recovered.lower() == address.lower()
