"""Articles, their translations and every version of each translation; response templates;
the search index generation.

One article is one idea (a slug and a category) told in several languages. Each translation
is edited as a chain of immutable versions; publishing points the translation at one of them,
so customers keep reading the published text while agents draft the next one.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kefu.core.clock import utcnow
from kefu.core.db import Base, IdMixin, JSONType, TimestampMixin


class TemplateKind(StrEnum):
    MACRO = "macro"  # a canned reply with variables
    POLICY = "policy"  # a jurisdiction's answer: facts, advice, referral


class KbCategory(IdMixin, TimestampMixin, Base):
    __tablename__ = "kb_categories"

    slug: Mapped[str] = mapped_column(String(60), unique=True)
    # {"en": "Deposits", "zh-CN": "充值"}
    names: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)
    position: Mapped[int] = mapped_column(Integer, default=0)


class Article(IdMixin, TimestampMixin, Base):
    __tablename__ = "kb_articles"

    slug: Mapped[str] = mapped_column(String(120), unique=True)
    category_id: Mapped[str] = mapped_column(ForeignKey("kb_categories.id"), index=True)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # An archived article is hidden everywhere except from agents listing archives.
    archived_at: Mapped[datetime | None]

    category: Mapped[KbCategory] = relationship(lazy="joined")
    translations: Mapped[list[ArticleTranslation]] = relationship(
        back_populates="article", order_by="ArticleTranslation.language", lazy="selectin"
    )


class ArticleTranslation(IdMixin, TimestampMixin, Base):
    __tablename__ = "kb_translations"
    __table_args__ = (UniqueConstraint("article_id", "language"),)

    article_id: Mapped[str] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(10))
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    # None: a draft nobody has published yet (or one that was unpublished).
    published_version: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[datetime | None]
    published_title: Mapped[str | None] = mapped_column(String(200))
    published_body: Mapped[str | None] = mapped_column(Text)
    # float32 sentence embedding of the published text, computed once at publish time.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)

    article: Mapped[Article] = relationship(back_populates="translations")


class ArticleVersion(IdMixin, Base):
    """Immutable: an edit is a new row, so the history of who wrote what is complete."""

    __tablename__ = "kb_versions"
    __table_args__ = (UniqueConstraint("translation_id", "version"),)

    translation_id: Mapped[str] = mapped_column(
        ForeignKey("kb_translations.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # Markdown
    note: Mapped[str | None] = mapped_column(String(300))
    author_type: Mapped[str] = mapped_column(String(20))
    author_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ResponseTemplate(IdMixin, TimestampMixin, Base):
    """A macro (one body) or a policy template (facts / advice / referral) in one language."""

    __tablename__ = "kb_templates"
    __table_args__ = (UniqueConstraint("key", "language"),)

    key: Mapped[str] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(10))
    kind: Mapped[str] = mapped_column(String(20), default=TemplateKind.MACRO.value)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    # Policy templates only: ISO 3166 alpha-2 jurisdiction and a topic such as "withdrawals".
    jurisdiction: Mapped[str | None] = mapped_column(String(2), index=True)
    topic: Mapped[str | None] = mapped_column(String(60))
    facts: Mapped[str | None] = mapped_column(Text)
    advice: Mapped[str | None] = mapped_column(Text)
    referral: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class KbIndexState(Base):
    """One row. Its generation changes whenever published content changes, so every worker
    process notices on its next query and rebuilds its in-memory search index."""

    __tablename__ = "kb_index_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[str] = mapped_column(String(36))
