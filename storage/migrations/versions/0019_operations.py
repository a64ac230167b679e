"""Operations: personal data, shop suspension, key rotation (slot)

Shops suspended by the operator (when and why); when an order's and a buyer's personal data
were erased (a request to forget, or the shop's retention period); receipts of the e-mails
read from the IMAP mailbox, so a message is stored once even when marking it read fails.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.types

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("suspended_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("suspension_reason", sa.String(length=500), nullable=True))
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "personal_data_erased_at", storage.types.UTCDateTime(timezone=True), nullable=True
            )
        )
    with op.batch_alter_table("buyers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("erased_at", storage.types.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "inbound_emails",
        sa.Column("receipt", sa.String(length=64), nullable=False),
        sa.Column("received_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("receipt", name=op.f("pk_inbound_emails")),
    )
    op.create_index(
        op.f("ix_inbound_emails_received_at"), "inbound_emails", ["received_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_inbound_emails_received_at"), table_name="inbound_emails")
    op.drop_table("inbound_emails")
    with op.batch_alter_table("buyers", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("personal_data_erased_at")
    with op.batch_alter_table("shops", schema=None) as batch_op:
        batch_op.drop_column("suspension_reason")
        batch_op.drop_column("suspended_at")
