"""Polish for Russian-speaking shops (slot)

A numbered slot, so work that lands in parallel keeps one line of migrations; it is filled
in by the change that needs it and does nothing until then.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The number the storefront showed the buyer ("#1001"), printed beside ours in e-mails
    # and documents; external_id stays the storefront's internal id (idempotency).
    op.add_column("orders", sa.Column("storefront_number", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("orders", "storefront_number")
