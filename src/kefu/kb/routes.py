"""The knowledge-base API.

Two deliberate halves:
- `/api/v1/kb/public/...` is the only part of kefu's API open without signing in: it reads
  published articles and searches them, and nothing else (no drafts, no history, no
  templates). A customer's portal and the chat widget use it; so may anyone on the web.
- Everything else under `/api/v1/kb/...` needs an agent with `kb.read`, `kb.write` or
  `kb.publish`, and every write is audited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from kefu.core import i18n
from kefu.core.errors import PermissionDenied
from kefu.core.web import DbSession, IdempotencyKey, idempotent_create
from kefu.identity.deps import Principal, require
from kefu.identity.permissions import Permission
from kefu.kb import service
from kefu.kb.models import Article, ArticleVersion, ResponseTemplate, TemplateKind
from kefu.kb.render import to_html
from kefu.kb.schemas import (
    ArticleCreate,
    ArticleOut,
    ArticleUpdate,
    CategoryIn,
    CategoryOut,
    PublicArticleOut,
    PublicArticleSummary,
    PublishIn,
    RenderedOut,
    RenderIn,
    SearchHitOut,
    TemplateCreate,
    TemplateOut,
    TemplateUpdate,
    TranslationIn,
    TranslationOut,
    VersionOut,
)
from kefu.kb.search import article_url, looks_chinese

public_router = APIRouter(prefix="/api/v1/kb/public", tags=["kb (public)"])
router = APIRouter(prefix="/api/v1/kb", tags=["kb"])
pages = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

Reader = Annotated[Principal, Depends(require(Permission.KB_READ))]
Writer = Annotated[Principal, Depends(require(Permission.KB_WRITE))]
Publisher = Annotated[Principal, Depends(require(Permission.KB_PUBLISH))]
Language = Annotated[str | None, Query(max_length=20)]


def _language(value: str | None) -> str:
    """The asked language, else the request's (Accept-Language), for what the reader sees."""
    return value or i18n.current_language()


# --- public: published content only, no sign-in --------------------------------------------


def _public(item: service.PublishedArticle) -> PublicArticleOut:
    t = item.translation
    return PublicArticleOut(
        slug=item.article.slug,
        category=item.article.category.slug,
        language=t.language,
        title=t.published_title or "",
        body=t.published_body or "",
        html=to_html(t.published_body or ""),
        version=t.published_version or 0,
        published_at=t.published_at,
        available_languages=item.available_languages,
        url=article_url(item.article.slug, t.language),
    )


@public_router.get("/categories", response_model=list[CategoryOut])
def public_categories(db: DbSession) -> list[CategoryOut]:
    return [CategoryOut.model_validate(c) for c in service.list_categories(db)]


@public_router.get("/articles", response_model=list[PublicArticleSummary])
def public_articles(
    db: DbSession,
    language: Language = None,
    category: Annotated[str | None, Query(max_length=60)] = None,
) -> list[PublicArticleSummary]:
    """Published articles, each in the asked language when it exists in it."""
    return [
        PublicArticleSummary(
            slug=item.article.slug,
            category=item.article.category.slug,
            language=item.translation.language,
            title=item.translation.published_title or "",
            url=article_url(item.article.slug, item.translation.language),
        )
        for item in service.published_articles(db, _language(language), category)
    ]


@public_router.get("/articles/{slug}", response_model=PublicArticleOut)
def public_article(slug: str, db: DbSession, language: Language = None) -> PublicArticleOut:
    return _public(service.published_article(db, slug, _language(language)))


@public_router.get("/search", response_model=list[SearchHitOut])
def public_search(
    db: DbSession,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    language: Language = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
) -> list[SearchHitOut]:
    # Without an explicit language, a question written in Chinese is answered from the
    # Chinese articles whatever the browser's Accept-Language says.
    asked = language or ("zh-CN" if looks_chinese(q) else i18n.current_language())
    hits = service.search(db, q, asked, limit)
    return [SearchHitOut.model_validate(hit, from_attributes=True) for hit in hits]


