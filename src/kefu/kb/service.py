"""Knowledge-base operations: articles and their versioned translations, publishing,
response templates and policy templates, and loading the shipped starter content.

Customers and anonymous visitors only ever see `published_*` fields of a translation;
drafts live in `kb_versions` until someone with `kb.publish` publishes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kefu.audit.service import Actor, record
from kefu.core import i18n
from kefu.core.clock import utcnow
from kefu.core.errors import Conflict
from kefu.core.i18n import N_
from kefu.kb import search as kb_search
from kefu.kb import templating
from kefu.kb.errors import (
    ArticleNotFound,
    CategoryNotFound,
    SlugTaken,
    TemplateExists,
    TemplateNotFound,
    TemplateSyntaxInvalid,
    TemplateVariableMissing,
    TranslationExists,
    TranslationNotFound,
    UnsupportedLanguage,
    VersionNotFound,
)
from kefu.kb.models import (
    Article,
    ArticleTranslation,
    ArticleVersion,
    KbCategory,
    KbIndexState,
    ResponseTemplate,
    TemplateKind,
)
from kefu.kb.schemas import (
    ArticleCreate,
    ArticleUpdate,
    CategoryIn,
    TemplateCreate,
    TemplateUpdate,
)

DISCLAIMER = N_("This is general information, not legal advice.")


class NothingToPublish(Conflict):
    code = "kb_nothing_to_publish"
    message = N_("This translation has no version to publish yet.")


class TemplateKindMismatch(Conflict):
    code = "kb_template_incomplete"
    message = N_("A policy template needs a jurisdiction, a topic, facts and advice.")


def _language(value: str) -> str:
    language = i18n.normalize_language(value)
    if language is None:
        raise UnsupportedLanguage(lang=value)
    return language


def _invalidate_index(session: Session) -> None:
    """Every process rebuilds its search index on its next query."""
    session.execute(
        update(KbIndexState)
        .where(KbIndexState.id == 1)
        .values(generation=kb_search.new_generation())
    )


# --- categories ---------------------------------------------------------------------------


def list_categories(session: Session) -> list[KbCategory]:
    return list(session.scalars(select(KbCategory).order_by(KbCategory.position, KbCategory.slug)))


def _category(session: Session, slug: str) -> KbCategory:
    category = session.scalar(select(KbCategory).where(KbCategory.slug == slug))
    if category is None:
        raise CategoryNotFound(slug=slug)
    return category


def save_category(session: Session, data: CategoryIn, actor: Actor) -> KbCategory:
    """Creates the category, or renames and re-orders it if the slug exists."""
    category = session.scalar(select(KbCategory).where(KbCategory.slug == data.slug))
    if category is None:
        category = KbCategory(slug=data.slug, names=data.names, position=data.position)
        session.add(category)
    else:
        category.names = {**category.names, **data.names}
        category.position = data.position
    session.flush()
    record(session, actor, "kb.category_saved", subject_type="kb_category", subject_id=category.id)
    return category


# --- articles -----------------------------------------------------------------------------


def list_articles(
    session: Session, *, category: str | None = None, include_archived: bool = False
) -> list[Article]:
    stmt = select(Article).order_by(Article.slug)
    if category:
        stmt = stmt.join(KbCategory).where(KbCategory.slug == category)
    if not include_archived:
        stmt = stmt.where(Article.archived_at.is_(None))
    return list(session.scalars(stmt).unique())


def get_article(session: Session, ref: str) -> Article:
    """By id or by slug."""
    article = session.get(Article, ref) or session.scalar(
        select(Article).where(Article.slug == ref)
    )
    if article is None:
        raise ArticleNotFound(ref=ref)
    return article


def _slug_free(session: Session, slug: str, article_id: str | None = None) -> None:
    existing = session.scalar(select(Article.id).where(Article.slug == slug))
    if existing is not None and existing != article_id:
        raise SlugTaken(slug=slug)


def create_article(session: Session, data: ArticleCreate, actor: Actor) -> Article:
    _slug_free(session, data.slug)
    languages = [t.language for t in data.translations]
    if len(set(languages)) != len(languages):
        raise TranslationExists(lang=", ".join(sorted(languages)))
    article = Article(
        slug=data.slug,
        category_id=_category(session, data.category).id,
        tags=sorted({t.strip() for t in data.tags if t.strip()}),
    )
    session.add(article)
    session.flush()
    record(
        session,
        actor,
        "kb.article_created",
        subject_type="kb_article",
        subject_id=article.id,
        data={"slug": article.slug},
    )
    for item in data.translations:
        save_translation(session, article, item.language, item.title, item.body, item.note, actor)
    session.refresh(article)
    return article


def update_article(session: Session, ref: str, data: ArticleUpdate, actor: Actor) -> Article:
    article = get_article(session, ref)
    changes: dict[str, Any] = {}
    if data.slug is not None and data.slug != article.slug:
        _slug_free(session, data.slug, article.id)
        changes["slug"] = [article.slug, data.slug]
        article.slug = data.slug
    if data.category is not None and data.category != article.category.slug:
        changes["category"] = [article.category.slug, data.category]
        article.category = _category(session, data.category)
    if data.tags is not None:
        article.tags = sorted({t.strip() for t in data.tags if t.strip()})
        changes["tags"] = article.tags
    if changes:
        session.flush()
        _invalidate_index(session)
        record(
            session,
            actor,
            "kb.article_updated",
            subject_type="kb_article",
            subject_id=article.id,
            data=changes,
        )
    return article


def archive_article(session: Session, ref: str, actor: Actor) -> Article:
    """Hides the article everywhere; its translations and history are kept."""
    article = get_article(session, ref)
    if article.archived_at is None:
        article.archived_at = utcnow()
        session.flush()
        _invalidate_index(session)
        record(
            session, actor, "kb.article_archived", subject_type="kb_article", subject_id=article.id
        )
    return article


def restore_article(session: Session, ref: str, actor: Actor) -> Article:
    article = get_article(session, ref)
    if article.archived_at is not None:
        article.archived_at = None
        session.flush()
        _invalidate_index(session)
        record(
            session, actor, "kb.article_restored", subject_type="kb_article", subject_id=article.id
        )
    return article


def translation(session: Session, article: Article, language: str) -> ArticleTranslation:
    language = _language(language)
    found = session.scalar(
        select(ArticleTranslation).where(
            ArticleTranslation.article_id == article.id, ArticleTranslation.language == language
        )
    )
    if found is None:
        raise TranslationNotFound(ref=article.slug, lang=language)
    return found


def _locked_translation(
    session: Session, article: Article, language: str
) -> ArticleTranslation | None:
    return session.scalar(
        select(ArticleTranslation)
        .where(ArticleTranslation.article_id == article.id, ArticleTranslation.language == language)
        .with_for_update()
    )


def save_translation(
    session: Session,
    article: Article,
    language: str,
    title: str,
    body: str,
    note: str | None,
    actor: Actor,
) -> ArticleVersion:
    """Every edit is a new version (a draft until published); earlier ones stay as history."""
    language = _language(language)
    current = _locked_translation(session, article, language)
    if current is None:
        try:
            with session.begin_nested():
                current = ArticleTranslation(
                    article_id=article.id, language=language, latest_version=0
                )
                session.add(current)
        except IntegrityError:
            # Another editor created this first translation a moment ago (their insert held
            # the unique key until they committed): edit theirs, as version 2.
            current = _locked_translation(session, article, language)
            if current is None:
                raise
    current.latest_version += 1
    version = ArticleVersion(
        translation_id=current.id,
        version=current.latest_version,
        title=title.strip(),
        body=body,
        note=note,
        author_type=actor.type,
        author_id=actor.id,
    )
    session.add(version)
    article.updated_at = utcnow()
    session.flush()
    record(
        session,
        actor,
        "kb.translation_edited",
        subject_type="kb_article",
        subject_id=article.id,
        data={"language": language, "version": version.version},
    )
    return version


def versions(session: Session, article: Article, language: str) -> list[ArticleVersion]:
    found = translation(session, article, language)
    return list(
        session.scalars(
            select(ArticleVersion)
            .where(ArticleVersion.translation_id == found.id)
            .order_by(ArticleVersion.version.desc())
        )
    )


def get_version(session: Session, article: Article, language: str, number: int) -> ArticleVersion:
    found = translation(session, article, language)
    version = session.scalar(
        select(ArticleVersion).where(
            ArticleVersion.translation_id == found.id, ArticleVersion.version == number
        )
    )
    if version is None:
        raise VersionNotFound(version=number)
    return version


def latest_title(session: Session, item: ArticleTranslation) -> str:
    title = session.scalar(
        select(ArticleVersion.title).where(
            ArticleVersion.translation_id == item.id,
            ArticleVersion.version == item.latest_version,
        )
    )
    return title or ""


def publish(
    session: Session, article: Article, language: str, number: int | None, actor: Actor
) -> ArticleTranslation:
    """Makes one version (the latest by default) what customers read, and re-indexes it."""
    item = translation(session, article, language)
    if item.latest_version == 0:
        raise NothingToPublish()
    version = get_version(session, article, language, number or item.latest_version)
    item.published_version = version.version
    item.published_title = version.title
    item.published_body = version.body
    item.published_at = utcnow()
    item.embedding = kb_search.embed_document(version.title, version.body)
    session.flush()
    _invalidate_index(session)
    record(
        session,
        actor,
        "kb.translation_published",
        subject_type="kb_article",
        subject_id=article.id,
        data={"language": item.language, "version": version.version},
    )
    return item


def unpublish(
    session: Session, article: Article, language: str, actor: Actor
) -> ArticleTranslation:
    item = translation(session, article, language)
    if item.published_version is not None:
        item.published_version = None
        item.published_title = None
        item.published_body = None
        item.published_at = None
        item.embedding = None
        session.flush()
        _invalidate_index(session)
        record(
            session,
            actor,
            "kb.translation_unpublished",
            subject_type="kb_article",
            subject_id=article.id,
            data={"language": item.language},
        )
    return item


# --- what customers read ------------------------------------------------------------------


@dataclass(frozen=True)
class PublishedArticle:
    article: Article
    translation: ArticleTranslation
    available_languages: list[str]


def _published(article: Article) -> list[ArticleTranslation]:
    if article.archived_at is not None:
        return []
    return [t for t in article.translations if t.published_version is not None]


def _pick(items: list[ArticleTranslation], language: str) -> ArticleTranslation | None:
    """The asked language, else the desk's default, else any published one."""
    by_language = {t.language: t for t in items}
    for choice in (language, i18n.default_language(), *sorted(by_language)):
        if choice in by_language:
            return by_language[choice]
    return None


