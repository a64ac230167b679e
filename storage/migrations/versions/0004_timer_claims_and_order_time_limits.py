"""Timer claims (several sweeping instances) and the order's SLA time limits

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 07:46:07.752304
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sla_excellent_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("sla_deadline_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claimed_until", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        # Existing timers have never been tried.
        batch_op.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("outcome", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_column("last_error")
        batch_op.drop_column("outcome")
        batch_op.drop_column("attempts")
        batch_op.drop_column("claimed_until")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("sla_deadline_at")
        batch_op.drop_column("sla_excellent_at")
