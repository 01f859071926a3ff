"""Indexes for the expiry sweep: open lots by expiry date; no index on draws by lot.

The old index on ``(expires_at, remaining)`` held every lot ever opened; the expiry sweep and the
expiry warnings read only lots with points left, and every lot the sweep closed stayed in their
way (and its ``remaining`` changing moved its entry). The new index holds open lots only: a lot
leaves it when it is spent or expires. Lot draws are only ever read by their entry (to restore a
debit); their index by lot cost every spend and expiry a write and served no query.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 18:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("remaining > 0")


def upgrade() -> None:
    op.drop_index("ix_lot_draws_lot_id", table_name="lot_draws")
    op.drop_index("ix_points_lots_expiry", table_name="points_lots")
    op.create_index(
        "ix_points_lots_open_due", "points_lots", ["expires_at", "id"],
        sqlite_where=OPEN, postgresql_where=OPEN,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_points_lots_open_due", table_name="points_lots")
    op.create_index("ix_points_lots_expiry", "points_lots", ["expires_at", "remaining"])
    op.create_index("ix_lot_draws_lot_id", "lot_draws", ["lot_id"])
