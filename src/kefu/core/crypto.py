"""Encryption of data kept at rest (TOTP seeds, ID documents) with AES-256-GCM.

A sealed value is `version | key id | nonce | ciphertext+tag`. The key id (4 bytes of the
key's SHA-256) lets a deployment rotate keys: new data is sealed with the current key and
old data still opens with a key listed in `data_encryption_old_keys`. The associated data
binds a ciphertext to its place (say, the document id), so a value copied into another row
does not open there.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from kefu.core.errors import KefuError
from kefu.core.i18n import N_
from kefu.core.settings import Settings

_VERSION = b"\x01"
_NONCE_BYTES = 12


class DecryptionFailed(KefuError):
    status = 500
    code = "decryption_failed"
    message = N_("Stored data could not be decrypted with the configured keys.")


class InvalidEncryptionKey(ValueError):
    """The configured key is not 32 bytes of URL-safe base64."""


def _decode_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise InvalidEncryptionKey("data encryption key is not URL-safe base64") from exc
    if len(key) != 32:
        raise InvalidEncryptionKey("data encryption key must decode to 32 bytes")
    return key


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:4]


def generate_key() -> str:
    """A fresh key in the form the settings expect."""
    return base64.urlsafe_b64encode(os.urandom(32)).decode("ascii")


class Sealer:
    """Seals with the current key; opens with the current or any older key."""

    def __init__(self, current_key: str, old_keys: Iterable[str] = ()) -> None:
        current = _decode_key(current_key)
        self._current_id = _key_id(current)
        self._current = AESGCM(current)
        self._keys = {self._current_id: self._current}
        for text in old_keys:
            key = _decode_key(text)
            self._keys.setdefault(_key_id(key), AESGCM(key))

    def seal(self, plaintext: bytes, associated_data: bytes = b"") -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = self._current.encrypt(nonce, plaintext, associated_data)
        return _VERSION + self._current_id + nonce + ciphertext

    def open(self, sealed: bytes, associated_data: bytes = b"") -> bytes:
        if len(sealed) < 1 + 4 + _NONCE_BYTES + 16 or sealed[:1] != _VERSION:
            raise DecryptionFailed()
        key = self._keys.get(sealed[1:5])
        if key is None:
            raise DecryptionFailed()
        nonce = sealed[5 : 5 + _NONCE_BYTES]
        try:
            return key.decrypt(nonce, sealed[5 + _NONCE_BYTES :], associated_data)
        except InvalidTag as exc:
            raise DecryptionFailed() from exc


def sealer_for(settings: Settings) -> Sealer:
    return Sealer(settings.data_encryption_key, settings.data_encryption_old_keys)
