"""Left-overs of issues 17-19 (slot)

Payment notifications that could not be verified, kept for the shop to see (issue 17).

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.types import UTCDateTime

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rejected_payment_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=True),
        sa.Column("object_id", sa.String(length=128), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_rejected_payment_notices_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rejected_payment_notices")),
    )
    op.create_index(
        "ix_rejected_payment_notices_shop", "rejected_payment_notices", ["shop_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_rejected_payment_notices_shop", table_name="rejected_payment_notices")
    op.drop_table("rejected_payment_notices")
