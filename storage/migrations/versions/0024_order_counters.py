"""Order numbers: each shop's counter in a row of its own (order_counters)

The counter leaves the shop's row (issue 15): every new order updated that row while the
concurrent orders' foreign keys held it locked, and on PostgreSQL each of its versions then
carried a multixact every reader of the shop had to look up (storage.models.OrderCounter).
A shop with no order yet needs no row: its first number makes it (services.orders.numbers).

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_counters",
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_order_counters_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("shop_id", name=op.f("pk_order_counters")),
    )
    op.execute(
        "INSERT INTO order_counters (shop_id, last_number) "
        "SELECT id, last_order_number FROM shops WHERE last_order_number > 0"
    )
    # Not in batch mode: SQLite (3.35 and later) drops a column in place, where a batch would
    # copy the table and drop the old one, which deletes what refers to its rows.
    op.drop_column("shops", "last_order_number")


def downgrade() -> None:
    op.add_column(
        "shops",
        sa.Column("last_order_number", sa.Integer(), nullable=False, server_default="0"),
    )
    op.execute(
        "UPDATE shops SET last_order_number = (SELECT last_number FROM order_counters "
        "WHERE order_counters.shop_id = shops.id) "
        "WHERE id IN (SELECT shop_id FROM order_counters)"
    )
    op.drop_table("order_counters")