@pages.get("/kb/{language}/{slug}", response_class=HTMLResponse)
def article_page(request: Request, language: str, slug: str, db: DbSession) -> HTMLResponse:
    """The page a bot's answer links to: one published article, sanitised HTML."""
    item = _public(service.published_article(db, slug, language))
    return templates.TemplateResponse(request, "article.html", {"article": item})


# --- agents ---------------------------------------------------------------------------------


def _article_out(db: Session, article: Article) -> ArticleOut:
    return ArticleOut(
        id=article.id,
        slug=article.slug,
        category=article.category.slug,
        tags=article.tags,
        archived_at=article.archived_at,
        created_at=article.created_at,
        updated_at=article.updated_at,
        translations=[
            TranslationOut(
                language=t.language,
                title=service.latest_title(db, t),
                latest_version=t.latest_version,
                published_version=t.published_version,
                published_at=t.published_at,
                status="published" if t.published_version is not None else "draft",
                has_unpublished_changes=t.published_version != t.latest_version,
            )
            for t in article.translations
        ],
    )


def _version_out(version: ArticleVersion, published: int | None) -> VersionOut:
    return VersionOut(
        version=version.version,
        title=version.title,
        body=version.body,
        html=to_html(version.body),
        note=version.note,
        author_type=version.author_type,
        author_id=version.author_id,
        created_at=version.created_at,
        published=version.version == published,
    )


@router.get("/categories", response_model=list[CategoryOut])
def categories(db: DbSession, _: Reader) -> list[CategoryOut]:
    return [CategoryOut.model_validate(c) for c in service.list_categories(db)]


@router.put("/categories", response_model=CategoryOut)
def save_category(body: CategoryIn, db: DbSession, principal: Publisher) -> CategoryOut:
    return CategoryOut.model_validate(service.save_category(db, body, principal.actor))


@router.get("/articles", response_model=list[ArticleOut])
def list_articles(
    db: DbSession,
    _: Reader,
    category: Annotated[str | None, Query(max_length=60)] = None,
    archived: bool = False,
) -> list[ArticleOut]:
    articles = service.list_articles(db, category=category, include_archived=archived)
    return [_article_out(db, a) for a in articles]


