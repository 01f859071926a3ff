"""Branches: every purchase and handed-over reward names its shop; references unique per branch.

The club's one shop so far becomes branch ``main``: every purchase recorded before lands there,
and a key made for a branch code that has no row yet gets one (named by its code), so every key
names a real branch.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
MAIN = "main"


def upgrade() -> None:
    op.create_table(
        "branches",
        sa.Column("id", Id, nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("staff_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_branches"),
        sa.UniqueConstraint("code", name="uq_branches_code"),
        sa.UniqueConstraint("staff_chat_id", name="uq_branches_staff_chat_id"),
    )
    op.execute(
        "INSERT INTO branches (code, name, created_at) "
        f"VALUES ('{MAIN}', '{MAIN}', CURRENT_TIMESTAMP)"
    )
    op.execute(
        "INSERT INTO branches (code, name, created_at) "
        "SELECT DISTINCT branch, branch, CURRENT_TIMESTAMP FROM api_keys "
        f"WHERE branch <> '{MAIN}'"
    )
    rebuilt = op.get_bind().dialect.name == "sqlite"
    if rebuilt:
        # SQLite rebuilds purchases (copy, drop, rename), and dropping a table that referrals
        # point at fails: they let go of it meanwhile, and hold it again once it is rebuilt.
        op.execute(
            "CREATE TEMPORARY TABLE referral_purchases AS "
            "SELECT id, purchase_id FROM referrals WHERE purchase_id IS NOT NULL"
        )
        op.execute("UPDATE referrals SET purchase_id = NULL")
    with op.batch_alter_table("purchases") as batch:
        batch.add_column(sa.Column("branch_id", Id, nullable=True))
    op.execute(f"UPDATE purchases SET branch_id = (SELECT id FROM branches WHERE code = '{MAIN}')")
    with op.batch_alter_table("purchases") as batch:
        batch.alter_column("branch_id", existing_type=Id, nullable=False)
        batch.create_foreign_key(
            "fk_purchases_branch_id_branches", "branches", ["branch_id"], ["id"]
        )
        batch.drop_constraint("uq_purchases_reference", type_="unique")
        batch.create_unique_constraint("uq_purchases_branch_id", ["branch_id", "reference"])
    if rebuilt:
        op.execute(
            "UPDATE referrals SET purchase_id = (SELECT r.purchase_id FROM referral_purchases r "
            "WHERE r.id = referrals.id) WHERE id IN (SELECT id FROM referral_purchases)"
        )
        op.execute("DROP TABLE referral_purchases")
    with op.batch_alter_table("redemptions") as batch:
        batch.add_column(sa.Column("branch_id", Id, nullable=True))
        batch.create_foreign_key(
            "fk_redemptions_branch_id_branches", "branches", ["branch_id"], ["id"]
        )
    with op.batch_alter_table("api_keys") as batch:
        batch.create_foreign_key("fk_api_keys_branch_branches", "branches", ["branch"], ["code"])


def downgrade() -> None:
    """Back to one shop: fails if two branches used the same reference (it could not be unique)."""
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint("fk_api_keys_branch_branches", type_="foreignkey")
    with op.batch_alter_table("redemptions") as batch:
        batch.drop_constraint("fk_redemptions_branch_id_branches", type_="foreignkey")
        batch.drop_column("branch_id")
    with op.batch_alter_table("purchases") as batch:
        batch.drop_constraint("uq_purchases_branch_id", type_="unique")
        batch.create_unique_constraint("uq_purchases_reference", ["reference"])
        batch.drop_constraint("fk_purchases_branch_id_branches", type_="foreignkey")
        batch.drop_column("branch_id")
    op.drop_table("branches")
