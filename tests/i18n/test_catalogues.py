"""Invariant 8: every user-facing text exists in zh-CN and en, and the shipped .mo files are
compiled from the .po files in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kefu.core import i18n

SRC = Path(i18n.__file__).resolve().parent.parent
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _source_messages() -> set[str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    keywords = {"N_": None, "t": None, "_": None, "gettext": None}
    return {
        message if isinstance(message, str) else message[0]
        for _, _, message, _, _ in extract_from_dir(str(SRC), method_map, keywords=keywords)
    }


def _catalogue(locale: str) -> dict[str, str]:
    path = i18n.LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id}


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_every_source_message_is_translated(locale: str) -> None:
    catalogue = _catalogue(locale)
    missing = sorted(m for m in _source_messages() if not catalogue.get(m))
    assert missing == [], f"run `make i18n` and translate: {missing}"


def test_translations_keep_their_placeholders() -> None:
    for msgid, text in _catalogue("zh_CN").items():
        assert set(PLACEHOLDER.findall(msgid)) == set(PLACEHOLDER.findall(text)), msgid


@pytest.mark.parametrize("locale", ["zh_CN", "en"])
def test_compiled_catalogue_matches_its_source(locale: str) -> None:
    language = locale.replace("_", "-")
    i18n.translations.cache_clear()
    for msgid, text in _catalogue(locale).items():
        assert i18n.translate(msgid, language) == text, f"stale .mo: run `make i18n` ({msgid})"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("en-US,en;q=0.9", "en"),
        ("fr-FR, zh-TW;q=0.5", "zh-CN"),
        ("de-DE", None),
        ("en;q=0.1, zh;q=0.9", "zh-CN"),
        ("", None),
        ("zh;q=0", None),
    ],
)
def test_accept_language_negotiation(header: str, expected: str | None) -> None:
    assert i18n.negotiate(header) == expected


def test_problem_titles_follow_accept_language(client: TestClient) -> None:
    english = client.get("/api/v1/tickets", headers={"Accept-Language": "en"})
    chinese = client.get("/api/v1/tickets", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert english.status_code == chinese.status_code == 401
    assert english.json()["title"] == "Sign in to continue."
    assert chinese.json()["title"] == "请先登录。"
    assert chinese.headers["content-language"] == "zh-CN"
    assert english.json()["code"] == chinese.json()["code"] == "not_authenticated"


def test_the_users_own_language_wins_over_accept_language(
    client: TestClient, session: Session
) -> None:
    from tests.factories import agent_headers, make_agent

    agent = make_agent(session, language="zh-CN")
    headers = {**agent_headers(client, agent), "Accept-Language": "en"}
    response = client.get("/api/v1/tickets/01a00000-0000-7000-8000-000000000000", headers=headers)
    assert response.status_code == 404
    assert response.json()["title"] == "找不到工单 01a00000-0000-7000-8000-000000000000。"
