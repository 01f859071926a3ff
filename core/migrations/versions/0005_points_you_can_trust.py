"""Points you can trust: verified phones, owed points on lots, pending purchases, forgotten
identities, the club's own salt, and staff confirmations held for a button.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("members") as batch:
        batch.add_column(
            sa.Column("phone_verified", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("points_lots") as batch:
        batch.add_column(
            sa.Column("owed", sa.BigInteger(), nullable=False, server_default=sa.text("0"))
        )
    with op.batch_alter_table("purchases") as batch:
        batch.add_column(sa.Column("available_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_purchases_status_available", "purchases", ["status", "available_at"])
    op.create_table(
        "forgotten_identities",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name="pk_forgotten_identities"),
    )
    op.create_table(
        "club_secrets",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_club_secrets"),
    )
    op.create_table(
        "staff_confirmations",
        sa.Column("id", Id, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("requested_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_staff_confirmations"),
    )


def downgrade() -> None:
    op.drop_table("staff_confirmations")
    op.drop_table("club_secrets")
    op.drop_table("forgotten_identities")
    op.drop_index("ix_purchases_status_available", table_name="purchases")
    with op.batch_alter_table("purchases") as batch:
        batch.drop_column("available_at")
    with op.batch_alter_table("points_lots") as batch:
        batch.drop_column("owed")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("phone_verified")
