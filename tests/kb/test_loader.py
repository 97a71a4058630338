"""Loading the starter knowledge base: complete in both languages, idempotent, and it never
reverts an agent's later edit."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from kefu.audit.models import AuditEntry
from kefu.audit.service import Actor
from kefu.cli import app as cli_app
from kefu.core.db import make_engine, session_factory
from kefu.core.settings import get_settings
from kefu.kb import service
from kefu.kb.loader import CONTENT_DIR, load_content, parse_front_matter
from kefu.kb.models import Article, ArticleTranslation, ArticleVersion, ResponseTemplate


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_starter_content_is_complete_in_both_languages() -> None:
    files = sorted((CONTENT_DIR / "articles").glob("*.md"))
    by_slug: dict[str, set[str]] = {}
    for path in files:
        meta, body = parse_front_matter(path.read_text("utf-8"), path.name)
        by_slug.setdefault(meta["slug"], set()).add(meta["language"])
        assert path.name == f"{meta['slug']}.{meta['language']}.md"
        # Real articles, not stubs (Chinese says the same in fewer characters).
        assert len(body) > (300 if meta["language"] == "zh-CN" else 800), path.name
    assert len(by_slug) >= 15
    assert all(languages == {"en", "zh-CN"} for languages in by_slug.values()), by_slug


def test_loading_twice_changes_nothing(session: Session, engine: Engine) -> None:
    first = load_content(session)
    session.commit()
    assert first.articles_created >= 15 and first.templates_created >= 8
    assert first.versions_published == 2 * first.articles_created
    counts = [
        _count(session, m)
        for m in (Article, ArticleTranslation, ArticleVersion, ResponseTemplate, AuditEntry)
    ]

    second = load_content(session)
    session.commit()
    assert (second.articles_created, second.versions_published, second.templates_created) == (
        0,
        0,
        0,
    )
    assert [
        _count(session, m)
        for m in (Article, ArticleTranslation, ArticleVersion, ResponseTemplate, AuditEntry)
    ] == counts


def test_an_agents_edit_survives_a_reload_and_a_changed_file_lands(
    session: Session, tmp_path: Path
) -> None:
    folder = tmp_path / "content"
    (folder / "articles").mkdir(parents=True)
    (folder / "categories.toml").write_text(
        '[[category]]\nslug = "deposits"\nnames = { en = "Deposits", zh-CN = "充值" }\n', "utf-8"
    )
    source = folder / "articles" / "tip.en.md"
    source.write_text(
        "---\nslug: tip\ncategory: deposits\nlanguage: en\ntitle: Tip\n---\nFirst text.\n", "utf-8"
    )
    load_content(session, folder)
    article = service.get_article(session, "tip")
    service.save_translation(
        session, article, "en", "Tip", "Edited by an agent.", None, Actor.system()
    )
    service.publish(session, article, "en", None, Actor.system())
    session.commit()

    load_content(session, folder)
    assert service.published_article(session, "tip", "en").translation.published_body == (
        "Edited by an agent."
    )

    source.write_text(source.read_text("utf-8").replace("First text.", "Second text."), "utf-8")
    report = load_content(session, folder)
    assert report.versions_published == 1
    published = service.published_article(session, "tip", "en").translation
    assert (published.published_version, published.published_body) == (3, "Second text.\n")


def test_kefu_kb_load_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    monkeypatch.setenv("KEFU_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        first = CliRunner().invoke(cli_app, ["kb", "load"])
        assert first.exit_code == 0, first.output
        assert "17 articles created" in first.output
        second = CliRunner().invoke(cli_app, ["kb", "load"])
        assert second.exit_code == 0, second.output
        assert "0 articles created, 0 translations published" in second.output
    finally:
        get_settings.cache_clear()
    engine = make_engine(url)
    with session_factory(engine)() as s:
        hits = service.search(s, "提币手续费", "zh-CN")
    engine.dispose()
    assert hits[0].slug == "withdrawal-fees"