def published_article(session: Session, slug: str, language: str) -> PublishedArticle:
    article = session.scalar(select(Article).where(Article.slug == slug))
    items = _published(article) if article is not None else []
    chosen = _pick(items, _language(language))
    if article is None or chosen is None:
        raise ArticleNotFound(ref=slug)
    return PublishedArticle(article, chosen, sorted(t.language for t in items))


def published_articles(
    session: Session, language: str, category: str | None = None
) -> list[PublishedArticle]:
    wanted = _language(language)
    result = []
    for article in list_articles(session, category=category):
        items = _published(article)
        chosen = _pick(items, wanted)
        if chosen is not None:
            result.append(PublishedArticle(article, chosen, sorted(t.language for t in items)))
    return result


def search(
    session: Session, query: str, language: str, limit: int = 5
) -> list[kb_search.SearchHit]:
    return kb_search.search(session, query, language, limit)


# --- response templates -------------------------------------------------------------------


def _sources(template: ResponseTemplate | TemplateCreate | TemplateUpdate) -> list[str]:
    return [s for s in (template.body, template.facts, template.advice, template.referral) if s]


def template_variables(template: ResponseTemplate) -> list[str]:
    names: set[str] = set()
    for source in _sources(template):
        names |= templating.variables(source)
    return sorted(names)


