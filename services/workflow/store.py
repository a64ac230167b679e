"""Versioned workflow definitions per shop (A1, A2).

A version, once written, never changes: orders point at the version they started with, so
editing a shop's workflow writes a new version and never strands an order.

Which version is a shop's current one (the one new orders start on) is kept per process for
CURRENT_TTL (services/expiring_cache.py): a version saved in this process is current for it
right after the commit; another instance starts its new orders on the version before for at
most CURRENT_TTL after it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.expiring_cache import ExpiringCache, for_database
from services.workflow.definition import Workflow
from services.workflow.reading import load_workflow
from storage.models import WorkflowDefinition

CURRENT_TTL = timedelta(seconds=5)
CURRENT_CACHE_SIZE = 4096  # shops


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

    async def current_id(self, session: AsyncSession, shop_id: int, now: datetime) -> int:
        """The id of the shop's current version, kept for a few seconds (see above)."""
        cache = _current_versions(session)
        kept = cache.get(shop_id, now)
        if kept is not None:
            return kept
        ticket = cache.ticket()
        definition_id = await session.scalar(
            select(WorkflowDefinition.id)
            .where(WorkflowDefinition.shop_id == shop_id)
            .order_by(WorkflowDefinition.version.desc())
            .limit(1)
        )
        if definition_id is None:
            raise LookupError(f"shop {shop_id} has no workflow")
        cache.put(shop_id, definition_id, now, ticket)
        return definition_id

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
        versions = _current_versions(session)
        # Forgotten when the new version is committed, not before: until then it is nobody's.
        event.listen(
            session.sync_session, "after_commit", lambda _: versions.forget(shop_id), once=True
        )
        return row


def _current_versions(session: AsyncSession) -> ExpiringCache[int, int]:
    return for_database(session.bind, "current_workflows", CURRENT_TTL, CURRENT_CACHE_SIZE)
