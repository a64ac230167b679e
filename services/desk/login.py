"""Signing in from a desktop browser: `/web` in the bot gives a single-use link, valid for
`LINK_LIFETIME`; opening it starts a session whose secret lives in an HttpOnly cookie.

Only SHA-256 hashes of the link's and the session's secrets are stored, so a copy of the
database signs nobody in. A link is spent in the same UPDATE that checks it is unused and
unexpired, so of two browsers racing with one link exactly one gets a session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.time.clock import Clock
from storage.database import reading
from storage.models import DeskLoginLink, DeskSession, User

LINK_LIFETIME = timedelta(minutes=10)
# A desk is used for a working week at a time; signing in again is one /web away.
SESSION_LIFETIME = timedelta(days=7)
_TOKEN_LENGTH = 43  # secrets.token_urlsafe(32)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _plausible(token: str | None) -> bool:
    return isinstance(token, str) and len(token) == _TOKEN_LENGTH and token.isascii()


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: pages send it back in a header with every change.

    Derived from the cookie's secret, so it is never stored and another site, which cannot
    read the cookie, cannot compute it.
    """
    return hmac.new(session_token.encode(), b"shopbot-desk-csrf", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class LinkState:
    """What a login link would do if opened now: sign in `user_name`, or nothing."""

    valid: bool
    user_name: str = ""


@dataclass(frozen=True)
class SignedIn:
    user_id: int
    token: str  # the cookie's value
    expires_at: datetime


class DeskLogin:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    async def issue_link(self, user_id: int) -> str:
        """A new single-use login token for this person (the bot puts it in a link)."""
        token = secrets.token_urlsafe(32)
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            session.add(
                DeskLoginLink(
                    user_id=user_id,
                    token_hash=_hash(token),
                    created_at=now,
                    expires_at=now + LINK_LIFETIME,
                )
            )
        return token

    async def peek(self, token: str) -> LinkState:
        """Whether the link still works; changes nothing (link previews fetch links)."""
        if not _plausible(token):
            return LinkState(False)
        async with reading(self._sessions) as session:
            row = (
                await session.execute(
                    select(DeskLoginLink, User.name)
                    .join(User, User.id == DeskLoginLink.user_id)
                    .where(DeskLoginLink.token_hash == _hash(token))
                )
            ).first()
        if row is None or row[0].used_at is not None or row[0].expires_at <= self._clock.now():
            return LinkState(False)
        return LinkState(True, row[1] or "")

    async def sign_in(self, token: str) -> SignedIn | None:
        """Spend the link and open a session; None if it is unknown, used or expired."""
        if not _plausible(token):
            return None
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            user_id = await session.scalar(
                update(DeskLoginLink)
                .where(
                    DeskLoginLink.token_hash == _hash(token),
                    DeskLoginLink.used_at.is_(None),
                    DeskLoginLink.expires_at > now,
                )
                .values(used_at=now)
                .returning(DeskLoginLink.user_id)
            )
            if user_id is None:
                return None
            secret = secrets.token_urlsafe(32)
            expires_at = now + SESSION_LIFETIME
            session.add(
                DeskSession(
                    user_id=user_id,
                    token_hash=_hash(secret),
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        return SignedIn(user_id, secret, expires_at)

    async def user_of(self, token: str | None) -> int | None:
        """The person a session cookie belongs to, while the session lasts."""
        if not _plausible(token):
            return None
        async with reading(self._sessions) as session:
            return await session.scalar(
                select(DeskSession.user_id).where(
                    DeskSession.token_hash == _hash(token),
                    DeskSession.ended_at.is_(None),
                    DeskSession.expires_at > self._clock.now(),
                )
            )

    async def sign_out(self, token: str | None) -> None:
        if not _plausible(token):
            return
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(DeskSession)
                .where(DeskSession.token_hash == _hash(token), DeskSession.ended_at.is_(None))
                .values(ended_at=self._clock.now())
            )
