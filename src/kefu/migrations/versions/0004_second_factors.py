"""Second factors (TOTP, recovery and SMS codes), step-up challenges, four-eyes approvals.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kefu.core.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "mfa_failures",
        sa.Column("owner_type", sa.String(length=10), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("factor", sa.String(length=20), nullable=False),
        sa.Column("at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfa_failures")),
    )
    with op.batch_alter_table("mfa_failures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mfa_failures_owner_at", ["owner_type", "owner_id", "at"], unique=False
        )

    op.create_table(
        "mfa_recovery_codes",
        sa.Column("owner_type", sa.String(length=10), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfa_recovery_codes")),
    )
    with op.batch_alter_table("mfa_recovery_codes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mfa_recovery_codes_owner", ["owner_type", "owner_id"], unique=False
        )

    op.create_table(
        "mfa_totp_credentials",
        sa.Column("owner_type", sa.String(length=10), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("sealed_seed", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("disabled_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_step", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfa_totp_credentials")),
    )
    with op.batch_alter_table("mfa_totp_credentials", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mfa_totp_credentials_owner", ["owner_type", "owner_id"], unique=False
        )

    op.create_table(
        "sms_codes",
        sa.Column("owner_type", sa.String(length=10), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("phone_digest", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=80), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_codes")),
    )
    with op.batch_alter_table("sms_codes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sms_codes_phone_digest_created_at", ["phone_digest", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_sms_codes_purpose"), ["purpose"], unique=False)

    op.create_table(
        "sms_outbox",
        sa.Column("to", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_outbox")),
    )
    op.create_table(
        "step_up_policy_overrides",
        sa.Column("operation", sa.String(length=60), nullable=False),
        sa.Column("rules", kefu.core.db.JSONType, nullable=False),
        sa.Column("updated_by", sa.String(length=36), nullable=True),
        sa.Column("updated_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_up_policy_overrides")),
        sa.UniqueConstraint("operation", name=op.f("uq_step_up_policy_overrides_operation")),
    )
    op.create_table(
        "step_up_challenges",
        sa.Column("operation", sa.String(length=60), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("payload", kefu.core.db.JSONType, nullable=False),
        sa.Column("created_by_type", sa.String(length=10), nullable=False),
        sa.Column("created_by_id", sa.String(length=36), nullable=True),
        sa.Column("acting_agent_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("consumed_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["acting_agent_id"],
            ["agents.id"],
            name=op.f("fk_step_up_challenges_acting_agent_id_agents"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_step_up_challenges_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_up_challenges")),
    )
    with op.batch_alter_table("step_up_challenges", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_step_up_challenges_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "approval_requests",
        sa.Column("challenge_id", sa.String(length=36), nullable=False),
        sa.Column("operation", sa.String(length=60), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("requester_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("decided_by_id", sa.String(length=36), nullable=True),
        sa.Column("decided_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("executed_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["step_up_challenges.id"],
            name=op.f("fk_approval_requests_challenge_id_step_up_challenges"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_approval_requests_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["agents.id"], name=op.f("fk_approval_requests_decided_by_id_agents")
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"], ["agents.id"], name=op.f("fk_approval_requests_requester_id_agents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_requests")),
        sa.UniqueConstraint("challenge_id", name=op.f("uq_approval_requests_challenge_id")),
    )
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approval_requests_status"), ["status"], unique=False)

    op.create_table(
        "step_up_verifications",
        sa.Column("challenge_id", sa.String(length=36), nullable=False),
        sa.Column("factor", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=10), nullable=False),
        sa.Column("actor_id", sa.String(length=36), nullable=False),
        sa.Column("verified_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["challenge_id"],
            ["step_up_challenges.id"],
            name=op.f("fk_step_up_verifications_challenge_id_step_up_challenges"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_up_verifications")),
    )
    with op.batch_alter_table("step_up_verifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_step_up_verifications_challenge_id"), ["challenge_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("step_up_verifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_step_up_verifications_challenge_id"))

    op.drop_table("step_up_verifications")
    with op.batch_alter_table("approval_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approval_requests_status"))

    op.drop_table("approval_requests")
    with op.batch_alter_table("step_up_challenges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_step_up_challenges_customer_id"))

    op.drop_table("step_up_challenges")
    op.drop_table("step_up_policy_overrides")
    op.drop_table("sms_outbox")
    with op.batch_alter_table("sms_codes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_codes_purpose"))
        batch_op.drop_index("ix_sms_codes_phone_digest_created_at")

    op.drop_table("sms_codes")
    with op.batch_alter_table("mfa_totp_credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_mfa_totp_credentials_owner")

    op.drop_table("mfa_totp_credentials")
    with op.batch_alter_table("mfa_recovery_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_mfa_recovery_codes_owner")

    op.drop_table("mfa_recovery_codes")
    with op.batch_alter_table("mfa_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_mfa_failures_owner_at")

    op.drop_table("mfa_failures")
