"""Bitcoin without a node: raw transactions (legacy and segwit) with their txid and wtxid,
block headers with their hash and proof of work, merkle inclusion proofs, and addresses
(Base58Check, BIP-173 bech32, BIP-350 bech32m).

Everything here is pure Python over bytes, so a support agent can check what a customer
pasted even when no explorer answers. Hex strings are shown in the usual display order
(byte-reversed hashes), as explorers print them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from Crypto.Hash import RIPEMD160

SATS_PER_BTC = Decimal(100_000_000)
# A standard transaction is at most 400 000 weight units; nothing bigger is worth parsing.
MAX_RAW_TX_BYTES = 400_000


class ParseError(ValueError):
    """Bytes that are not what they claim to be (a transaction, a header, an address)."""


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hash256(data: bytes) -> bytes:
    return sha256(sha256(data))


def hash160(data: bytes) -> bytes:
    return RIPEMD160.new(sha256(data)).digest()


def tagged_hash(tag: str, data: bytes) -> bytes:
    tag_digest = sha256(tag.encode())
    return sha256(tag_digest + tag_digest + data)


def display(digest: bytes) -> str:
    """A hash as explorers show it (reversed byte order)."""
    return digest[::-1].hex()


def from_display(text: str) -> bytes:
    return bytes.fromhex(text)[::-1]


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ParseError("truncated")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def u32(self) -> int:
        return int.from_bytes(self.take(4), "little")

    def u64(self) -> int:
        return int.from_bytes(self.take(8), "little")

    def varint(self) -> int:
        first = self.take(1)[0]
        if first < 0xFD:
            return first
        size = {0xFD: 2, 0xFE: 4, 0xFF: 8}[first]
        return int.from_bytes(self.take(size), "little")

    def var_bytes(self) -> bytes:
        return self.take(self.varint())


def varint(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


@dataclass(frozen=True)
class TxInput:
    prev_txid: str
    prev_vout: int
    script_sig: bytes
    sequence: int
    witness: tuple[bytes, ...]

    @property
    def is_coinbase(self) -> bool:
        return self.prev_txid == "00" * 32 and self.prev_vout == 0xFFFFFFFF


@dataclass(frozen=True)
class TxOutput:
    index: int
    value_sats: int
    script_pubkey: bytes

    @property
    def value_btc(self) -> Decimal:
        return Decimal(self.value_sats) / SATS_PER_BTC

    def address(self, hrp: str = "bc") -> str | None:
        return script_to_address(self.script_pubkey, hrp)


@dataclass(frozen=True)
class Transaction:
    version: int
    inputs: tuple[TxInput, ...]
    outputs: tuple[TxOutput, ...]
    locktime: int
    txid: str
    wtxid: str
    size: int
    weight: int

    @property
    def is_segwit(self) -> bool:
        return any(i.witness for i in self.inputs)

    @property
    def vsize(self) -> int:
        return (self.weight + 3) // 4


def parse_transaction(raw: bytes) -> Transaction:
    """Parses a serialized transaction (BIP-144 when it carries witnesses); the txid hashes
    the serialization without witnesses, the wtxid the full one."""
    if len(raw) > MAX_RAW_TX_BYTES:
        raise ParseError("too large")
    r = _Reader(raw)
    version = r.u32()
    segwit = raw[4:6] == b"\x00\x01"
    if segwit:
        r.take(2)
    n_in = r.varint()
    if n_in == 0 or n_in > len(raw) // 41:
        raise ParseError("bad input count")
    raw_inputs = []
    for _ in range(n_in):
        prev = r.take(32)
        vout = r.u32()
        script_sig = r.var_bytes()
        sequence = r.u32()
        raw_inputs.append((prev, vout, script_sig, sequence))
    n_out = r.varint()
    if n_out > len(raw) // 9:
        raise ParseError("bad output count")
    outputs = []
    for index in range(n_out):
        value = r.u64()
        outputs.append(TxOutput(index, value, r.var_bytes()))
    outputs_end = r.pos
    witnesses: list[tuple[bytes, ...]] = []
    if segwit:
        for _ in range(n_in):
            count = r.varint()
            if count > len(raw):
                raise ParseError("bad witness count")
            witnesses.append(tuple(r.var_bytes() for _ in range(count)))
    else:
        witnesses = [()] * n_in
    locktime = r.u32()
    if r.pos != len(raw):
        raise ParseError("trailing bytes")
    stripped = raw[:4] + raw[6:outputs_end] + raw[-4:] if segwit else raw
    inputs = tuple(
        TxInput(display(prev), vout, script_sig, sequence, witness)
        for (prev, vout, script_sig, sequence), witness in zip(raw_inputs, witnesses, strict=True)
    )
    return Transaction(
        version=version,
        inputs=inputs,
        outputs=tuple(outputs),
        locktime=locktime,
        txid=display(hash256(stripped)),
        wtxid=display(hash256(raw)),
        size=len(raw),
        weight=len(stripped) * 3 + len(raw),
    )


def parse_transaction_hex(text: str) -> Transaction:
    try:
        raw = bytes.fromhex(text.strip())
    except ValueError as exc:
        raise ParseError("not hex") from exc
    return parse_transaction(raw)


# --- block headers and merkle proofs ---------------------------------------------------------


@dataclass(frozen=True)
class BlockHeader:
    version: int
    prev_hash: str
    merkle_root: str
    time: int
    bits: int
    nonce: int
    hash: str

    @property
    def target(self) -> int:
        exponent, mantissa = self.bits >> 24, self.bits & 0x007FFFFF
        return (
            mantissa << (8 * (exponent - 3)) if exponent > 3 else mantissa >> (8 * (3 - exponent))
        )

    @property
    def meets_target(self) -> bool:
        """Proof of work: the header's hash, read as a number, is at most its target."""
        return self.target > 0 and int(self.hash, 16) <= self.target