def _check_template(template: ResponseTemplate) -> None:
    for source in _sources(template):
        templating.check(source)
    if template.kind == TemplateKind.POLICY.value:
        if not (template.jurisdiction and template.topic and template.facts and template.advice):
            raise TemplateKindMismatch()
    elif not template.body.strip():
        raise TemplateSyntaxInvalid(line=1, detail="empty")


def list_templates(
    session: Session,
    *,
    kind: str | None = None,
    language: str | None = None,
    jurisdiction: str | None = None,
) -> list[ResponseTemplate]:
    stmt = select(ResponseTemplate).order_by(ResponseTemplate.key, ResponseTemplate.language)
    if kind:
        stmt = stmt.where(ResponseTemplate.kind == kind)
    if language:
        stmt = stmt.where(ResponseTemplate.language == _language(language))
    if jurisdiction:
        stmt = stmt.where(ResponseTemplate.jurisdiction == jurisdiction.upper())
    return list(session.scalars(stmt))


def get_template(session: Session, template_id: str) -> ResponseTemplate:
    template = session.get(ResponseTemplate, template_id)
    if template is None:
        raise TemplateNotFound(ref=template_id)
    return template


def create_template(session: Session, data: TemplateCreate, actor: Actor) -> ResponseTemplate:
    exists = session.scalar(
        select(ResponseTemplate.id).where(
            ResponseTemplate.key == data.key, ResponseTemplate.language == data.language
        )
    )
    if exists is not None:
        raise TemplateExists(key=data.key, lang=data.language)
    template = ResponseTemplate(
        key=data.key,
        language=data.language,
        kind=data.kind.value,
        title=data.title.strip(),
        body=data.body or "",
        jurisdiction=data.jurisdiction,
        topic=data.topic,
        facts=data.facts,
        advice=data.advice,
        referral=data.referral,
        active=True,
        extra={},
    )
    _check_template(template)
    session.add(template)
    session.flush()
    record(
        session,
        actor,
        "kb.template_created",
        subject_type="kb_template",
        subject_id=template.id,
        data={"key": template.key, "language": template.language, "kind": template.kind},
    )
    return template


