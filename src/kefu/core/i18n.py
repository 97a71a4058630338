"""Translations with Babel: zh-CN and en catalogues shipped in `kefu/locale`.

The language of a request comes from the user's own setting when we know the user, else
from Accept-Language, else the configured default. Services mark texts with `_()` (lazy:
translated when rendered) and render them with `translate()`.
"""

from __future__ import annotations

from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.support import NullTranslations, Translations

from kefu.core.settings import get_settings

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
SUPPORTED = ("en", "zh-CN")

_current_language: ContextVar[str] = ContextVar("kefu_language", default="en")


def normalize_language(tag: str | None) -> str | None:
    """Map any spelling (zh, zh_CN, zh-Hans-CN, en-US) to a supported language, or None."""
    if not tag:
        return None
    try:
        locale = Locale.parse(tag.replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        return None
    if locale.language == "zh":
        return "zh-CN"
    if locale.language == "en":
        return "en"
    return None


def negotiate(accept_language: str | None) -> str | None:
    """Pick the best supported language from an Accept-Language header (q-values honoured)."""
    if not accept_language:
        return None
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        weighted.append((-quality, position, tag.strip()))
    for neg_quality, _, tag in sorted(weighted):
        if neg_quality >= 0:
            continue
        language = normalize_language(tag)
        if language:
            return language
    return None


@lru_cache
def translations(language: str) -> NullTranslations:
    folder = language.replace("-", "_")
    return Translations.load(str(LOCALE_DIR), [folder], domain="messages")


def set_language(language: str) -> None:
    _current_language.set(language)


def current_language() -> str:
    return _current_language.get()


def translate(message: str, language: str | None = None, **params: Any) -> str:
    text = translations(language or current_language()).gettext(message)
    return text % params if params else text


def N_(message: str) -> str:
    """Marks a msgid for extraction where it is translated later (e.g. class attributes)."""
    return message


def default_language() -> str:
    return normalize_language(get_settings().default_language) or "en"
