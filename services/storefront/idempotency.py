"""Idempotency keys as Stripe has them (G1): a retried request gets the first answer again.

`begin` reserves the key for the shop in its own short transaction, before anything else is
done: the unique (shop_id, key) row decides which of two concurrent requests goes on. The
other is told the first is still in progress (409), or, once it has finished, gets its
answer. The same key with another body is a mistake of the client, refused with 422.
Creating orders reserves a new key with `reserve` inside the orders' own transaction
instead (services/storefront/orders.py): one transaction per request, and a request that
fails leaves nothing reserved.

A reservation carries a lease: if the process handling it dies before `finish`, a retry
after the lease takes the key over. The orders that process may have committed are not made
twice: they carry the request's external id, unique per shop, and the retry answers with
them (see handlers.http.api.orders).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.time.clock import Clock
from storage import held
from storage.models import IdempotencyKey
from storage.purging import delete_in_batches
from storage.statements import Along, insert_ignoring, joins_writes

STARTED, DONE = "started", "done"
LEASE = timedelta(seconds=60)
MAX_KEY_LENGTH = 255


def fingerprint(body: Any) -> str:
    """The request's identity: its parsed JSON, keys sorted, so spacing does not matter."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Proceed:
    """The key is ours: create the orders, then `finish`. `taken_over`: a request before us
    held it and did not finish (its orders may exist)."""

    taken_over: bool = False


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class InProgress:
    """A request with this key is being handled right now."""


@dataclass(frozen=True)
class Mismatch:
    """The key was used with another body."""


Outcome = Proceed | Replay | InProgress | Mismatch


class IdempotencyStore:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], clock: Clock, lease: timedelta = LEASE
    ):
        self._sessions = sessions
        self._clock = clock
        self._lease = lease

    async def begin(self, shop_id: int, key: str, print_: str) -> Outcome:
        now = self._clock.now()
        async with self._sessions() as session, session.begin():
            reserved = await self.reserve(session, shop_id, key, print_)
        if reserved:
            return Proceed()
        # The key was used before (or is being used right now): see how.
        async with self._sessions() as session, session.begin():
            row = await session.scalar(
                select(IdempotencyKey).where(
                    IdempotencyKey.shop_id == shop_id, IdempotencyKey.key == key
                )
            )
            if row is None:  # finished and released between the two statements: go again
                return await self.begin(shop_id, key, print_)
            if row.fingerprint != print_:
                return Mismatch()
            if row.state == DONE:
                return Replay(row.response_status, row.response_body)
            if row.locked_until > now:
                return InProgress()
            # The request before us died holding the key: take it over, once.
            taken = await session.execute(
                update(IdempotencyKey)
                .where(
                    IdempotencyKey.id == row.id,
                    IdempotencyKey.state == STARTED,
                    IdempotencyKey.locked_until == row.locked_until,
                )
                .values(locked_until=now + self._lease)
            )
            return Proceed(taken_over=True) if taken.rowcount == 1 else InProgress()

    async def reserve(self, session: AsyncSession, shop_id: int, key: str, print_: str) -> bool:
        """Reserve the key in the caller's transaction: False when it was used before (or is
        being used: PostgreSQL waits for that transaction to end). One statement, no
        exception on a used key: this runs on every keyed request."""
        now = self._clock.now()
        reserved = await session.scalar(
            _RESERVE,
            {
                "shop_id": shop_id,
                "key": key,
                "fingerprint": print_,
                "state": STARTED,
                "locked_until": now + self._lease,
                "created_at": now,
            },
        )
        return reserved is not None

    async def finish(self, shop_id: int, key: str, status: int, body: dict[str, Any]) -> None:
        """Keep the answer: every later request with this key and body gets it again."""
        async with self._sessions() as session, session.begin():
            await self.keep(session, shop_id, key, status, body)

    async def keep(
        self, session: AsyncSession, shop_id: int, key: str, status: int, body: dict[str, Any]
    ) -> None:
        """`finish` inside the caller's transaction: the answer is kept with the change it
        tells of, so a crash cannot commit one without the other. On PostgreSQL it is held
        back to go with the transaction's last statement (storage.held): nothing after it
        reads the key."""
        now = self._clock.now()
        kept = {"of_shop": shop_id, "of_key": key, "status": status, "body": body, "at": now}
        if joins_writes(session):
            along = Along((_KEEP_HELD,), {f"k_{name}": value for name, value in kept.items()})
            await held.hold(session, held.Write(_KEYS, _KEYS, lambda: along))
        else:
            await session.execute(_KEEP, kept)

    async def prune(self, before: datetime) -> int:
        """Forget the finished keys made before `before` (Stripe keeps them 24 hours); a
        periodic job calls it. Returns how many were removed."""
        return await delete_in_batches(
            self._sessions,
            IdempotencyKey.id,
            IdempotencyKey.state == DONE,
            IdempotencyKey.created_at < before,
        )

    async def release(self, shop_id: int, key: str) -> None:
        """Nothing was done (the database was busy, an error): the key may be used again."""
        async with self._sessions() as session, session.begin():
            row = await session.scalar(
                select(IdempotencyKey).where(
                    IdempotencyKey.shop_id == shop_id,
                    IdempotencyKey.key == key,
                    IdempotencyKey.state == STARTED,
                )
            )
            if row is not None:
                await session.delete(row)


# Built once (issue 15: every keyed request runs both). The reservation is a cacheable text
# statement: the dialects' on_conflict_do_nothing is compiled again each time it runs
# (storage/statements.py). The answer is kept with a Core UPDATE of the table: no ORM
# bookkeeping for a row this session never loaded.
_RESERVE = insert_ignoring(
    IdempotencyKey.__table__,
    ("shop_id", "key", "fingerprint", "state", "locked_until", "created_at"),
    ("shop_id", "key"),
    returning="id",
)
_keys = IdempotencyKey.__table__
_KEYS = frozenset({"idempotency_keys"})


def _keep(prefix: str):
    """The answer's UPDATE, its parameters named with `prefix` (held: named apart)."""
    return (
        update(_keys)
        .where(
            _keys.c.shop_id == bindparam(f"{prefix}of_shop"),
            _keys.c.key == bindparam(f"{prefix}of_key"),
        )
        .values(
            state=DONE,
            response_status=bindparam(f"{prefix}status", type_=_keys.c.response_status.type),
            response_body=bindparam(f"{prefix}body", type_=_keys.c.response_body.type),
            finished_at=bindparam(f"{prefix}at", type_=_keys.c.finished_at.type),
        )
    )


_KEEP = _keep("")
_KEEP_HELD = _keep("k_")