def update_template(
    session: Session, template_id: str, data: TemplateUpdate, actor: Actor
) -> ResponseTemplate:
    template = get_template(session, template_id)
    changed = data.model_dump(exclude_unset=True)
    for name, value in changed.items():
        if name == "title" and value is None:
            continue
        setattr(template, name, "" if name == "body" and value is None else value)
    _check_template(template)
    session.flush()
    record(
        session,
        actor,
        "kb.template_updated",
        subject_type="kb_template",
        subject_id=template.id,
        data={"fields": sorted(changed)},
    )
    return template


@dataclass(frozen=True)
class RenderedTemplate:
    key: str
    kind: str
    language: str
    text: str
    facts: str | None = None
    advice: str | None = None
    disclaimer: str | None = None
    referral: str | None = None


def render_template(template: ResponseTemplate, values: dict[str, Any]) -> RenderedTemplate:
    """A macro's text, or a policy template's sections with facts and advice kept apart.

    A policy's `text` joins the sections in order with the disclaimer before the advice, so
    a channel that can show only one string still never blurs the two."""
    if template.kind != TemplateKind.POLICY.value:
        text = templating.render(template.body, values)
        return RenderedTemplate(template.key, template.kind, template.language, text)
    missing = sorted(set(template_variables(template)) - set(values))
    if missing:
        raise TemplateVariableMissing(names=", ".join(missing))
    facts = templating.render(template.facts or "", values)
    advice = templating.render(template.advice or "", values)
    referral = templating.render(template.referral or "", values) if template.referral else None
    disclaimer = i18n.translate(DISCLAIMER, template.language)
    text = "\n\n".join(part for part in (facts, disclaimer, advice, referral) if part)
    return RenderedTemplate(
        template.key,
        template.kind,
        template.language,
        text,
        facts=facts,
        advice=advice,
        disclaimer=disclaimer,
        referral=referral,
    )


def policy_template(
    session: Session, jurisdiction: str, topic: str, language: str
) -> ResponseTemplate | None:
    """The active policy template for this jurisdiction and topic in the customer's
    language, or None — the bot then hands the question to compliance rather than guess or
    answer in a language the customer did not ask in."""
    wanted = i18n.normalize_language(language)
    if wanted is None or not jurisdiction or not topic:
        return None
    return session.scalar(
        select(ResponseTemplate).where(
            ResponseTemplate.kind == TemplateKind.POLICY.value,
            ResponseTemplate.active.is_(True),
            ResponseTemplate.jurisdiction == jurisdiction.strip().upper(),
            ResponseTemplate.topic == topic.strip().lower(),
            ResponseTemplate.language == wanted,
        )
    )


def count_published(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ArticleTranslation)
            .where(ArticleTranslation.published_version.is_not(None))
        )
        or 0
    )
