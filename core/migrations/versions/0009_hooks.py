"""Hooks (the shop's URLs that events are posted to) and their outbox of deliveries.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 16:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "hooks",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_hooks"),
    )
    op.create_table(
        "hook_deliveries",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("hook_id", Id, nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["hook_id"], ["hooks.id"], name="fk_hook_deliveries_hook_id_hooks"),
        sa.PrimaryKeyConstraint("id", name="pk_hook_deliveries"),
        sa.UniqueConstraint("hook_id", "event_id", name="uq_hook_deliveries_hook_id"),
    )
    op.create_index(
        "ix_hook_deliveries_status_not_before",
        "hook_deliveries",
        ["status", "not_before", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_hook_deliveries_status_not_before", table_name="hook_deliveries")
    op.drop_table("hook_deliveries")
    op.drop_table("hooks")
