"""The shop shapes its own workflow (issue 16): a draft, edited, saved as a new version.

Telegram's buttons, an uploaded file and the command line are three faces of this service.
Edits go to the shop's draft (a workflow mapping, started from the current version); a save
validates the whole with services/workflow/reading.py, so its problems read exactly as
`python -m bot workflow validate` prints them, and a valid draft becomes the next version.
Orders keep the version they started with until the shop moves its open orders
(OrderService.move_to_version). Only the owner and admins edit; every change is written to
the shop's workflow log (WorkflowChange).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.orders.actors import ActorRef, Channel
from services.orders.service import OrderService
from services.orders.versions import MovePlan
from services.refusals import Reason, Refused, invalid
from services.shops.staff import require_supervisor
from services.time.clock import Clock
from services.workflow import changes
from services.workflow.changes import Body, DraftError
from services.workflow.definition import Workflow, WorkflowError
from services.workflow.reading import load_workflow
from services.workflow.store import WorkflowStore
from storage.database import reading
from storage.models import Shop, WorkflowChange, WorkflowDefinition, WorkflowDraft

MAX_FILE_BYTES = 256 * 1024  # a real workflow is a few kilobytes; the biggest preset is 10


class WorkflowProblems(Refused):
    """The draft or file is not a valid workflow; `problems` as `workflow validate` says."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(Reason.INVALID, "; ".join(problems), {"field": "workflow"})


@dataclass(frozen=True)
class DraftView:
    shop_id: int
    body: Body
    current_version: int
    changed: bool  # differs from the current version
    workflow: Workflow | None  # the draft read as a workflow, when valid
    problems: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return self.workflow is not None


@dataclass(frozen=True)
class Saved:
    definition_id: int
    version: int
    workflow: Workflow
    moves: MovePlan  # the open orders on older versions a move would concern


def parse_file(data: bytes, name: str = "") -> Body:
    """A workflow file's bytes (YAML or JSON) as a mapping, or WorkflowProblems."""
    if len(data) > MAX_FILE_BYTES:
        raise WorkflowProblems(
            [f"the file is too big ({len(data)} bytes): at most {MAX_FILE_BYTES}"]
        )
    try:
        text = data.decode("utf-8")
        body = json.loads(text) if name.lower().endswith(".json") else yaml.safe_load(text)
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise WorkflowProblems([f"cannot read the file: {first}"]) from None
    if not isinstance(body, dict):
        raise WorkflowProblems(["the definition must be a mapping"])
    return body


def dump_file(body: Mapping[str, Any]) -> str:
    """A workflow as the YAML file a shop downloads and edits."""
    return yaml.safe_dump(dict(body), allow_unicode=True, sort_keys=False, width=100)


def problems_of(body: Body) -> tuple[Workflow | None, tuple[str, ...]]:
    try:
        return load_workflow(body), ()
    except WorkflowError as error:
        return None, tuple(error.problems)


