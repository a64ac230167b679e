"""Storefront API tokens: made, listed and revoked by the shop's owner and admins (or the
operator at the command line), and checked on every API request.

A token is shown once, when it is made; only its SHA-256 is stored. Checking looks the hash up
through its unique index: an unknown and a revoked token take the same single query and get
the same answer, so a caller learns nothing about which tokens exist.

A valid token's shop is then kept in this process for TOKEN_TTL (services/expiring_cache.py):
the storefront's requests cost no query for it. Revoking a token, suspending or resuming its
shop, or changing the shop's currency or language forgets it here right after the commit;
another instance (process) sees such a change within TOKEN_TTL, which is therefore the
longest a revoked token works anywhere. Unknown and revoked tokens are never kept, and the
cache holds at most TOKEN_CACHE_SIZE tokens, so random tokens cannot grow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.expiring_cache import ExpiringCache, for_database
from services.refusals import Reason, Refused, invalid
from services.shops.auth import hash_token, new_api_token
from services.shops.staff import require_supervisor
from services.time.clock import Clock
from storage.database import reading
from storage.models import ApiToken, Shop

MAX_TOKEN_LENGTH = 200  # ours are 47 characters; anything much longer is not one of them
TOKEN_TTL = timedelta(seconds=5)
TOKEN_CACHE_SIZE = 1024  # a shop has a token or two; more active shops than this just miss


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed: never the token itself."""

    id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class Storefront:
    """Who a valid token speaks for: the shop, and the currency its prices are in."""

    shop_id: int
    currency: str
    language: str  # status titles in answers are in the shop's language
    # What rate limits count this token by: a prefix of its hash, never the token.
    token_key: str = ""
    suspended: bool = False  # by the operator: every request is refused (403 shop_suspended)


@dataclass(frozen=True)
class NewToken:
    info: TokenInfo
    token: str  # shown once


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(row.id, row.name, row.created_at, row.revoked_at)


class ApiTokenService:
    """`user_id` None: the operator at the command line; else the person must be the shop's
    owner or an admin."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    async def authenticate(self, token: str | None) -> Storefront | None:
        """The shop whose active token this is, or None (missing, unknown, revoked).

        Every token not kept here, even a missing one, costs the same one query.
        """
        presented = token or ""
        digest = hash_token(presented[:MAX_TOKEN_LENGTH])
        cache, now = known_tokens(self._sessions), self._clock.now()
        if presented and len(presented) <= MAX_TOKEN_LENGTH:
            kept = cache.get(digest, now)
            if kept is not None:
                return kept
        ticket = cache.ticket()
        async with reading(self._sessions) as session:
            row = (
                await session.execute(
                    select(
                        ApiToken.shop_id,
                        ApiToken.revoked_at,
                        Shop.currency,
                        Shop.language,
                        Shop.suspended_at,
                    )
                    .join(Shop, Shop.id == ApiToken.shop_id)
                    .where(ApiToken.token_hash == digest)
                )
            ).first()
        if not presented or len(presented) > MAX_TOKEN_LENGTH or row is None:
            return None
        if row.revoked_at is not None:
            return None
        storefront = Storefront(
            row.shop_id,
            row.currency,
            row.language,
            digest[:32],
            suspended=row.suspended_at is not None,
        )
        cache.put(digest, storefront, now, ticket)
        return storefront

    async def create(self, shop_id: int, name: str, *, user_id: int | None = None) -> NewToken:
        name = name.strip()
        if not 1 <= len(name) <= 64:
            raise invalid("name", "a token name of 1 to 64 characters is needed")
        token = new_api_token()
        async with self._sessions() as session, session.begin():
            await self._check(session, shop_id, user_id)
            row = ApiToken(
                shop_id=shop_id,
                token_hash=hash_token(token),
                name=name,
                created_at=self._clock.now(),
            )
            session.add(row)
            await session.flush()
            return NewToken(_info(row), token)

    async def list(self, shop_id: int, *, user_id: int | None = None) -> list[TokenInfo]:
        async with reading(self._sessions) as session:
            await self._check(session, shop_id, user_id)
            rows = await session.scalars(
                select(ApiToken).where(ApiToken.shop_id == shop_id).order_by(ApiToken.id)
            )
            return [_info(row) for row in rows]

    async def revoke(self, shop_id: int, token_id: int, *, user_id: int | None = None) -> TokenInfo:
        """Revoked at once for every instance: the next request with it is a 401."""
        async with self._sessions() as session, session.begin():
            await self._check(session, shop_id, user_id)
            row = await session.scalar(
                select(ApiToken).where(ApiToken.id == token_id, ApiToken.shop_id == shop_id)
            )
            if row is None:
                raise Refused(Reason.NOT_FOUND, "no such token")
            if row.revoked_at is not None:
                raise Refused(Reason.ALREADY, "the token is revoked already")
            await session.execute(
                update(ApiToken).where(ApiToken.id == row.id).values(revoked_at=self._clock.now())
            )
            await session.refresh(row)
            revoked = _info(row)
        known_tokens(self._sessions).forget(row.token_hash)
        return revoked

    async def _check(self, session: AsyncSession, shop_id: int, user_id: int | None) -> None:
        if user_id is not None:
            await require_supervisor(session, shop_id, user_id)
        elif await session.get(Shop, shop_id) is None:
            raise Refused(Reason.NOT_FOUND, "no such shop")


def known_tokens(
    sessions: async_sessionmaker[AsyncSession],
) -> ExpiringCache[str, Storefront]:
    """The valid tokens this process has seen lately, by hash, for the database of `sessions`."""
    return for_database(sessions.kw["bind"], "api_tokens", TOKEN_TTL, TOKEN_CACHE_SIZE)


def forget_shop_tokens(sessions: async_sessionmaker[AsyncSession], shop_id: int) -> None:
    """The shop changed (suspended, resumed, its currency or language): after the commit."""
    known_tokens(sessions).forget_where(lambda storefront: storefront.shop_id == shop_id)
