"""Trust: buyer identity, money after splits and edits (slot)

A numbered slot, so work that lands in parallel keeps one line of migrations; it is filled
in by the change that needs it and does nothing until then.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
