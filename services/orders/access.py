"""Who is asking, decided from identity alone: never from what a button or link carried."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.actors import ActorRef, ActorType, Channel
from services.refusals import OrderRefused, Problem
from services.vocabulary import ADMIN, SUPERVISOR_ROLES
from services.workflow.engine import Actor
from storage.models import Order, StaffMember

# Who may edit an order's contents (A6: "only the shop edits"): not packers or couriers.
EDITOR_ROLES = frozenset({"owner", "admin", "manager"})
# What the storefront API may do to an order: what the shop's admin may (H4).
SHOP_AUTHORITY = frozenset({ADMIN})


@dataclass(frozen=True)
class Who:
    """The asking person as the engine sees them, plus what the audit log records."""

    actor: Actor
    ref: ActorRef

    @property
    def is_staff(self) -> bool:
        return bool(self.actor.roles)

    def role_for(self, roles: frozenset[str]) -> str | None:
        """The staff role in which they act: one the step lists, else their supervisor role."""
        mine = sorted(self.actor.roles & roles) or sorted(self.actor.roles & SUPERVISOR_ROLES)
        return mine[0] if mine else None


async def staff_roles(session: AsyncSession, shop_id: int, user_id: int | None) -> frozenset[str]:
    if user_id is None:
        return frozenset()
    rows = await session.scalars(
        select(StaffMember.role).where(
            StaffMember.shop_id == shop_id, StaffMember.user_id == user_id
        )
    )
    return frozenset(rows)


async def who_is(
    session: AsyncSession, order: Order, ref: ActorRef, *, roles: frozenset[str] | None = None
) -> Who:
    """Staff of the order's shop, its buyer, or the system; strangers learn nothing.

    `roles`: the person's staff roles in the order's shop, if already read with the order.
    """
    if ref.type is ActorType.SYSTEM:
        if ref.channel is Channel.API:
            # The storefront's token speaks for the shop (an owner or admin made it): it
            # may do what the shop's admin may, recorded as the system on the API channel.
            return Who(Actor(roles=SHOP_AUTHORITY), ref)
        return Who(Actor.system(), ref)
    if ref.type is ActorType.BUYER:
        if ref.buyer_id != order.buyer_id:
            raise OrderRefused(Problem.NOT_FOUND, "no such order")
        return Who(Actor.buyer(), ref)
    if roles is None:
        roles = await staff_roles(session, order.shop_id, ref.user_id)
    is_buyer = order.buyer.user_id is not None and order.buyer.user_id == ref.user_id
    if not roles and not is_buyer:
        raise OrderRefused(Problem.NOT_FOUND, "no such order")
    return Who(Actor(roles=roles, is_buyer=is_buyer), ref)


async def creator(session: AsyncSession, shop_id: int, ref: ActorRef) -> Who:
    """Orders come from the storefront (system) or the shop's staff (A3)."""
    if ref.type is ActorType.SYSTEM:
        return Who(Actor.system(), ref)
    if ref.type is ActorType.USER:
        roles = await staff_roles(session, shop_id, ref.user_id)
        if roles:
            return Who(Actor(roles=roles), ref)
    raise OrderRefused(Problem.FORBIDDEN, "only the shop's staff create orders by hand")


def require_editor(who: Who, edit: str) -> None:
    if not who.actor.roles & EDITOR_ROLES:
        raise OrderRefused(
            Problem.FORBIDDEN, "only the shop's managers edit orders", {"edit": edit}
        )
