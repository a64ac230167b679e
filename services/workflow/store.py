"""Versioned workflow definitions per shop (A1, A2).

A version, once written, never changes: orders point at the version they started with, so
editing a shop's workflow writes a new version and never strands an order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.workflow.definition import Workflow
from services.workflow.reading import load_workflow
from storage.models import WorkflowDefinition


class WorkflowStore:
    """Reads definitions by id, caching the parsed Workflow: versions are immutable."""

    def __init__(self) -> None:
        self._cache: dict[int, Workflow] = {}

    async def get(self, session: AsyncSession, definition_id: int) -> Workflow:
        workflow = self._cache.get(definition_id)
        if workflow is None:
            row = await session.get(WorkflowDefinition, definition_id)
            if row is None:
                raise LookupError(f"no workflow definition {definition_id}")
            workflow = load_workflow(row.body)
            self._cache[definition_id] = workflow
        return workflow

    async def current(self, session: AsyncSession, shop_id: int) -> WorkflowDefinition:
        """The newest version of the shop's workflow: new orders start on it."""
        row = await session.scalar(
            select(WorkflowDefinition)
            .where(WorkflowDefinition.shop_id == shop_id)
            .order_by(WorkflowDefinition.version.desc())
            .limit(1)
        )
        if row is None:
            raise LookupError(f"shop {shop_id} has no workflow")
        return row

    async def save_version(
        self, session: AsyncSession, shop_id: int, body: dict[str, Any], now: datetime
    ) -> WorkflowDefinition:
        """Validate and store a new version (raises WorkflowError naming the problem)."""
        workflow = load_workflow(body)
        latest = await session.scalar(
            select(func.max(WorkflowDefinition.version)).where(
                WorkflowDefinition.shop_id == shop_id
            )
        )
        row = WorkflowDefinition(
            shop_id=shop_id,
            code=workflow.code,
            version=(latest or 0) + 1,
            body=body,
            created_at=now,
        )
        session.add(row)
        await session.flush()
        self._cache[row.id] = workflow
        return row