@router.post("/articles", status_code=201, response_model=ArticleOut)
def create_article(
    request: Request,
    body: ArticleCreate,
    db: DbSession,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    return idempotent_create(
        request,
        db,
        principal=principal.key,
        key=idempotency_key,
        body=body,
        create=lambda: _article_out(db, service.create_article(db, body, principal.actor)),
    )


@router.get("/articles/{ref}", response_model=ArticleOut)
def get_article(ref: str, db: DbSession, _: Reader) -> ArticleOut:
    return _article_out(db, service.get_article(db, ref))


@router.patch("/articles/{ref}", response_model=ArticleOut)
def update_article(ref: str, body: ArticleUpdate, db: DbSession, principal: Writer) -> ArticleOut:
    return _article_out(db, service.update_article(db, ref, body, principal.actor))


@router.delete("/articles/{ref}", response_model=ArticleOut)
def archive_article(ref: str, db: DbSession, principal: Publisher) -> ArticleOut:
    """Archives: hidden from customers and search, history kept; `restore` undoes it."""
    return _article_out(db, service.archive_article(db, ref, principal.actor))


@router.post("/articles/{ref}/restore", response_model=ArticleOut)
def restore_article(ref: str, db: DbSession, principal: Publisher) -> ArticleOut:
    return _article_out(db, service.restore_article(db, ref, principal.actor))


@router.put("/articles/{ref}/translations/{language}", response_model=VersionOut)
def save_translation(
    ref: str, language: str, body: TranslationIn, db: DbSession, principal: Writer
) -> VersionOut:
    """Saves a new draft version (creating the translation if the article lacks it)."""
    article = service.get_article(db, ref)
    version = service.save_translation(
        db, article, language, body.title, body.body, body.note, principal.actor
    )
    item = service.translation(db, article, language)
    return _version_out(version, item.published_version)


@router.get("/articles/{ref}/translations/{language}/versions", response_model=list[VersionOut])
def list_versions(ref: str, language: str, db: DbSession, _: Reader) -> list[VersionOut]:
    article = service.get_article(db, ref)
    item = service.translation(db, article, language)
    return [
        _version_out(v, item.published_version) for v in service.versions(db, article, language)
    ]


@router.get("/articles/{ref}/translations/{language}/versions/{number}", response_model=VersionOut)
def get_version(ref: str, language: str, number: int, db: DbSession, _: Reader) -> VersionOut:
    article = service.get_article(db, ref)
    item = service.translation(db, article, language)
    return _version_out(service.get_version(db, article, language, number), item.published_version)


@router.post("/articles/{ref}/translations/{language}/publish", response_model=ArticleOut)
def publish(
    ref: str, language: str, db: DbSession, principal: Publisher, body: PublishIn | None = None
) -> ArticleOut:
    article = service.get_article(db, ref)
    service.publish(db, article, language, body.version if body else None, principal.actor)
    db.refresh(article)
    return _article_out(db, article)


@router.post("/articles/{ref}/translations/{language}/unpublish", response_model=ArticleOut)
def unpublish(ref: str, language: str, db: DbSession, principal: Publisher) -> ArticleOut:
    article = service.get_article(db, ref)
    service.unpublish(db, article, language, principal.actor)
    db.refresh(article)
    return _article_out(db, article)


# --- response templates ----------------------------------------------------------------------


def _template_out(template: ResponseTemplate) -> TemplateOut:
    return TemplateOut(
        id=template.id,
        key=template.key,
        language=template.language,
        kind=template.kind,
        title=template.title,
        body=template.body,
        jurisdiction=template.jurisdiction,
        topic=template.topic,
        facts=template.facts,
        advice=template.advice,
        referral=template.referral,
        active=template.active,
        variables=service.template_variables(template),
        created_at=template.created_at,
        updated_at=template.updated_at,
    )


def _may_edit(principal: Principal, kind: str) -> None:
    """Policy templates speak for compliance: they need `kb.publish`, macros `kb.write`."""
    if kind == TemplateKind.POLICY.value and not principal.can(Permission.KB_PUBLISH):
        raise PermissionDenied()


@router.get("/templates", response_model=list[TemplateOut])
def list_templates(
    db: DbSession,
    _: Reader,
    kind: TemplateKind | None = None,
    language: Language = None,
    jurisdiction: Annotated[str | None, Query(max_length=2)] = None,
) -> list[TemplateOut]:
    found = service.list_templates(
        db, kind=kind.value if kind else None, language=language, jurisdiction=jurisdiction
    )
    return [_template_out(t) for t in found]


@router.post("/templates", status_code=201, response_model=TemplateOut)
def create_template(
    request: Request,
    body: TemplateCreate,
    db: DbSession,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    _may_edit(principal, body.kind.value)
    return idempotent_create(
        request,
        db,
        principal=principal.key,
        key=idempotency_key,
        body=body,
        create=lambda: _template_out(service.create_template(db, body, principal.actor)),
    )


@router.get("/templates/{template_id}", response_model=TemplateOut)
def get_template(template_id: str, db: DbSession, _: Reader) -> TemplateOut:
    return _template_out(service.get_template(db, template_id))


@router.patch("/templates/{template_id}", response_model=TemplateOut)
def update_template(
    template_id: str, body: TemplateUpdate, db: DbSession, principal: Writer
) -> TemplateOut:
    _may_edit(principal, service.get_template(db, template_id).kind)
    return _template_out(service.update_template(db, template_id, body, principal.actor))


@router.post("/templates/{template_id}/render", response_model=RenderedOut)
def render_template(template_id: str, body: RenderIn, db: DbSession, _: Reader) -> RenderedOut:
    rendered = service.render_template(service.get_template(db, template_id), body.variables)
    return RenderedOut.model_validate(rendered, from_attributes=True)
