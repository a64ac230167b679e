"""Whose desk this is: the shops a person works in, with their roles and workflow versions.

Orders keep the workflow version they started with (A1), so "open", "mine" and a status's
title are answered per version, as the chat's order list does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.refusals import Reason, Refused
from services.vocabulary import SUPERVISOR_ROLES
from services.workflow.definition import Status, Workflow
from services.workflow.store import WorkflowStore
from storage.database import reading
from storage.models import Order, Shop, StaffMember, WorkflowDefinition


@dataclass(frozen=True)
class DeskShop:
    """A shop on this person's desk."""

    shop: Shop
    roles: frozenset[str]
    versions: Mapping[int, Workflow]  # every version of its workflow, by definition id
    current: Workflow  # the version new orders start with

    @property
    def id(self) -> int:
        return self.shop.id

    def status_of(self, workflow_id: int, code: str) -> Status | None:
        workflow = self.versions.get(workflow_id)
        if workflow is None:
            return None
        try:
            return workflow.status(code)
        except KeyError:
            return None


async def desk_shops(
    session: AsyncSession, workflows: WorkflowStore, user_id: int, shop_id: int | None = None
) -> list[DeskShop]:
    """The shops this person is staff of (just `shop_id` when given); refused if none."""
    query = (
        select(Shop, StaffMember.role)
        .join(StaffMember, StaffMember.shop_id == Shop.id)
        .where(StaffMember.user_id == user_id)
        .order_by(Shop.name, Shop.id)
    )
    if shop_id is not None:
        query = query.where(Shop.id == shop_id)
    found: dict[int, tuple[Shop, set[str]]] = {}
    for shop, role in await session.execute(query):
        found.setdefault(shop.id, (shop, set()))[1].add(role)
    if not found:
        raise Refused(Reason.NOT_FOUND, "no shop of yours")
    definitions = await session.execute(
        select(WorkflowDefinition.id, WorkflowDefinition.shop_id, WorkflowDefinition.version)
        .where(WorkflowDefinition.shop_id.in_(list(found)))
        .order_by(WorkflowDefinition.version)
    )
    versions: dict[int, dict[int, Workflow]] = defaultdict(dict)
    current: dict[int, int] = {}
    for definition_id, owner, _version in definitions:
        versions[owner][definition_id] = await workflows.get(session, definition_id)
        current[owner] = definition_id  # the highest version comes last
    return [
        DeskShop(shop, frozenset(roles), versions[id_], versions[id_][current[id_]])
        for id_, (shop, roles) in found.items()
    ]


def in_statuses(shop: DeskShop, keep: Callable[[Status], bool]) -> ColumnElement:
    """This shop's orders whose status, in their own workflow version, `keep` accepts.

    `status IN (...)` stands on its own beside `shop_id`, so the (shop_id, status) index
    finds them; where versions disagree on a code, the version decides.
    """
    by_codes: dict[frozenset[str], list[int]] = defaultdict(list)
    for definition_id, workflow in shop.versions.items():
        codes = frozenset(s.code for s in workflow.statuses if keep(s))
        if codes:
            by_codes[codes].append(definition_id)
    if not by_codes:
        return false()
    every = sorted(set().union(*by_codes))
    where = [Order.shop_id == shop.id, Order.status.in_(every)]
    if len(by_codes) > 1 or len(shop.versions) > len(next(iter(by_codes.values()))):
        where.append(
            or_(
                *(
                    and_(Order.workflow_id.in_(ids), Order.status.in_(sorted(codes)))
                    for codes, ids in by_codes.items()
                )
            )
        )
    return and_(*where)


def open_statuses(shop: DeskShop) -> ColumnElement:
    return in_statuses(shop, lambda s: not s.is_final)


def mine(shop: DeskShop) -> ColumnElement:
    """Orders waiting for this person's roles; an owner's or admin's is everything open."""
    if shop.roles & SUPERVISOR_ROLES:
        return open_statuses(shop)
    return in_statuses(shop, lambda s: not s.is_final and s.responsible in shop.roles)


class DeskScope:
    """The shops on a person's desk, for pages that show one shop (board, workflow, ...)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], workflows: WorkflowStore):
        self._sessions = sessions
        self._workflows = workflows

    async def shops(self, user_id: int, shop_id: int | None = None) -> list[DeskShop]:
        async with reading(self._sessions) as session:
            return await desk_shops(session, self._workflows, user_id, shop_id)