def parse_header(raw: bytes) -> BlockHeader:
    if len(raw) != 80:
        raise ParseError("a block header has 80 bytes")
    r = _Reader(raw)
    return BlockHeader(
        version=r.u32(),
        prev_hash=display(r.take(32)),
        merkle_root=display(r.take(32)),
        time=r.u32(),
        bits=r.u32(),
        nonce=r.u32(),
        hash=display(hash256(raw)),
    )


def merkle_root(txids: list[str]) -> str:
    """The root of a block's transaction tree (Bitcoin duplicates the last node of odd rows)."""
    if not txids:
        raise ParseError("no transactions")
    level = [from_display(t) for t in txids]
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        level = [hash256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    return display(level[0])


def merkle_branch(txids: list[str], position: int) -> list[str]:
    """The sibling hashes from a transaction to the root (what Esplora's merkle-proof returns)."""
    level = [from_display(t) for t in txids]
    branch: list[str] = []
    while len(level) > 1:
        if len(level) % 2:
            level.append(level[-1])
        branch.append(display(level[position ^ 1]))
        level = [hash256(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
        position //= 2
    return branch


def verify_merkle_proof(txid: str, branch: list[str], position: int, root: str) -> bool:
    if position < 0 or len(branch) > 64:
        return False
    node = from_display(txid)
    for sibling_hex in branch:
        sibling = from_display(sibling_hex)
        node = hash256(sibling + node) if position & 1 else hash256(node + sibling)
        position >>= 1
    return position == 0 and display(node) == root


# --- addresses -------------------------------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58check_encode(payload: bytes) -> str:
    data = payload + hash256(payload)[:4]
    n = int.from_bytes(data, "big")
    out = ""
    while n:
        n, rem = divmod(n, 58)
        out = _B58[rem] + out
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + out


def base58check_decode(text: str) -> bytes:
    n = 0
    for ch in text:
        index = _B58.find(ch)
        if index < 0:
            raise ParseError("not base58")
        n = n * 58 + index
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    data = b"\0" * (len(text) - len(text.lstrip("1"))) + body
    if len(data) < 5 or hash256(data[:-4])[:4] != data[-4:]:
        raise ParseError("bad checksum")
    return data[:-4]


_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32M_CONST = 0x2BC830A3


def _polymod(values: list[int]) -> int:
    generators = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            chk ^= generators[i] if (top >> i) & 1 else 0
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convertbits(data: bytes | list[int], frombits: int, tobits: int, pad: bool) -> list[int]:
    acc = bits = 0
    out: list[int] = []
    maxv = (1 << tobits) - 1
    for value in data:
        if value >> frombits:
            raise ParseError("bad data")
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            out.append((acc >> bits) & maxv)
    if pad and bits:
        out.append((acc << (tobits - bits)) & maxv)
    elif not pad and (bits >= frombits or (acc << (tobits - bits)) & maxv):
        raise ParseError("bad padding")
    return out


def segwit_encode(hrp: str, version: int, program: bytes) -> str:
    data = [version, *_convertbits(program, 8, 5, True)]
    const = 1 if version == 0 else _BECH32M_CONST
    polymod = _polymod([*_hrp_expand(hrp), *data, 0, 0, 0, 0, 0, 0]) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(_BECH32[d] for d in data + checksum)


def segwit_decode(address: str) -> tuple[str, int, bytes]:
    """(hrp, witness version, program) of a BIP-173/BIP-350 address."""
    if address.lower() != address and address.upper() != address:
        raise ParseError("mixed case")
    address = address.lower()
    pos = address.rfind("1")
    if pos < 1 or pos + 7 > len(address) or len(address) > 90:
        raise ParseError("not bech32")
    hrp = address[:pos]
    try:
        data = [_BECH32.index(c) for c in address[pos + 1 :]]
    except ValueError as exc:
        raise ParseError("not bech32") from exc
    const = _polymod(_hrp_expand(hrp) + data)
    version = data[0]
    if const != (1 if version == 0 else _BECH32M_CONST):
        raise ParseError("bad checksum")
    program = bytes(_convertbits(data[1:-6], 5, 8, False))
    if version > 16 or not 2 <= len(program) <= 40:
        raise ParseError("bad program")
    if version == 0 and len(program) not in (20, 32):
        raise ParseError("bad program")
    return hrp, version, program


# Version bytes of Base58Check addresses: (P2PKH, P2SH) per network.
_BASE58_VERSIONS = {"bc": (0x00, 0x05), "tb": (0x6F, 0xC4), "bcrt": (0x6F, 0xC4)}


def address_to_script(address: str) -> bytes:
    """The scriptPubKey an address stands for; ParseError when it is no valid address."""
    if address[:3].lower() in ("bc1", "tb1") or address[:5].lower() == "bcrt1":
        _hrp, version, program = segwit_decode(address)
        op = 0 if version == 0 else 0x50 + version
        return bytes([op, len(program)]) + program
    payload = base58check_decode(address)
    if len(payload) != 21:
        raise ParseError("bad length")
    if payload[0] in (0x00, 0x6F):
        return b"\x76\xa9\x14" + payload[1:] + b"\x88\xac"
    if payload[0] in (0x05, 0xC4):
        return b"\xa9\x14" + payload[1:] + b"\x87"
    raise ParseError("unknown version")


def script_to_address(script: bytes, hrp: str = "bc") -> str | None:
    p2pkh, p2sh = _BASE58_VERSIONS.get(hrp, (0x00, 0x05))
    if len(script) == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return base58check_encode(bytes([p2pkh]) + script[3:23])
    if len(script) == 23 and script[:2] == b"\xa9\x14" and script[22] == 0x87:
        return base58check_encode(bytes([p2sh]) + script[2:22])
    if 4 <= len(script) <= 42 and script[1] == len(script) - 2:
        if script[0] == 0:
            return segwit_encode(hrp, 0, script[2:])
        if 0x51 <= script[0] <= 0x60:
            return segwit_encode(hrp, script[0] - 0x50, script[2:])
    return None


def is_valid_address(address: str) -> bool:
    try:
        address_to_script(address)
    except (ParseError, KeyError, IndexError):
        return False
    return True
