"""A shop's workflow being edited: the draft, and the log of who changed the workflow.

The versions themselves are `WorkflowDefinition` rows (storage/models/shops.py); a draft
becomes one when it is saved and valid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class WorkflowDraft(Base):
    """The shop's edits not saved yet: one draft per shop, started from a version.

    Edits are kept here between taps because a change worth saving takes several of them
    (a new status is unreachable until a transition leads to it), and only a valid whole
    becomes a version.
    """

    __tablename__ = "workflow_drafts"

    shop_id: Mapped[int] = mapped_column(
        ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True
    )
    base_id: Mapped[int] = mapped_column(ForeignKey("workflow_definitions.id", ondelete="CASCADE"))
    body: Mapped[dict[str, Any]] = mapped_column()
    updated_at: Mapped[datetime]
    updated_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )


class WorkflowChange(Base):
    """The shop's audit log of its workflow: every edit, save, install and move of orders."""

    __tablename__ = "workflow_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    # None: the operator, from the command line.
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(40))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    definition_id: Mapped[int | None] = mapped_column(
        ForeignKey("workflow_definitions.id", ondelete="SET NULL")
    )
