"""The security protocol: cases, their timeline, assessments and approvals.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "security_cases",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("ticket_id", sa.String(length=36), nullable=False),
        sa.Column("open_key", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("channel", sa.String(length=12), nullable=False),
        sa.Column("reported_by_type", sa.String(length=12), nullable=False),
        sa.Column("reported_by_id", sa.String(length=36), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("suspected_since", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("freeze_state", sa.String(length=24), nullable=False),
        sa.Column(
            "frozen_scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("freeze_error", sa.String(length=80), nullable=True),
        sa.Column("frozen_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unfrozen_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unfreeze_challenge_id", sa.String(length=36), nullable=True),
        sa.Column(
            "trace",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_security_cases_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["tickets.id"], name=op.f("fk_security_cases_ticket_id_tickets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_cases")),
        sa.UniqueConstraint("open_key", name=op.f("uq_security_cases_open_key")),
    )
    with op.batch_alter_table("security_cases", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_security_cases_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_security_cases_status"), ["status"], unique=False)

    op.create_table(
        "security_assessments",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("assessor_id", sa.String(length=36), nullable=False),
        sa.Column("platform_fault", sa.Boolean(), nullable=False),
        sa.Column(
            "amounts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("reasoning", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("payout_challenge_id", sa.String(length=36), nullable=True),
        sa.Column(
            "payouts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("paid_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["assessor_id"], ["agents.id"], name=op.f("fk_security_assessments_assessor_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["security_cases.id"],
            name=op.f("fk_security_assessments_case_id_security_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_assessments")),
    )
    with op.batch_alter_table("security_assessments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_security_assessments_case_id"), ["case_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_security_assessments_status"), ["status"], unique=False
        )

    op.create_table(
        "security_case_events",
        sa.Column("case_id", sa.String(length=36), nullable=False),
        sa.Column("at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("actor_type", sa.String(length=12), nullable=False),
        sa.Column("actor_id", sa.String(length=36), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["security_cases.id"],
            name=op.f("fk_security_case_events_case_id_security_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_case_events")),
    )
    with op.batch_alter_table("security_case_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_security_case_events_case_id"), ["case_id"], unique=False
        )

    op.create_table(
        "security_assessment_approvals",
        sa.Column("assessment_id", sa.String(length=36), nullable=False),
        sa.Column("approver_id", sa.String(length=36), nullable=False),
        sa.Column("approve", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["approver_id"],
            ["agents.id"],
            name=op.f("fk_security_assessment_approvals_approver_id_agents"),
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["security_assessments.id"],
            name=op.f("fk_security_assessment_approvals_assessment_id_security_assessments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_assessment_approvals")),
        sa.UniqueConstraint(
            "assessment_id",
            "approver_id",
            name=op.f("uq_security_assessment_approvals_assessment_id_approver_id"),
        ),
    )
    with op.batch_alter_table("security_assessment_approvals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_security_assessment_approvals_assessment_id"),
            ["assessment_id"],
            unique=False,
        )


def downgrade() -> None:

    with op.batch_alter_table("security_assessment_approvals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_assessment_approvals_assessment_id"))

    op.drop_table("security_assessment_approvals")
    with op.batch_alter_table("security_case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_case_events_case_id"))

    op.drop_table("security_case_events")
    with op.batch_alter_table("security_assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_assessments_status"))
        batch_op.drop_index(batch_op.f("ix_security_assessments_case_id"))

    op.drop_table("security_assessments")
    with op.batch_alter_table("security_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_cases_status"))
        batch_op.drop_index(batch_op.f("ix_security_cases_customer_id"))

    op.drop_table("security_cases")
