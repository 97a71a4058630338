"""Identity documents (sealed at rest) and their reviews.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_reviews",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("submitted_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_identity_reviews_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["agents.id"], name=op.f("fk_identity_reviews_decided_by_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_reviews")),
    )
    op.create_index(op.f("ix_identity_reviews_customer_id"), "identity_reviews", ["customer_id"])
    op.create_index(
        "ix_identity_reviews_status_submitted_at", "identity_reviews", ["status", "submitted_at"]
    )
    op.create_table(
        "identity_documents",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("review_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("content_type", sa.String(length=50), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_identity_documents_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["identity_reviews.id"],
            name=op.f("fk_identity_documents_review_id_identity_reviews"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_documents")),
    )
    op.create_index(
        op.f("ix_identity_documents_customer_id"), "identity_documents", ["customer_id"]
    )
    op.create_index(op.f("ix_identity_documents_review_id"), "identity_documents", ["review_id"])


def downgrade() -> None:
    op.drop_table("identity_documents")
    op.drop_table("identity_reviews")
