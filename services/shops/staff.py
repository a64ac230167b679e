"""A shop's staff: invite links with a role, joining through them, the list, removal (C2).

An invite link carries a random token; only its SHA-256 is stored, so a leaked database does
not leak working links. A link makes one person staff, once, before it expires.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.orders.access import staff_roles
from services.refusals import Reason, Refused, invalid
from services.shops.auth import hash_token
from services.time.clock import Clock
from services.vocabulary import OWNER, STAFF_ROLES, SUPERVISOR_ROLES
from storage.database import reading
from storage.models import Shop, StaffInvite, StaffMember, User

DEFAULT_INVITE_TTL = timedelta(days=2)
# A shop has its owner(s) from creation; an invite never hands out ownership.
INVITABLE_ROLES = tuple(role for role in STAFF_ROLES if role != OWNER)


@dataclass(frozen=True)
class Joined:
    """What accepting an invite gave the person: this role in this shop."""

    shop: Shop
    role: str


@dataclass(frozen=True)
class StaffEntry:
    user: User
    roles: frozenset[str]


async def require_staff(session: AsyncSession, shop_id: int, user_id: int) -> frozenset[str]:
    """The person's roles in the shop; to anyone else the shop does not exist."""
    roles = await staff_roles(session, shop_id, user_id)
    if not roles:
        raise Refused(Reason.NOT_FOUND, "no such shop")
    return roles


async def require_supervisor(session: AsyncSession, shop_id: int, user_id: int) -> frozenset[str]:
    """The roles of an owner or admin of the shop; other staff are told they may not."""
    roles = await require_staff(session, shop_id, user_id)
    if not roles & SUPERVISOR_ROLES:
        raise Refused(Reason.FORBIDDEN, "only the shop's owner and admins may do this")
    return roles


class StaffService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    async def invite(
        self, shop_id: int, user_id: int, role: str, ttl: timedelta = DEFAULT_INVITE_TTL
    ) -> str:
        """A new invite's token, shown once: the link is `/start inv_<token>`."""
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            await require_supervisor(session, shop_id, user_id)
            if role not in INVITABLE_ROLES:
                raise invalid("role", f"invite as one of {', '.join(INVITABLE_ROLES)}")
            if ttl <= timedelta(0):
                raise invalid("ttl", "an invite must live for some time")
            token = secrets.token_urlsafe(16)
            session.add(
                StaffInvite(
                    shop_id=shop_id,
                    role=role,
                    token_hash=hash_token(token),
                    created_by_user_id=user_id,
                    created_at=now,
                    expires_at=now + ttl,
                )
            )
        return token

    async def accept(self, token: str, user_id: int) -> Joined:
        """The person who opened the link joins the shop in the invite's role."""
        now = self._clock.now()
        try:
            async with self._sessions() as session, session.begin():
                invite = await session.scalar(
                    select(StaffInvite).where(StaffInvite.token_hash == hash_token(token.strip()))
                )
                if invite is None:
                    raise Refused(Reason.NOT_FOUND, "no such invite")
                if invite.used_at is not None:
                    raise Refused(Reason.USED, "this invite has been used")
                if now >= invite.expires_at:
                    raise Refused(Reason.EXPIRED, "this invite has expired")
                if invite.role in await staff_roles(session, invite.shop_id, user_id):
                    # Left unused, so the owner can pass the link on to the person meant.
                    raise Refused(
                        Reason.ALREADY, f"already {invite.role} in this shop", {"role": invite.role}
                    )
                # Two people opening one link at once: the conditional update lets exactly
                # one claim it (PostgreSQL re-checks the row after the other commits;
                # SQLite runs the two transactions one after the other).
                claimed = await session.execute(
                    update(StaffInvite)
                    .where(StaffInvite.id == invite.id, StaffInvite.used_at.is_(None))
                    .values(used_at=now, used_by_user_id=user_id)
                    .execution_options(synchronize_session=False)
                )
                if claimed.rowcount != 1:
                    raise Refused(Reason.USED, "this invite has been used")
                session.add(
                    StaffMember(
                        shop_id=invite.shop_id, user_id=user_id, role=invite.role, created_at=now
                    )
                )
                await session.flush()
                shop = await session.get(Shop, invite.shop_id)
                return Joined(shop=shop, role=invite.role)
        except IntegrityError as error:
            # The same role arrived through another invite at the same moment; this one
            # was rolled back and stays unused.
            raise Refused(Reason.ALREADY, "already staff in this role") from error

    async def list(self, shop_id: int, user_id: int) -> list[StaffEntry]:
        """The shop's staff by name, each with all their roles; for the shop's staff only."""
        async with reading(self._sessions) as session:
            await require_staff(session, shop_id, user_id)
            rows = await session.execute(
                select(User, StaffMember.role)
                .join(StaffMember, StaffMember.user_id == User.id)
                .where(StaffMember.shop_id == shop_id)
                .order_by(User.name, User.id)
            )
            entries: dict[int, tuple[User, set[str]]] = {}
            for user, role in rows:
                entries.setdefault(user.id, (user, set()))[1].add(role)
            return [StaffEntry(user, frozenset(roles)) for user, roles in entries.values()]

    async def remove(
        self, shop_id: int, user_id: int, member_user_id: int, role: str | None = None
    ) -> frozenset[str]:
        """Take one role (or, with None, every role) from a member; returns what they keep."""
        async with self._sessions() as session, session.begin():
            # Locking the shop serializes removals, so two owners removing each other at
            # once cannot leave it with none.
            shop = await session.get(Shop, shop_id, with_for_update=True)
            if shop is None:
                raise Refused(Reason.NOT_FOUND, "no such shop")
            acting = await require_supervisor(session, shop_id, user_id)
            if role is not None and role not in STAFF_ROLES:
                raise invalid("role", f"unknown role '{role}'")
            held = await staff_roles(session, shop_id, member_user_id)
            if not held or (role is not None and role not in held):
                raise Refused(Reason.NOT_FOUND, "no such staff member in this role")
            if OWNER in held and OWNER not in acting:
                raise Refused(Reason.FORBIDDEN, "only an owner may change an owner's roles")
            removing = frozenset({role}) if role is not None else held
            if OWNER in removing:
                owners = await session.scalar(
                    select(func.count())
                    .select_from(StaffMember)
                    .where(StaffMember.shop_id == shop_id, StaffMember.role == OWNER)
                )
                if owners <= 1:
                    raise Refused(Reason.LAST_OWNER, "the shop's last owner cannot be removed")
            await session.execute(
                delete(StaffMember).where(
                    StaffMember.shop_id == shop_id,
                    StaffMember.user_id == member_user_id,
                    StaffMember.role.in_(removing),
                )
            )
            return held - removing

    async def roles(self, shop_id: int, user_id: int) -> frozenset[str]:
        """The person's roles in the shop; empty for anyone who is not its staff."""
        async with reading(self._sessions) as session:
            return await staff_roles(session, shop_id, user_id)
