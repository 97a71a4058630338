"""Which language a customer wrote in, by a documented script-ratio rule (no model needed).

Chinese and English — the two languages kefu answers in — are told apart by script:
Han characters against Latin letters. Each Han character counts as much as a whole Latin
word (about five letters), because one Han character carries about as much meaning as an
English word; so "USDT充值没到" is Chinese, while "my USDT deposit 没到" is English. Other
scripts give a best guess (ja, ko, ru, ar, th, he, el, hi) which the bot records but answers
in the customer's own language. Latin text is taken as English: telling English from other
Latin-script languages reliably needs a model, and the reply language falls back to the
customer's setting anyway. Words with digits (hashes, addresses, codes), URLs and e-mail
addresses are ignored, and too little evidence (fewer than four Latin letters, no Han
character) decides nothing, so a pasted transaction hash or an "ok" keeps the conversation's
language.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

LATIN_LETTERS_PER_HAN = 5
# Less evidence than this (in Latin letters) decides nothing: "ok" does not make a Chinese
# conversation English.
MIN_EVIDENCE = 4
# Hashes, addresses, codes, URLs and e-mail addresses say nothing about the language.
# So do the masks redaction leaves ("[seed phrase removed]").
_NOT_WORDS = re.compile(r"https?://\S+|\S+@\S+|\b\w*\d\w*\b|\[[^\]]{0,40}\]", re.ASCII)

# Unicode name prefixes of scripts we can name, and the language each most likely means.
_SCRIPTS = (
    ("HIRAGANA", "ja"),
    ("KATAKANA", "ja"),
    ("HANGUL", "ko"),
    ("CYRILLIC", "ru"),
    ("ARABIC", "ar"),
    ("THAI", "th"),
    ("HEBREW", "he"),
    ("GREEK", "el"),
    ("DEVANAGARI", "hi"),
)


@dataclass(frozen=True)
class DetectedLanguage:
    code: str  # best guess, a BCP 47 tag: zh-CN, en, ja, ko, ru, ... or "und"
    reply_language: str | None  # zh-CN or en when we can answer in it, else None


def _is_han(char: str) -> bool:
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0x20000 <= code <= 0x2A6DF
        or 0xF900 <= code <= 0xFAFF
    )


def detect(text: str) -> DetectedLanguage:
    text = _NOT_WORDS.sub(" ", text)
    han = latin = 0
    others: dict[str, int] = {}
    for char in text:
        if _is_han(char):
            han += 1
        elif char.isascii():
            if char.isalpha():
                latin += 1
        elif char.isalpha():
            name = unicodedata.name(char, "")
            if name.startswith("LATIN"):
                latin += 1
                continue
            for prefix, language in _SCRIPTS:
                if name.startswith(prefix):
                    others[language] = others.get(language, 0) + 1
                    break
    if others.get("ja"):  # kana beside Han characters means Japanese
        return DetectedLanguage("ja", None)
    weighted = {"zh-CN": han * LATIN_LETTERS_PER_HAN, "en": latin}
    for language, count in others.items():
        weighted[language] = count
    best = max(weighted, key=lambda k: weighted[k])
    if weighted[best] < MIN_EVIDENCE:
        return DetectedLanguage("und", None)
    return DetectedLanguage(best, best if best in ("zh-CN", "en") else None)
