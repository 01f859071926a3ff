"""Campaign drafts: the request that saved a campaign, so a retried save saves it once.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 14:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("request_key", sa.String(length=128), nullable=True))
    op.create_index("ix_campaigns_request_key", "campaigns", ["request_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_campaigns_request_key", table_name="campaigns")
    op.drop_column("campaigns", "request_key")
