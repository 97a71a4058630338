"""The demo exchange's tables (exchange_demo_*): the simulated exchange behind the port.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 06:55:54.027992
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kefu.core.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_demo_accounts",
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("jurisdiction", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "frozen_scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "withdrawals_locked_until", kefu.core.db.UTCDateTime(timezone=True), nullable=True
        ),
        sa.Column("kyc_level", sa.Integer(), nullable=False),
        sa.Column("kyc_stage", sa.String(length=20), nullable=False),
        sa.Column("kyc_submitted_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("kyc_expected_by", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("external_id", name=op.f("pk_exchange_demo_accounts")),
    )
    op.create_table(
        "exchange_demo_candles",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("open_time", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("open", sa.String(length=64), nullable=False),
        sa.Column("high", sa.String(length=64), nullable=False),
        sa.Column("low", sa.String(length=64), nullable=False),
        sa.Column("close", sa.String(length=64), nullable=False),
        sa.Column("volume", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint(
            "symbol", "kind", "open_time", name=op.f("pk_exchange_demo_candles")
        ),
    )
    op.create_table(
        "exchange_demo_controls",
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column("operation", sa.String(length=32), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "response",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_demo_controls")),
        sa.UniqueConstraint(
            "idempotency_key", name=op.f("uq_exchange_demo_controls_idempotency_key")
        ),
    )
    op.create_table(
        "exchange_demo_incidents",
        sa.Column("component", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("started_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_demo_incidents")),
    )
    with op.batch_alter_table("exchange_demo_incidents", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_demo_incidents_started_at"), ["started_at"], unique=False
        )

    op.create_table(
        "exchange_demo_api_keys",
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column(
            "permissions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["external_id"],
            ["exchange_demo_accounts.external_id"],
            name=op.f("fk_exchange_demo_api_keys_external_id_exchange_demo_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_demo_api_keys")),
    )
    with op.batch_alter_table("exchange_demo_api_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_demo_api_keys_external_id"), ["external_id"], unique=False
        )

    op.create_table(
        "exchange_demo_balances",
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("available", sa.String(length=64), nullable=False),
        sa.Column("locked", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["external_id"],
            ["exchange_demo_accounts.external_id"],
            name=op.f("fk_exchange_demo_balances_external_id_exchange_demo_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_demo_balances")),
        sa.UniqueConstraint(
            "external_id", "asset", name=op.f("uq_exchange_demo_balances_external_id_asset")
        ),
    )
    op.create_table(
        "exchange_demo_deposit_addresses",
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("chain", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("memo", sa.String(length=64), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["external_id"],
            ["exchange_demo_accounts.external_id"],
            name=op.f("fk_exchange_demo_deposit_addresses_external_id_exchange_demo_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_demo_deposit_addresses")),
    )
    with op.batch_alter_table("exchange_demo_deposit_addresses", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_demo_deposit_addresses_address"), ["address"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_exchange_demo_deposit_addresses_external_id"),
            ["external_id"],
            unique=False,
        )

    op.create_table(
        "exchange_demo_logins",
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("device", sa.String(length=120), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("result", sa.String(length=20), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["external_id"],
            ["exchange_demo_accounts.external_id"],
            name=op.f("fk_exchange_demo_logins_external_id_exchange_demo_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_demo_logins")),
    )
    with op.batch_alter_table("exchange_demo_logins", schema=None) as batch_op:
        batch_op.create_index(
            "ix_exchange_demo_logins_account", ["external_id", "at"], unique=False
        )

    op.create_table(
        "exchange_demo_payouts",
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["external_id"],
            ["exchange_demo_accounts.external_id"],
            name=op.f("fk_exchange_demo_payouts_external_id_exchange_demo_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_demo_payouts")),
    )
    with op.batch_alter_table("exchange_demo_payouts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_demo_payouts_external_id"), ["external_id"], unique=False
        )

    op.create_table(
        "exchange_demo_positions",
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("contract_type", sa.String(length=10), nullable=False),
        sa.Column("margin_mode", sa.String(length=10), nullable=False),
        sa.Column("side", sa.String(length=5), nullable=False),
        sa.Column("leverage", sa.String(length=64), nullable=False),
        sa.Column("entry_price", sa.String(length=64), nullable=False),
        sa.Column("size", sa.String(length=64), nullable=False),
        sa.Column("contract_size", sa.String(length=64), nullable=False),
        sa.Column("margin", sa.String(length=64), nullable=False),
        sa.Column("margin_asset", sa.String(length=16), nullable=False),
        sa.Column("mm_tier", sa.Integer(), nullable=False),
        sa.Column("mm_max_notional", sa.String(length=64), nullable=False),
        sa.Column("mm_rate", sa.String(length=64), nullable=False),
        sa.Column("mm_amount", sa.String(length=64), nullable=False),
        sa.Column("opened_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["external_id"],
            ["exchange_demo_accounts.external_id"],
            name=op.f("fk_exchange_demo_positions_external_id_exchange_demo_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_demo_positions")),
    )
    with op.batch_alter_table("exchange_demo_positions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_demo_positions_external_id"), ["external_id"], unique=False
        )

    op.create_table(
        "exchange_demo_sessions",
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("device", sa.String(length=120), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["external_id"],
            ["exchange_demo_accounts.external_id"],
            name=op.f("fk_exchange_demo_sessions_external_id_exchange_demo_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_demo_sessions")),
    )
    with op.batch_alter_table("exchange_demo_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_demo_sessions_external_id"), ["external_id"], unique=False
        )

    op.create_table(
        "exchange_demo_transfers",
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("chain", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.String(length=64), nullable=False),
        sa.Column("fee", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=128), nullable=False),
        sa.Column("tx_hash", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("confirmations", sa.Integer(), nullable=False),
        sa.Column("confirmations_required", sa.Integer(), nullable=False),
        sa.Column("created_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("completed_at", kefu.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["external_id"],
            ["exchange_demo_accounts.external_id"],
            name=op.f("fk_exchange_demo_transfers_external_id_exchange_demo_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_demo_transfers")),
    )
    with op.batch_alter_table("exchange_demo_transfers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_exchange_demo_transfers_account", ["external_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_exchange_demo_transfers_tx_hash"), ["tx_hash"], unique=False
        )

    op.create_table(
        "exchange_demo_liquidations",
        sa.Column("position_id", sa.String(length=36), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("triggered_at", kefu.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("trigger_price", sa.String(length=64), nullable=False),
        sa.Column("liquidation_price", sa.String(length=64), nullable=False),
        sa.Column("mark_price", sa.String(length=64), nullable=False),
        sa.Column("fee", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(
            ["external_id"],
            ["exchange_demo_accounts.external_id"],
            name=op.f("fk_exchange_demo_liquidations_external_id_exchange_demo_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["position_id"],
            ["exchange_demo_positions.id"],
            name=op.f("fk_exchange_demo_liquidations_position_id_exchange_demo_positions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_demo_liquidations")),
    )
    with op.batch_alter_table("exchange_demo_liquidations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_demo_liquidations_external_id"), ["external_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_exchange_demo_liquidations_position_id"), ["position_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("exchange_demo_liquidations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_demo_liquidations_position_id"))
        batch_op.drop_index(batch_op.f("ix_exchange_demo_liquidations_external_id"))

    op.drop_table("exchange_demo_liquidations")
    with op.batch_alter_table("exchange_demo_transfers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_demo_transfers_tx_hash"))
        batch_op.drop_index("ix_exchange_demo_transfers_account")

    op.drop_table("exchange_demo_transfers")
    with op.batch_alter_table("exchange_demo_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_demo_sessions_external_id"))

    op.drop_table("exchange_demo_sessions")
    with op.batch_alter_table("exchange_demo_positions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_demo_positions_external_id"))

    op.drop_table("exchange_demo_positions")
    with op.batch_alter_table("exchange_demo_payouts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_demo_payouts_external_id"))

    op.drop_table("exchange_demo_payouts")
    with op.batch_alter_table("exchange_demo_logins", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_demo_logins_account")

    op.drop_table("exchange_demo_logins")
    with op.batch_alter_table("exchange_demo_deposit_addresses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_demo_deposit_addresses_external_id"))
        batch_op.drop_index(batch_op.f("ix_exchange_demo_deposit_addresses_address"))

    op.drop_table("exchange_demo_deposit_addresses")
    op.drop_table("exchange_demo_balances")
    with op.batch_alter_table("exchange_demo_api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_demo_api_keys_external_id"))

    op.drop_table("exchange_demo_api_keys")
    with op.batch_alter_table("exchange_demo_incidents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_demo_incidents_started_at"))

    op.drop_table("exchange_demo_incidents")
    op.drop_table("exchange_demo_controls")
    op.drop_table("exchange_demo_candles")
    op.drop_table("exchange_demo_accounts")
