"""Failed sign-ins, for throttling password guessing.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("email_digest", sa.String(length=64), nullable=False),
        sa.Column("at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    op.create_index(
        "ix_sign_in_failures_email_digest_at", "sign_in_failures", ["email_digest", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_sign_in_failures_email_digest_at", table_name="sign_in_failures")
    op.drop_table("sign_in_failures")
