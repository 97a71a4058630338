"""Secrets masked on arrival, before anything is stored or logged.

Customers paste things no one should ever see: recovery (seed) phrases, private keys,
one-time codes, card numbers. kefu masks them before the message is written anywhere and
tells the customer, in their language, never to share them. What counts:

- seed phrase: a run of 12 or more words from the BIP-39 English list (separators, commas
  and numbering between them allowed), or 12 or more single Chinese BIP-39 words separated
  by spaces or commas (plain Chinese prose is made of the same common characters, so runs
  without separators are not taken);
- private key: an extended private key (xprv, tprv, yprv, zprv, uprv, vprv), a WIF key
  (base58check, version 0x80 or 0xEF: 5…, K…, L…, 9…, c…) whose checksum holds, or 64 hex
  digits. 64 hex digits are also what a transaction hash looks like, so they are kept when
  the bot has just asked for a transaction hash or the words around them say it is one
  (tx, txid, hash, 哈希, 交易), and always masked when the words say "private key" / 私钥;
- one-time code: 4 to 8 digits within a few words of code, OTP, 2FA, verification,
  authenticator, 验证码, 动态码, 校验码;
- card number: 13 to 19 digits (spaces or dashes allowed) that pass the Luhn check; the last
  four digits are kept so the customer and an agent can still tell which card is meant.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from importlib import resources

SEED_MIN_WORDS = 12


class SecretKind(StrEnum):
    SEED_PHRASE = "seed_phrase"
    PRIVATE_KEY = "private_key"
    ONE_TIME_CODE = "one_time_code"
    CARD_NUMBER = "card_number"


MASKS = {
    SecretKind.SEED_PHRASE: "[seed phrase removed]",
    SecretKind.PRIVATE_KEY: "[private key removed]",
    SecretKind.ONE_TIME_CODE: "[code removed]",
}


@dataclass(frozen=True)
class Redacted:
    text: str
    kinds: list[SecretKind] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return bool(self.kinds)


@lru_cache
def bip39_words(language: str = "english") -> frozenset[str]:
    data = resources.files("kefu.bot") / "data" / "bip39" / f"{language}.txt"
    return frozenset(w.strip() for w in data.read_text(encoding="utf-8").splitlines() if w.strip())


_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {c: i for i, c in enumerate(_BASE58)}

_EXTENDED_KEY = re.compile(r"\b[xtyzuv]prv[1-9A-HJ-NP-Za-km-z]{90,115}\b")
_WIF = re.compile(
    r"(?<![1-9A-HJ-NP-Za-km-z])[5KL9c][1-9A-HJ-NP-Za-km-z]{50,51}(?![1-9A-HJ-NP-Za-km-z])"
)
_HEX64 = re.compile(r"(?<![0-9a-fA-F])(?:0x)?[0-9a-fA-F]{64}(?![0-9a-fA-F])")
_KEY_WORDS = re.compile(r"private\s*key|priv\s*key|secret\s*key|私钥|密钥", re.IGNORECASE)
_TX_WORDS = re.compile(r"\btx\b|txid|tx\s*hash|hash|transaction|交易|哈希|txhash", re.IGNORECASE)
_CODE_WORDS = re.compile(
    r"code|otp|2fa|verification|authenticator|\bpin\b|验证码|动态码|校验码|谷歌验证|短信",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"(?<!\d)\d{4,8}(?!\d)")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_SEED_GAP = re.compile(r"^[\s,.;:\-–—_/|\d)(]*$")
_HAN_SEED = re.compile(r"(?:[\u4e00-\u9fff][\s,，、]+){11,}[\u4e00-\u9fff]")


def _base58check_ok(text: str) -> bytes | None:
    number = 0
    for char in text:
        number = number * 58 + _BASE58_INDEX[char]
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    raw = b"\x00" * (len(text) - len(text.lstrip("1"))) + raw
    if len(raw) < 5:
        return None
    payload, checksum = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != checksum:
        return None
    return payload


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _seed_spans(text: str) -> list[tuple[int, int]]:
    words = bip39_words("english")
    spans: list[tuple[int, int]] = []
    run: list[re.Match[str]] = []

    def close() -> None:
        if len(run) >= SEED_MIN_WORDS:
            spans.append((run[0].start(), run[-1].end()))
        run.clear()

    for match in _LATIN_WORD.finditer(text):
        gap_ok = not run or _SEED_GAP.match(text[run[-1].end() : match.start()]) is not None
        if match.group().lower() in words and gap_ok:
            run.append(match)
        else:
            close()
            if match.group().lower() in words:
                run.append(match)
    close()
    chinese = bip39_words("chinese_simplified") | bip39_words("chinese_traditional")
    for match in _HAN_SEED.finditer(text):
        characters = [c for c in match.group() if "\u4e00" <= c <= "\u9fff"]
        if len(characters) >= SEED_MIN_WORDS and all(c in chinese for c in characters):
            spans.append((match.start(), match.end()))
    return spans


def _near(pattern: re.Pattern[str], text: str, start: int, end: int, window: int = 24) -> bool:
    return pattern.search(text[max(0, start - window) : end + window]) is not None


def redact(text: str, *, expecting_tx_hash: bool = False) -> Redacted:
    """The text with every secret masked, and which kinds were found (in order of kind)."""
    replacements: list[tuple[int, int, str, SecretKind]] = []

    def add(start: int, end: int, mask: str, kind: SecretKind) -> None:
        if any(s < end and start < e for s, e, _, _ in replacements):
            return
        replacements.append((start, end, mask, kind))

    for start, end in _seed_spans(text):
        add(start, end, MASKS[SecretKind.SEED_PHRASE], SecretKind.SEED_PHRASE)
    for match in _EXTENDED_KEY.finditer(text):
        add(match.start(), match.end(), MASKS[SecretKind.PRIVATE_KEY], SecretKind.PRIVATE_KEY)
    for match in _WIF.finditer(text):
        payload = _base58check_ok(match.group())
        if payload is not None and payload[0] in (0x80, 0xEF) and len(payload) in (33, 34):
            add(match.start(), match.end(), MASKS[SecretKind.PRIVATE_KEY], SecretKind.PRIVATE_KEY)
    for match in _HEX64.finditer(text):
        start, end = match.span()
        says_key = _near(_KEY_WORDS, text, start, end, window=40)
        says_tx = expecting_tx_hash or _near(_TX_WORDS, text, start, end, window=40)
        if says_key or not says_tx:
            add(start, end, MASKS[SecretKind.PRIVATE_KEY], SecretKind.PRIVATE_KEY)
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and _luhn_ok(digits):
            add(match.start(), match.end(), f"[card ****{digits[-4:]}]", SecretKind.CARD_NUMBER)
    for match in _DIGITS.finditer(text):
        if _near(_CODE_WORDS, text, match.start(), match.end()):
            add(
                match.start(),
                match.end(),
                MASKS[SecretKind.ONE_TIME_CODE],
                SecretKind.ONE_TIME_CODE,
            )
    if not replacements:
        return Redacted(text)
    out, last = [], 0
    for start, end, mask, _ in sorted(replacements):
        out.append(text[last:start])
        out.append(mask)
        last = end
    out.append(text[last:])
    kinds = sorted({kind for *_, kind in replacements}, key=list(SecretKind).index)
    return Redacted("".join(out), kinds)
