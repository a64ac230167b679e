"""Storefront API both ways and platform connectors

The storefront's list filters (orders changed since, created between) and a shop's webhook
delivery log get their indexes; one-click-buy callback requests; shops' connections to
WooCommerce, Shopify and Tilda with their sealed credentials, and what those platforms sent.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "shop_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("path_token", sa.String(length=64), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=False),
        sa.Column("shown", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_shop_connections_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shop_connections")),
        sa.UniqueConstraint("path_token", name=op.f("uq_shop_connections_path_token")),
        sa.UniqueConstraint(
            "shop_id", "platform", name=op.f("uq_shop_connections_shop_id_platform")
        ),
    )
    op.create_table(
        "callback_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("product_sku", sa.String(length=64), nullable=False),
        sa.Column("product_name", sa.String(length=256), nullable=False),
        sa.Column("product_price", sa.BigInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("taken_by_user_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_callback_requests_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["taken_by_user_id"],
            ["users.id"],
            name=op.f("fk_callback_requests_taken_by_user_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_requests")),
    )
    op.create_index(
        "ix_callback_requests_shop_created", "callback_requests", ["shop_id", "created_at"]
    )
    op.create_table(
        "connector_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connection_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("delivery_id", sa.String(length=128), nullable=True),
        sa.Column("platform_order_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("order_numbers", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["shop_connections.id"],
            name=op.f("fk_connector_deliveries_connection_id_shop_connections"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_connector_deliveries_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_deliveries")),
    )
    op.create_index(
        "ix_connector_deliveries_connection_delivery",
        "connector_deliveries",
        ["connection_id", "delivery_id"],
    )
    op.create_index("ix_connector_deliveries_shop", "connector_deliveries", ["shop_id", "id"])
    # (shop_id, created_at) is served by 0017's ix_orders_shop_created (shop_id, created_at, id).
    op.create_index("ix_orders_shop_updated", "orders", ["shop_id", "updated_at"])
    op.create_index("ix_outbox_shop_channel", "outbox", ["shop_id", "channel", "id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_shop_channel", table_name="outbox")
    op.drop_index("ix_orders_shop_updated", table_name="orders")
    op.drop_table("connector_deliveries")
    op.drop_table("callback_requests")
    op.drop_table("shop_connections")
