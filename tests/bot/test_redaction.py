"""Secrets are recognised and masked; ordinary support text is left alone."""

from __future__ import annotations

import hashlib

import pytest

from kefu.bot.redaction import SecretKind, bip39_words, redact

SEED_12 = "legal winner thank year wave sausage worth useful legal winner thank yellow"
SEED_24 = (
    "abandon ability able about above absent absorb abstract absurd abuse access accident "
    "account accuse achieve acid acoustic acquire across act action actor actress actual"
)
# The well-known uncompressed WIF of private key 0x0C28FCA3…, and the compressed form.
WIF_UNCOMPRESSED = "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTJ"
WIF_COMPRESSED = "KwdMAjGmerYanjeui5SHS7JkmpZvVipYvB2LJGU1ZxJwYvP98617"
XPRV = (
    "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRN"
    "NU3TGtRBeJgk33yuGBxrMPHi"
)
VISA_TEST = "4111 1111 1111 1111"


def test_the_shipped_english_list_is_the_official_one() -> None:
    words = bip39_words("english")
    assert len(words) == 2048
    from importlib import resources

    raw = (resources.files("kefu.bot") / "data" / "bip39" / "english.txt").read_bytes()
    expected = "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"
    assert hashlib.sha256(raw).hexdigest() == expected
    assert len(bip39_words("chinese_simplified")) == 2048


@pytest.mark.parametrize(
    ("text", "kind", "secret"),
    [
        (f"my words: {SEED_12}", SecretKind.SEED_PHRASE, "sausage worth useful"),
        (f"助记词 {SEED_24} 帮我看看", SecretKind.SEED_PHRASE, "acoustic acquire"),
        (
            "1. legal 2. winner 3. thank 4. year 5. wave 6. sausage 7. worth 8. useful "
            "9. legal 10. winner 11. thank 12. yellow",
            SecretKind.SEED_PHRASE,
            "sausage",
        ),
        ("的 一 是 在 不 了 有 和 人 这 中 大 为 上", SecretKind.SEED_PHRASE, "的 一 是 在"),
        (f"here is my key {WIF_UNCOMPRESSED}", SecretKind.PRIVATE_KEY, WIF_UNCOMPRESSED),
        (f"{WIF_COMPRESSED} pls help", SecretKind.PRIVATE_KEY, WIF_COMPRESSED),
        (f"backup {XPRV}", SecretKind.PRIVATE_KEY, XPRV),
        ("私钥是 " + "ab" * 32, SecretKind.PRIVATE_KEY, "ab" * 32),
        ("my private key 0x" + "1f" * 32, SecretKind.PRIVATE_KEY, "1f" * 32),
        ("验证码是 583921", SecretKind.ONE_TIME_CODE, "583921"),
        ("the 2FA code is 104 233".replace(" 233", "233"), SecretKind.ONE_TIME_CODE, "104233"),
        (f"card {VISA_TEST} was charged", SecretKind.CARD_NUMBER, "4111 1111 1111 1111"),
        ("卡号5500-0000-0000-0004", SecretKind.CARD_NUMBER, "5500-0000-0000-0004"),
    ],
)
def test_secrets_are_masked(text: str, kind: SecretKind, secret: str) -> None:
    result = redact(text)
    assert kind in result.kinds
    assert secret not in result.text


def test_a_card_keeps_its_last_four_digits() -> None:
    assert "[card ****1111]" in redact(f"card {VISA_TEST}").text


@pytest.mark.parametrize(
    "text",
    [
        "I sent 0.5 BTC to my deposit address yesterday at 14:30",
        "please help, order 12345678 did not fill",  # no code word nearby
        "my phone is 13800138000",  # 11 digits, not Luhn-checked card length context
        "I have a question about the abandon fee and the able account",  # short BIP-39 run
        "我的充值没有到账怎么办呢我已经等了很久了真的很着急",  # Chinese prose, no separators
        "tx hash " + "ab" * 32,  # a transaction hash, said so
        "4111 1111 1111 1112 is not a valid card",  # fails Luhn
        "5HueCGU8rMjxEXxiPuD5BDku4MkFqeZyd4dZ1jvhTVqvbTLvyTK",  # WIF with a broken checksum
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    result = redact(text)
    assert result.text == text, result
    assert not result.found


def test_a_bare_64_hex_string_is_a_tx_hash_only_when_one_was_asked_for() -> None:
    bare = "cd" * 32
    assert redact(bare).kinds == [SecretKind.PRIVATE_KEY]
    assert redact(bare, expecting_tx_hash=True).text == bare