class WorkflowEditor:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        workflows: WorkflowStore,
        orders: OrderService,
    ):
        self._sessions = sessions
        self._clock = clock
        self._workflows = workflows
        self._orders = orders

    # -- the draft -------------------------------------------------------------------------

    async def draft(self, shop_id: int, user_id: int) -> DraftView:
        """The shop's draft: its edits not saved yet, or the current version when none."""
        async with reading(self._sessions) as session:
            await require_supervisor(session, shop_id, user_id)
            current = await self._workflows.current(session, shop_id)
            row = await session.get(WorkflowDraft, shop_id)
            body = row.body if row is not None and row.base_id == current.id else current.body
            return _view(shop_id, copy.deepcopy(body), current)

    async def edit(
        self, shop_id: int, user_id: int, change: Callable[[Body], Any], what: str, **details: Any
    ) -> DraftView:
        """Apply one pure edit (services/workflow/changes.py) to the draft and keep it."""
        async with self._sessions() as session, session.begin():
            current = await self._lock(session, shop_id, user_id)
            row = await session.get(WorkflowDraft, shop_id)
            if row is not None and row.base_id != current.id:
                # The workflow changed under the draft (a preset, another admin's save):
                # edits start again from what new orders follow now.
                await session.delete(row)
                row = None
            body = copy.deepcopy(row.body if row is not None else current.body)
            try:
                change(body)
            except DraftError as error:
                raise invalid(error.field, str(error)) from None
            now = self._clock.now()
            if row is None:
                session.add(
                    WorkflowDraft(
                        shop_id=shop_id,
                        base_id=current.id,
                        body=body,
                        updated_at=now,
                        updated_by_user_id=user_id,
                    )
                )
            else:
                row.body, row.updated_at, row.updated_by_user_id = body, now, user_id
            self._log(session, shop_id, user_id, what, details)
            return _view(shop_id, copy.deepcopy(body), current)

    async def change(self, shop_id: int, user_id: int, name: str, *args: Any, **kw: Any):
        """One of the named EDITS on the draft, logged with its arguments."""
        edit = EDITS.get(name)
        if edit is None:
            raise invalid("edit", f"unknown edit '{name}'")
        return await self.edit(
            shop_id, user_id, lambda body: edit(body, *args, **kw), name, args=list(args), **kw
        )

    async def replace(self, shop_id: int, user_id: int, body: Body) -> DraftView:
        """An uploaded file becomes the draft, to be previewed and then installed."""
        return await self.edit(
            shop_id, user_id, lambda draft: (draft.clear(), draft.update(body)), "upload"
        )

    async def discard(self, shop_id: int, user_id: int) -> None:
        async with self._sessions() as session, session.begin():
            await self._lock(session, shop_id, user_id)
            row = await session.get(WorkflowDraft, shop_id)
            if row is not None:
                await session.delete(row)
                self._log(session, shop_id, user_id, "discard", {})

    async def save(self, shop_id: int, user_id: int) -> Saved:
        """The draft, validated, becomes the next version (WorkflowProblems otherwise)."""
        async with self._sessions() as session, session.begin():
            current = await self._lock(session, shop_id, user_id)
            row = await session.get(WorkflowDraft, shop_id)
            if row is None or row.base_id != current.id or row.body == current.body:
                raise Refused(Reason.ALREADY, "nothing to save: the draft has no changes")
            saved = await self._save(session, shop_id, user_id, row.body, "save")
            await session.delete(row)
        return await self._with_moves(shop_id, saved)

    async def install(self, shop_id: int, user_id: int | None, body: Body) -> Saved:
        """A whole workflow (a file) as the next version; `user_id` None: the operator."""
        async with self._sessions() as session, session.begin():
            current = await self._lock(session, shop_id, user_id)
            if body == current.body:
                raise Refused(Reason.ALREADY, "the shop's workflow is exactly this already")
            saved = await self._save(session, shop_id, user_id, body, "install")
            row = await session.get(WorkflowDraft, shop_id)
            if row is not None:
                await session.delete(row)
        return await self._with_moves(shop_id, saved)

    async def export(self, shop_id: int, user_id: int | None) -> tuple[int, Body]:
        """The current version and its definition (what the downloaded file holds)."""
        async with reading(self._sessions) as session:
            if user_id is not None:
                await require_supervisor(session, shop_id, user_id)
            elif await session.get(Shop, shop_id) is None:
                raise Refused(Reason.NOT_FOUND, "no such shop")
            current = await self._workflows.current(session, shop_id)
            return current.version, copy.deepcopy(current.body)

    # -- moving open orders ------------------------------------------------------------------

    async def move_plan(
        self, shop_id: int, user_id: int | None, mapping: Mapping[str, str] | None = None
    ) -> MovePlan:
        async with reading(self._sessions) as session:
            if user_id is not None:
                await require_supervisor(session, shop_id, user_id)
            current = await self._workflows.current(session, shop_id)
        return await self._orders.move_plan(shop_id, current.id, mapping)

    async def move_open_orders(
        self,
        shop_id: int,
        user_id: int | None,
        mapping: Mapping[str, str] | None = None,
        channel: Channel = Channel.TELEGRAM,
    ) -> int:
        """The shop's open orders go to the current version (the status mapping decides
        where those whose status is gone go); refused, changing nothing, if one would sit
        in a status the new version does not have."""
        async with reading(self._sessions) as session:
            if user_id is not None:
                await require_supervisor(session, shop_id, user_id)
            current = await self._workflows.current(session, shop_id)
        actor = (
            ActorRef.user(user_id, channel) if user_id is not None else ActorRef.system(Channel.CLI)
        )
        moved = await self._orders.move_to_version(shop_id, actor, current.id, mapping)
        async with self._sessions() as session, session.begin():
            self._log(
                session,
                shop_id,
                user_id,
                "move_orders",
                {"moved": moved, "mapping": dict(mapping or {})},
                current.id,
            )
        return moved

    # -- the pieces ------------------------------------------------------------------------

    async def _lock(
        self, session: AsyncSession, shop_id: int, user_id: int | None
    ) -> WorkflowDefinition:
        """Owner and admins only; the shop row locked: versions are numbered max + 1 and
        the draft is read, changed and written back, so two edits at once queue up."""
        if user_id is not None:
            await require_supervisor(session, shop_id, user_id)
        if await session.get(Shop, shop_id, with_for_update=True) is None:
            raise Refused(Reason.NOT_FOUND, "no such shop")
        return await self._workflows.current(session, shop_id)

    async def _save(
        self, session: AsyncSession, shop_id: int, user_id: int | None, body: Body, what: str
    ) -> WorkflowDefinition:
        try:
            saved = await self._workflows.save_version(
                session, shop_id, copy.deepcopy(body), self._clock.now()
            )
        except WorkflowError as error:
            raise WorkflowProblems(error.problems) from None
        self._log(session, shop_id, user_id, what, {"version": saved.version}, saved.id)
        return saved

    async def _with_moves(self, shop_id: int, saved: WorkflowDefinition) -> Saved:
        moves = await self._orders.move_plan(shop_id, saved.id)
        async with reading(self._sessions) as session:
            workflow = await self._workflows.get(session, saved.id)
        return Saved(saved.id, saved.version, workflow, moves)

    def _log(
        self,
        session: AsyncSession,
        shop_id: int,
        user_id: int | None,
        what: str,
        details: Mapping[str, Any],
        definition_id: int | None = None,
    ) -> None:
        session.add(
            WorkflowChange(
                shop_id=shop_id,
                user_id=user_id,
                created_at=self._clock.now(),
                action=what,
                details=dict(details),
                definition_id=definition_id,
            )
        )

    async def log(self, shop_id: int, user_id: int, limit: int = 20) -> list[WorkflowChange]:
        """The newest entries of the shop's workflow log."""
        async with reading(self._sessions) as session:
            await require_supervisor(session, shop_id, user_id)
            query = (
                select(WorkflowChange)
                .where(WorkflowChange.shop_id == shop_id)
                .order_by(WorkflowChange.id.desc())
                .limit(limit)
            )
            return list(await session.scalars(query))


def _view(shop_id: int, body: Body, current: WorkflowDefinition) -> DraftView:
    workflow, problems = problems_of(body)
    return DraftView(
        shop_id=shop_id,
        body=body,
        current_version=current.version,
        changed=body != current.body,
        workflow=workflow,
        problems=problems,
    )


# The edits the bot's buttons make, by name (the handler passes one of these to `edit`).
EDITS: dict[str, Callable[..., Any]] = {
    "add_status": changes.add_status,
    "rename_status": changes.rename_status,
    "move_status": changes.move_status,
    "place_status": changes.place_status,
    "retire_status": changes.retire_status,
    "set_responsible": changes.set_responsible,
    "set_buyer_visible": changes.set_buyer_visible,
    "set_limit": changes.set_limit,
    "add_transition": changes.add_transition,
    "remove_transition": changes.remove_transition,
    "redirect_transition": changes.redirect_transition,
    "insert_between": changes.insert_between,
    "add_timer": changes.add_timer,
    "remove_timer": changes.remove_timer,
    "add_reason": changes.add_reason,
    "remove_reason": changes.remove_reason,
    "set_reason_comment": changes.set_reason_comment,
}
