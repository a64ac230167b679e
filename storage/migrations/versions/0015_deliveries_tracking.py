"""Carrier tracking and delivery details

A shop's carrier accounts (sealed credentials), the parcels followed at their carriers (timer
rows of their own, claimed through ix_parcel_trackings_due) and the checkpoints carriers
reported, each recorded once; the delivery date agreed with the buyer.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("courier_window", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("courier_phone", sa.String(length=20), nullable=True))
    op.create_table(
        "carrier_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("carrier", sa.String(length=16), nullable=False),
        sa.Column("credentials", sa.Text(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_carrier_accounts_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carrier_accounts")),
        sa.UniqueConstraint("shop_id", "carrier", name=op.f("uq_carrier_accounts_shop_id_carrier")),
    )
    op.create_table(
        "parcel_trackings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("carrier", sa.String(length=16), nullable=False),
        sa.Column("track_code", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("due_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("polls", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("moved_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_kind", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("stalled_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_parcel_trackings_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["shop_id"],
            ["shops.id"],
            name=op.f("fk_parcel_trackings_shop_id_shops"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parcel_trackings")),
        sa.UniqueConstraint(
            "order_id", "track_code", name=op.f("uq_parcel_trackings_order_id_track_code")
        ),
    )
    with op.batch_alter_table("parcel_trackings", schema=None) as batch_op:
        batch_op.create_index("ix_parcel_trackings_due", ["state", "due_at"], unique=False)

    op.create_table(
        "parcel_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tracking_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=False),
        sa.Column("carrier_code", sa.String(length=64), nullable=False),
        sa.Column("seen_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_parcel_checkpoints_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tracking_id"],
            ["parcel_trackings.id"],
            name=op.f("fk_parcel_checkpoints_tracking_id_parcel_trackings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_parcel_checkpoints")),
        sa.UniqueConstraint(
            "tracking_id",
            "carrier_code",
            "at",
            name=op.f("uq_parcel_checkpoints_tracking_id_carrier_code_at"),
        ),
    )
    with op.batch_alter_table("parcel_checkpoints", schema=None) as batch_op:
        batch_op.create_index("ix_parcel_checkpoints_order", ["order_id", "at"], unique=False)
        batch_op.create_index("ix_parcel_checkpoints_outcome", ["outcome"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("courier_phone")
        batch_op.drop_column("courier_window")
        batch_op.drop_column("delivery_date")
    with op.batch_alter_table("parcel_checkpoints", schema=None) as batch_op:
        batch_op.drop_index("ix_parcel_checkpoints_outcome")
        batch_op.drop_index("ix_parcel_checkpoints_order")

    op.drop_table("parcel_checkpoints")
    with op.batch_alter_table("parcel_trackings", schema=None) as batch_op:
        batch_op.drop_index("ix_parcel_trackings_due")

    op.drop_table("parcel_trackings")
    op.drop_table("carrier_accounts")
