"""Knowledge base: categories, articles, translations, versions, templates, index state.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _stamps() -> list[sa.Column[Any]]:
    return [
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "kb_categories",
        sa.Column("slug", sa.String(length=60), nullable=False),
        sa.Column("names", _json(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_categories")),
        sa.UniqueConstraint("slug", name=op.f("uq_kb_categories_slug")),
    )
    op.create_table(
        "kb_articles",
        sa.Column("slug", sa.String(length=120), nullable=False),
        sa.Column("category_id", sa.String(length=36), nullable=False),
        sa.Column("tags", _json(), nullable=False),
        sa.Column("archived_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["category_id"],
            ["kb_categories.id"],
            name=op.f("fk_kb_articles_category_id_kb_categories"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_articles")),
        sa.UniqueConstraint("slug", name=op.f("uq_kb_articles_slug")),
    )
    op.create_index(op.f("ix_kb_articles_category_id"), "kb_articles", ["category_id"])
    op.create_table(
        "kb_translations",
        sa.Column("article_id", sa.String(length=36), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("published_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("published_title", sa.String(length=200), nullable=True),
        sa.Column("published_body", sa.Text(), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["kb_articles.id"],
            name=op.f("fk_kb_translations_article_id_kb_articles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_translations")),
        sa.UniqueConstraint(
            "article_id", "language", name=op.f("uq_kb_translations_article_id_language")
        ),
    )
    op.create_table(
        "kb_versions",
        sa.Column("translation_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.Column("author_type", sa.String(length=20), nullable=False),
        sa.Column("author_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["translation_id"],
            ["kb_translations.id"],
            name=op.f("fk_kb_versions_translation_id_kb_translations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_versions")),
        sa.UniqueConstraint(
            "translation_id", "version", name=op.f("uq_kb_versions_translation_id_version")
        ),
    )
    op.create_index(op.f("ix_kb_versions_translation_id"), "kb_versions", ["translation_id"])
    op.create_table(
        "kb_templates",
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("jurisdiction", sa.String(length=2), nullable=True),
        sa.Column("topic", sa.String(length=60), nullable=True),
        sa.Column("facts", sa.Text(), nullable=True),
        sa.Column("advice", sa.Text(), nullable=True),
        sa.Column("referral", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("extra", _json(), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_templates")),
        sa.UniqueConstraint("key", "language", name=op.f("uq_kb_templates_key_language")),
    )
    op.create_index(op.f("ix_kb_templates_jurisdiction"), "kb_templates", ["jurisdiction"])
    state = op.create_table(
        "kb_index_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("generation", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_index_state")),
    )
    op.bulk_insert(state, [{"id": 1, "generation": "initial"}])


def downgrade() -> None:
    op.drop_table("kb_index_state")
    op.drop_index(op.f("ix_kb_templates_jurisdiction"), table_name="kb_templates")
    op.drop_table("kb_templates")
    op.drop_index(op.f("ix_kb_versions_translation_id"), table_name="kb_versions")
    op.drop_table("kb_versions")
    op.drop_table("kb_translations")
    op.drop_index(op.f("ix_kb_articles_category_id"), table_name="kb_articles")
    op.drop_table("kb_articles")
    op.drop_table("kb_categories")
