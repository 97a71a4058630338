from __future__ import annotations

import pytest

from kefu.bot.language import detect


@pytest.mark.parametrize(
    ("text", "code", "reply"),
    [
        ("my deposit is missing", "en", "en"),
        ("我的充值没到账", "zh-CN", "zh-CN"),
        ("USDT充值没到", "zh-CN", "zh-CN"),  # mixed: Chinese carries the sentence
        ("hi, my BTC withdrawal is still pending, 谢谢", "en", "en"),
        ("入金されていません", "ja", None),
        ("мой депозит не пришел", "ru", None),
        ("입금이 안 됐어요", "ko", None),
        ("12345 !!!", "und", None),
    ],
)
def test_language_detection(text: str, code: str, reply: str | None) -> None:
    detected = detect(text)
    assert detected.code == code
    assert detected.reply_language == reply


@pytest.mark.parametrize("text", ["0x" + "5c" * 32, "ok", "https://example.com/tx/abc", "abc123"])
def test_hashes_links_and_tiny_words_decide_nothing(text: str) -> None:
    assert detect(text).reply_language is None
