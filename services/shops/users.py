"""People the bot knows by their Telegram account: their profile and the shops they work in."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.refusals import Reason, Refused, invalid
from services.time.clock import Clock
from services.vocabulary import DEFAULT_LANGUAGE, LANGUAGES, SUPERVISOR_ROLES
from storage.database import reading
from storage.models import Shop, StaffMember, User

NAME_LENGTH = 128
USERNAME_LENGTH = 64


def pick_language(chosen: str | None, telegram_code: str | None) -> str:
    """The person's own choice, else their Telegram app's language when we speak it (C7)."""
    if chosen in LANGUAGES:
        return chosen
    code = (telegram_code or "").split("-")[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


class Person(Protocol):
    """A person as the edges read them (what `touch` returns): handlers show and pass these
    fields on, and change a person only through this service."""

    @property
    def id(self) -> int: ...
    @property
    def telegram_id(self) -> int | None: ...
    @property
    def name(self) -> str: ...
    @property
    def username(self) -> str | None: ...
    @property
    def language(self) -> str | None: ...  # chosen; None: their Telegram app's
    @property
    def telegram_language(self) -> str | None: ...


@dataclass(frozen=True)
class Membership:
    """A shop this person works in, with their roles there."""

    shop: Shop
    roles: frozenset[str]

    @property
    def is_supervisor(self) -> bool:
        return bool(self.roles & SUPERVISOR_ROLES)


# How long a person read for one update serves the next ones. Every update needs them;
# a change this instance makes (language) updates the cache at once, one made by another
# instance is seen within this time.
KNOWN_FOR_SECONDS = 30.0


class UserService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock
        # telegram id -> (user, monotonic time it was read): a cache, not domain time.
        self._known: dict[int, tuple[User, float]] = {}

    async def touch(
        self,
        telegram_id: int,
        *,
        name: str,
        username: str | None = None,
        telegram_language: str | None = None,
    ) -> User:
        """The person behind a Telegram update, created on first sight, name kept current.

        The language is theirs to choose (set_language); Telegram's never overwrites it.
        """
        name = (name or "").strip()[:NAME_LENGTH]
        username = (username or "").strip()[:USERNAME_LENGTH] or None
        known = self._known.get(telegram_id)
        if known is not None and time.monotonic() - known[1] < KNOWN_FOR_SECONDS:
            user = known[0]
        else:
            # Every update passes here: read first, write only when something is new.
            async with reading(self._sessions) as session:
                user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
        telegram_language = (telegram_language or "")[:16] or None
        seen = (name, username, telegram_language)
        if user is None or (user.name, user.username, user.telegram_language) != seen:
            try:
                user = await self._touch(telegram_id, *seen)
            except IntegrityError:
                # Two first updates from one person at once: the other created the row.
                user = await self._touch(telegram_id, *seen)
        self._remember(user)
        return user

    def _remember(self, user: User) -> None:
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[user.telegram_id] = (user, time.monotonic())

    async def _touch(
        self, telegram_id: int, name: str, username: str | None, telegram_language: str | None
    ) -> User:
        async with self._sessions() as session, session.begin():
            user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
            if user is None:
                user = User(
                    telegram_id=telegram_id,
                    name=name,
                    username=username,
                    telegram_language=telegram_language,
                    created_at=self._clock.now(),
                )
                session.add(user)
                await session.flush()
            else:
                # Assigning equal values issues no UPDATE: most updates change nothing.
                user.name = name
                user.username = username
                user.telegram_language = telegram_language
            return user

    async def get(self, user_id: int) -> User:
        """The person with this id (the Mini App's desktop session knows only the id)."""
        async with reading(self._sessions) as session:
            return await _user(session, user_id)

    async def set_language(self, user_id: int, language: str) -> User:
        if language not in LANGUAGES:
            raise invalid("language", f"use one of {', '.join(LANGUAGES)}")
        async with self._sessions() as session, session.begin():
            user = await _user(session, user_id)
            user.language = language
        if user.telegram_id is not None:
            self._remember(user)
        return user

    async def memberships(self, user_id: int) -> list[Membership]:
        """The shops this person is staff of, by name."""
        async with reading(self._sessions) as session:
            return await _memberships(session, user_id)

    async def current_shop(self, user_id: int) -> Membership | None:
        """The shop they chose last, while they still work there; else their first shop."""
        async with reading(self._sessions) as session:
            user = await _user(session, user_id)
            memberships = await _memberships(session, user_id)
            chosen = [m for m in memberships if m.shop.id == user.current_shop_id]
            return (chosen or memberships or [None])[0]

    async def switch_shop(self, user_id: int, shop_id: int) -> Membership:
        async with self._sessions() as session, session.begin():
            user = await _user(session, user_id)
            membership = next(
                (m for m in await _memberships(session, user_id) if m.shop.id == shop_id), None
            )
            if membership is None:
                raise Refused(Reason.NOT_FOUND, "no such shop")
            user.current_shop_id = shop_id
            return membership


async def _user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise Refused(Reason.NOT_FOUND, "no such user")
    return user


async def _memberships(session: AsyncSession, user_id: int) -> list[Membership]:
    rows = await session.execute(
        select(Shop, StaffMember.role)
        .join(StaffMember, StaffMember.shop_id == Shop.id)
        .where(StaffMember.user_id == user_id)
        .order_by(Shop.name, Shop.id)
    )
    shops: dict[int, tuple[Shop, set[str]]] = {}
    for shop, role in rows:
        shops.setdefault(shop.id, (shop, set()))[1].add(role)
    return [Membership(shop, frozenset(roles)) for shop, roles in shops.values()]
