"""Per-process caches of rows that rarely change but are read on every storefront request
(issue 15): which shop an API token speaks for, and which workflow version new orders start on.

Each cache is bounded (the least recently used entry goes first), so a flood of distinct keys
cannot grow memory, and an entry lives at most `ttl` by the injected clock: that bounds how
long a change committed by another instance (another process) goes unseen here. A change made
in this process forgets the entries it touches right after its commit, so it takes effect at
once.

A read that began before such a commit must not store what it read: the reader takes a
`ticket()` before reading and `put` drops the value when anything was forgotten since.

The caches are per database (keyed by the engine) and shared by every service over it in the
process: a token revoked through one `ApiTokenService` is gone for the API's own at once.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar
from weakref import WeakKeyDictionary

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class ExpiringCache(Generic[K, V]):
    def __init__(self, ttl: timedelta, size: int):
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[K, tuple[V, datetime]] = OrderedDict()
        self._generation = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, now: datetime) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        value, stored_at = entry
        # A clock moved back (tests do) must not stretch an entry's life either.
        if not stored_at <= now < stored_at + self.ttl:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return value

    def ticket(self) -> int:
        """Take before reading what will be `put`."""
        return self._generation

    def put(self, key: K, value: V, now: datetime, ticket: int) -> None:
        if ticket != self._generation:  # something changed while we read: maybe this
            return
        self._entries[key] = (value, now)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, key: K) -> None:
        self._generation += 1
        self._entries.pop(key, None)

    def forget_where(self, stale: Callable[[V], bool]) -> None:
        self._generation += 1
        for key in [key for key, (value, _) in self._entries.items() if stale(value)]:
            del self._entries[key]


_BY_DATABASE: WeakKeyDictionary[Any, dict[str, ExpiringCache[Any, Any]]] = WeakKeyDictionary()


def for_database(bind: Any, name: str, ttl: timedelta, size: int) -> ExpiringCache[Any, Any]:
    """The process's cache `name` for the database behind `bind` (an engine or connection,
    async or not); it goes with the engine."""
    engine = getattr(bind, "sync_engine", bind)
    caches = _BY_DATABASE.setdefault(engine, {})
    cache = caches.get(name)
    if cache is None:
        cache = caches[name] = ExpiringCache(ttl, size)
    return cache
