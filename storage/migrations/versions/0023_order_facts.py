"""Orders: whether goods were reserved for them, whether a provider's payment was applied

Two flags on orders (issue 15), so that a cancellation of an order that never held goods
and was never paid through a provider reads neither its stock movements nor its payments.
Filled from the rows that say so: any movement of the order that changed what it holds, any
payment of it with the outcome "paid".

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # In place (ALTER TABLE ... ADD COLUMN), on SQLite too: a constant default needs no copy.
    for name in ("reserved_stock", "provider_paid"):
        op.add_column("orders", sa.Column(name, sa.Boolean(), nullable=False, server_default="0"))
    orders = sa.table(
        "orders",
        sa.column("id", sa.Integer),
        sa.column("reserved_stock", sa.Boolean),
        sa.column("provider_paid", sa.Boolean),
    )
    movements = sa.table(
        "stock_movements",
        sa.column("order_id", sa.Integer),
        sa.column("reserved_delta", sa.Integer),
    )
    payments = sa.table("payments", sa.column("order_id", sa.Integer), sa.column("outcome"))
    held = sa.select(movements.c.order_id).where(movements.c.reserved_delta != 0)
    op.execute(orders.update().where(orders.c.id.in_(held)).values(reserved_stock=True))
    paid = sa.select(payments.c.order_id).where(payments.c.outcome == "paid")
    op.execute(orders.update().where(orders.c.id.in_(paid)).values(provider_paid=True))


def downgrade() -> None:
    # Not in batch mode: SQLite (3.35 and later) drops a column in place, where a batch would
    # copy the table and drop the old one, which deletes what refers to its rows.
    op.drop_column("orders", "provider_paid")
    op.drop_column("orders", "reserved_stock")
