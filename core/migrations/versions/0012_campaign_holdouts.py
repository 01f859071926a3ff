"""Campaign holdouts: the members of a campaign run kept out of it as its control group.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 17:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "campaign_holdouts",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("campaign_id", Id, nullable=False),
        sa.Column("run", sa.Integer(), nullable=False),
        sa.Column("member_id", Id, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name="fk_campaign_holdouts_campaign_id_campaigns"
        ),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name="fk_campaign_holdouts_member_id_members"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_campaign_holdouts"),
        sa.UniqueConstraint(
            "campaign_id", "run", "member_id", name="uq_campaign_holdouts_campaign_id"
        ),
    )


def downgrade() -> None:
    op.drop_table("campaign_holdouts")
