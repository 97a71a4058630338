"""Data sealed at rest opens only with the right key and the right associated data."""

from __future__ import annotations

import pytest

from kefu.core.crypto import DecryptionFailed, InvalidEncryptionKey, Sealer, generate_key


def test_sealed_data_round_trips_and_hides_the_plaintext() -> None:
    sealer = Sealer(generate_key())
    sealed = sealer.seal(b"JBSWY3DPEHPK3PXP", b"agent:1")
    assert b"JBSWY3DPEHPK3PXP" not in sealed
    assert sealer.open(sealed, b"agent:1") == b"JBSWY3DPEHPK3PXP"
    assert sealer.seal(b"same", b"") != sealer.seal(b"same", b""), "nonces must differ"


def test_other_associated_data_or_tampering_is_refused() -> None:
    sealer = Sealer(generate_key())
    sealed = sealer.seal(b"secret", b"document:1")
    with pytest.raises(DecryptionFailed):
        sealer.open(sealed, b"document:2")
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(DecryptionFailed):
        sealer.open(tampered, b"document:1")
    with pytest.raises(DecryptionFailed):
        sealer.open(b"\x01short", b"document:1")


def test_rotated_keys_still_open_old_data_and_unknown_keys_do_not() -> None:
    old, new = generate_key(), generate_key()
    sealed_with_old = Sealer(old).seal(b"seed")
    assert Sealer(new, [old]).open(sealed_with_old) == b"seed"
    with pytest.raises(DecryptionFailed):
        Sealer(new).open(sealed_with_old)


@pytest.mark.parametrize("key", ["not base64 !", "c2hvcnQ="])
def test_bad_keys_are_refused_at_start(key: str) -> None:
    with pytest.raises(InvalidEncryptionKey):
        Sealer(key)


def test_keygen_prints_a_usable_key() -> None:
    from typer.testing import CliRunner

    from kefu.cli import app

    result = CliRunner().invoke(app, ["keygen"])
    assert result.exit_code == 0
    Sealer(result.output.strip()).seal(b"ok")
