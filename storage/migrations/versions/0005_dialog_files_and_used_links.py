"""Files of e-mailed dialog messages, and the one-click links already used

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 08:18:31.537143
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "used_links",
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("used_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_used_links_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_used_links")),
    )
    with op.batch_alter_table("used_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_links_order_id"), ["order_id"], unique=False)

    op.create_table(
        "dialog_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dialog_message_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=127), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dialog_message_id"],
            ["dialog_messages.id"],
            name=op.f("fk_dialog_files_dialog_message_id_dialog_messages"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dialog_files")),
    )
    with op.batch_alter_table("dialog_files", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dialog_files_dialog_message_id"), ["dialog_message_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dialog_files", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dialog_files_dialog_message_id"))

    op.drop_table("dialog_files")
    with op.batch_alter_table("used_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_links_order_id"))

    op.drop_table("used_links")
