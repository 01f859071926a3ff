"""Staff audit log, lottery entries and draws, gift redemptions without a debit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 15:25:21.707300

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "audit_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("actor_name", sa.String(length=128), nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_audit_entries_member_id_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entries")),
    )
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_entries_member_created", ["member_id", "created_at"], unique=False
        )

    op.create_table(
        "draws",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "reward_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("policy", sa.String(length=16), nullable=False),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("entrants", sa.JSON(), nullable=False),
        sa.Column("winners", sa.JSON(), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["reward_id"], ["rewards.id"], name=op.f("fk_draws_reward_id_rewards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_draws")),
        sa.UniqueConstraint("reward_id", name=op.f("uq_draws_reward_id")),
    )
    op.create_table(
        "lottery_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "reward_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "member_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_lottery_entries_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["reward_id"], ["rewards.id"], name=op.f("fk_lottery_entries_reward_id_rewards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lottery_entries")),
        sa.UniqueConstraint("reward_id", "member_id", name=op.f("uq_lottery_entries_reward_id")),
    )
    with op.batch_alter_table("lottery_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lottery_entries_reward_id"), ["reward_id"], unique=False
        )

    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.alter_column("entry_id", existing_type=sa.BigInteger(), nullable=True)

    with op.batch_alter_table("rewards", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("weighted_draw", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("spend_window_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("rewards", schema=None) as batch_op:
        batch_op.drop_column("spend_window_days")
        batch_op.drop_column("weighted_draw")

    with op.batch_alter_table("redemptions", schema=None) as batch_op:
        batch_op.alter_column("entry_id", existing_type=sa.BigInteger(), nullable=False)

    with op.batch_alter_table("lottery_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lottery_entries_reward_id"))

    op.drop_table("lottery_entries")
    op.drop_table("draws")
    with op.batch_alter_table("audit_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entries_member_created")

    op.drop_table("audit_entries")
