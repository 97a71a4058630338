"""Live chat: chat sessions (verification code, sequence), the chat event log, and the
staff's public support identities.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "support_identities",
        sa.Column("agent_id", sa.String(length=36), nullable=False),
        sa.Column("handle", sa.String(length=40), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_support_identities_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agent_id", name=op.f("pk_support_identities")),
        sa.UniqueConstraint("handle", name=op.f("uq_support_identities_handle")),
    )
    op.create_table(
        "chat_sessions",
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("verification_code", sa.String(length=16), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_chat_sessions_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["bot_conversations.id"],
            name=op.f("fk_chat_sessions_conversation_id_bot_conversations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_chat_sessions_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("conversation_id", name=op.f("pk_chat_sessions")),
    )
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_chat_sessions_customer_created", ["customer_id", "created_at"], unique=False
        )

    op.create_table(
        "chat_events",
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("agent_id", sa.String(length=36), nullable=True),
        sa.Column("ticket_message_id", sa.String(length=36), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"], ["agents.id"], name=op.f("fk_chat_events_agent_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["chat_sessions.conversation_id"],
            name=op.f("fk_chat_events_conversation_id_chat_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_events")),
        sa.UniqueConstraint(
            "conversation_id", "client_id", name=op.f("uq_chat_events_conversation_id_client_id")
        ),
        sa.UniqueConstraint(
            "conversation_id", "seq", name=op.f("uq_chat_events_conversation_id_seq")
        ),
    )


def downgrade() -> None:
    op.drop_table("chat_events")
    with op.batch_alter_table("chat_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_chat_sessions_customer_created")

    op.drop_table("chat_sessions")
    op.drop_table("support_identities")
