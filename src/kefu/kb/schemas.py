"""Request and response shapes for articles, versions, templates and search."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kefu.core import i18n
from kefu.kb.models import TemplateKind

SLUG = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
MAX_BODY = 100_000


def content_language(value: str) -> str:
    language = i18n.normalize_language(value)
    if language is None:
        raise ValueError(f"unsupported language {value!r}: use one of {list(i18n.SUPPORTED)}")
    return language


class TranslationIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    note: str | None = Field(default=None, max_length=300)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("title is blank")
        return value


class NewTranslation(TranslationIn):
    language: str = Field(max_length=20)

    _language = field_validator("language")(content_language)


class ArticleCreate(BaseModel):
    slug: str = Field(pattern=SLUG, max_length=120)
    category: str = Field(pattern=SLUG, max_length=60)
    tags: list[str] = Field(default_factory=list, max_length=20)
    translations: list[NewTranslation] = Field(default_factory=list, max_length=10)


class ArticleUpdate(BaseModel):
    slug: str | None = Field(default=None, pattern=SLUG, max_length=120)
    category: str | None = Field(default=None, pattern=SLUG, max_length=60)
    tags: list[str] | None = Field(default=None, max_length=20)


class PublishIn(BaseModel):
    # None publishes the latest version.
    version: int | None = Field(default=None, ge=1)


class CategoryIn(BaseModel):
    slug: str = Field(pattern=SLUG, max_length=60)
    names: dict[str, str] = Field(min_length=1)
    position: int = Field(default=0, ge=0, le=10_000)

    @field_validator("names")
    @classmethod
    def _names(cls, value: dict[str, str]) -> dict[str, str]:
        cleaned = {content_language(k): v.strip() for k, v in value.items()}
        if any(not v or len(v) > 80 for v in cleaned.values()):
            raise ValueError("each name needs 1 to 80 characters")
        return cleaned


class CategoryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    slug: str
    names: dict[str, str]
    position: int


class TranslationOut(BaseModel):
    language: str
    title: str
    latest_version: int
    published_version: int | None
    published_at: datetime | None
    status: str  # draft | published
    has_unpublished_changes: bool


class ArticleOut(BaseModel):
    id: str
    slug: str
    category: str
    tags: list[str]
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime
    translations: list[TranslationOut]


class VersionOut(BaseModel):
    version: int
    title: str
    body: str
    html: str
    note: str | None
    author_type: str
    author_id: str | None
    created_at: datetime
    published: bool


class PublicArticleOut(BaseModel):
    slug: str
    category: str
    language: str
    title: str
    body: str  # Markdown
    html: str  # sanitised
    version: int
    published_at: datetime | None
    available_languages: list[str]
    url: str


class PublicArticleSummary(BaseModel):
    slug: str
    category: str
    language: str
    title: str
    url: str


class SearchHitOut(BaseModel):
    article_id: str
    slug: str
    language: str
    title: str
    snippet: str
    score: float
    url: str


class _TemplateFields(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    body: str | None = Field(default=None, max_length=20_000)
    jurisdiction: str | None = Field(default=None, min_length=2, max_length=2)
    topic: str | None = Field(default=None, pattern=r"^[a-z0-9_]+$", max_length=60)
    facts: str | None = Field(default=None, max_length=20_000)
    advice: str | None = Field(default=None, max_length=20_000)
    referral: str | None = Field(default=None, max_length=5_000)

    @field_validator("jurisdiction")
    @classmethod
    def _jurisdiction(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.isalpha():
            raise ValueError("jurisdiction is an ISO 3166 alpha-2 code such as SG")
        return value.upper()


class TemplateCreate(_TemplateFields):
    key: str = Field(pattern=r"^[a-z0-9]+(?:[-_.][a-z0-9]+)*$", max_length=120)
    language: str = Field(max_length=20)
    kind: TemplateKind = TemplateKind.MACRO
    title: str = Field(min_length=1, max_length=200)

    _language = field_validator("language")(content_language)

    @model_validator(mode="after")
    def _macro_has_body(self) -> TemplateCreate:
        if self.kind == TemplateKind.MACRO and not (self.body or "").strip():
            raise ValueError("a macro needs a body")
        return self


class TemplateUpdate(_TemplateFields):
    active: bool | None = None


class TemplateOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    key: str
    language: str
    kind: str
    title: str
    body: str
    jurisdiction: str | None
    topic: str | None
    facts: str | None
    advice: str | None
    referral: str | None
    active: bool
    variables: list[str]
    created_at: datetime
    updated_at: datetime


RenderValue = str | int | float | bool | None


class RenderIn(BaseModel):
    variables: dict[str, RenderValue] = Field(default_factory=dict, max_length=50)

    @field_validator("variables")
    @classmethod
    def _names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name, item in value.items():
            if not name.isidentifier():
                raise ValueError(f"{name!r} is not a variable name")
            if isinstance(item, str) and len(item) > 2000:
                raise ValueError(f"{name} is longer than 2000 characters")
        return value


class RenderedOut(BaseModel):
    key: str
    kind: str
    language: str
    text: str
    facts: str | None = None
    advice: str | None = None
    disclaimer: str | None = None
    referral: str | None = None
