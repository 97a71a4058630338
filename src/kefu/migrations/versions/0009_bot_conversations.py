"""Bot conversations and their (redacted) messages.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "bot_conversations",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("intent", sa.String(length=40), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("flow_step", sa.String(length=40), nullable=True),
        sa.Column("facts", JSON, nullable=False),
        sa.Column("misunderstood", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.String(length=36), nullable=True),
        sa.Column("handoff_reason", sa.String(length=30), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_bot_conversations_customer_id_customers"),
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_bot_conversations_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_conversations")),
    )
    op.create_index(
        "ix_bot_conversations_customer_created",
        "bot_conversations",
        ["customer_id", "created_at"],
    )
    op.create_table(
        "bot_messages",
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("author", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("intent", sa.String(length=40), nullable=True),
        sa.Column("confidence", sa.Float(), nullable=True),
        sa.Column("redactions", JSON, nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["bot_conversations.id"],
            name=op.f("fk_bot_messages_conversation_id_bot_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bot_messages")),
    )
    op.create_index(
        "ix_bot_messages_conversation_created", "bot_messages", ["conversation_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_bot_messages_conversation_created", table_name="bot_messages")
    op.drop_table("bot_messages")
    op.drop_index("ix_bot_conversations_customer_created", table_name="bot_conversations")
    op.drop_table("bot_conversations")
