"""Trust: faults told apart, deliveries in order (slot)

A numbered slot, so work that lands in parallel keeps one line of migrations; it is filled
in by the change that needs it and does nothing until then.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The outbox pump finds each chat's first pending delivery (messages in order).
    op.create_index("ix_deliveries_chat_order", "deliveries", ["state", "chat_id", "id"])
    # A webhook update that keeps failing is acknowledged after a few tries and kept here.
    with op.batch_alter_table("telegram_updates") as table:
        table.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        table.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        table.add_column(sa.Column("body", sa.JSON(), nullable=True))
        table.add_column(sa.Column("from_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("telegram_updates") as table:
        for column in ("from_id", "body", "last_error", "failures"):
            table.drop_column(column)
    op.drop_index("ix_deliveries_chat_order", table_name="deliveries")
