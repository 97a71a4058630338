"""Loads the starter knowledge base shipped in `kefu/kb/content/` (or another folder).

- `categories.toml`: `[[category]]` tables with `slug`, `position` and `names`.
- `articles/<slug>.<language>.md`: Markdown with a front matter block (`slug`, `category`,
  `language`, `title`, `tags`) between `---` lines.
- `templates/*.toml`: `[[template]]` tables, macros and policy templates.

Idempotent: a translation gets a new (published) version only when the file's text differs
from every version it already has, so running it twice changes nothing and it never
reverts an agent's later edit unless the shipped file itself changed. Templates are created
when missing and otherwise left as the desk edited them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.audit.service import Actor
from kefu.kb import search as kb_search
from kefu.kb import service
from kefu.kb.models import Article, ArticleTranslation, ArticleVersion, KbCategory, ResponseTemplate
from kefu.kb.schemas import ArticleCreate, CategoryIn, TemplateCreate

CONTENT_DIR = Path(__file__).resolve().parent / "content"


@dataclass
class LoadReport:
    categories: int = 0
    articles_created: int = 0
    versions_published: int = 0
    templates_created: int = 0
    unchanged: int = 0
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"knowledge base: {self.articles_created} articles created, "
            f"{self.versions_published} translations published, "
            f"{self.templates_created} templates created, {self.unchanged} unchanged"
        )


class ContentError(ValueError):
    pass


def parse_front_matter(text: str, name: str) -> tuple[dict[str, str], str]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ContentError(f"{name}: no front matter")
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        raise ContentError(f"{name}: front matter is not closed") from None
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        if line.strip():
            key, sep, value = line.partition(":")
            if not sep:
                raise ContentError(f"{name}: bad front matter line {line!r}")
            meta[key.strip()] = value.strip()
    for required in ("slug", "category", "language", "title"):
        if not meta.get(required):
            raise ContentError(f"{name}: front matter lacks {required}")
    return meta, "\n".join(lines[end + 1 :]).strip() + "\n"


def _load_categories(session: Session, folder: Path, actor: Actor, report: LoadReport) -> None:
    path = folder / "categories.toml"
    if not path.exists():
        return
    for item in tomllib.loads(path.read_text("utf-8")).get("category", []):
        data = CategoryIn.model_validate(item)
        existing = session.scalar(select(KbCategory).where(KbCategory.slug == data.slug))
        if existing is None:
            service.save_category(session, data, actor)
            report.categories += 1


@dataclass
class _Pending:
    article: Article
    language: str
    title: str
    body: str


def _load_article(
    session: Session, path: Path, actor: Actor, report: LoadReport
) -> _Pending | None:
    meta, body = parse_front_matter(path.read_text("utf-8"), path.name)
    language = service._language(meta["language"])
    title = meta["title"]
    article = session.scalar(select(Article).where(Article.slug == meta["slug"]))
    if article is None:
        tags = [t.strip() for t in meta.get("tags", "").split(",") if t.strip()]
        article = service.create_article(
            session,
            ArticleCreate(slug=meta["slug"], category=meta["category"], tags=tags),
            actor,
        )
        report.articles_created += 1
    translation = session.scalar(
        select(ArticleTranslation).where(
            ArticleTranslation.article_id == article.id, ArticleTranslation.language == language
        )
    )
    if translation is not None:
        same = session.scalar(
            select(ArticleVersion.version).where(
                ArticleVersion.translation_id == translation.id,
                ArticleVersion.title == title,
                ArticleVersion.body == body,
            )
        )
        if same is not None:
            report.unchanged += 1
            return None
    return _Pending(article, language, title, body)


def _load_templates(session: Session, folder: Path, actor: Actor, report: LoadReport) -> None:
    for path in sorted((folder / "templates").glob("*.toml")):
        for item in tomllib.loads(path.read_text("utf-8")).get("template", []):
            data = TemplateCreate.model_validate(item)
            exists = session.scalar(
                select(ResponseTemplate.id).where(
                    ResponseTemplate.key == data.key, ResponseTemplate.language == data.language
                )
            )
            if exists is None:
                service.create_template(session, data, actor)
                report.templates_created += 1
            else:
                report.unchanged += 1


def load_content(
    session: Session, folder: Path | None = None, actor: Actor | None = None
) -> LoadReport:
    folder = folder or CONTENT_DIR
    actor = actor or Actor.system()
    report = LoadReport()
    _load_categories(session, folder, actor, report)
    pending = [
        item
        for path in sorted((folder / "articles").glob("*.md"))
        if (item := _load_article(session, path, actor, report)) is not None
    ]
    kb_search.prime_embeddings([(item.title, item.body) for item in pending])
    for item in pending:
        version = service.save_translation(
            session, item.article, item.language, item.title, item.body, "kb load", actor
        )
        service.publish(session, item.article, item.language, version.version, actor)
        report.versions_published += 1
    _load_templates(session, folder, actor, report)
    session.flush()
    return report
