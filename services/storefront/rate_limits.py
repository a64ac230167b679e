"""Per-token rate limits of the storefront API (H4): a fixed window per token.

`limit` requests per `window` seconds for each token; the next one is refused with the
seconds until the window turns (the API answers 429 with Retry-After). Windows are read
from the injected clock, so tests turn them by moving it.

Two counters: in this process (one instance), or in Redis (REDIS_URL set), where every
instance counts into the same key, `INCR` and `EXPIRE` in one round trip, so the limit
holds across instances. A token is counted under its hash's prefix, never the token. When
Redis cannot be reached the request is let through and the failure logged: a storefront is
not refused because our counter is down.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Protocol

from services.time.clock import Clock

log = logging.getLogger(__name__)

PREFIX = "shopbot:api-rate:"


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds until the window turns, when refused
    remaining: int = 0


class RateLimiter(Protocol):
    async def hit(self, subject: str) -> Verdict: ...

    async def close(self) -> None: ...


class _Window:
    def __init__(self, clock: Clock, limit: int, window: float):
        self._clock = clock
        self.limit = limit
        self.window = window

    def current(self) -> tuple[int, int]:
        """This window's number and the whole seconds until the next one starts."""
        now = self._clock.now().timestamp()
        index = math.floor(now / self.window)
        left = max(1, math.ceil((index + 1) * self.window - now))
        return index, left

    def verdict(self, count: int, left: int) -> Verdict:
        if count > self.limit:
            return Verdict(False, retry_after=left)
        return Verdict(True, remaining=self.limit - count)


class NoLimit:
    """API_RATE_LIMIT=0: every request goes through."""

    async def hit(self, subject: str) -> Verdict:
        return Verdict(True)

    async def close(self) -> None:
        return None


class LocalRateLimiter(_Window):
    """Counts in this process: right for one instance."""

    def __init__(self, clock: Clock, limit: int, window: float):
        super().__init__(clock, limit, window)
        self._counts: dict[str, tuple[int, int]] = {}

    async def hit(self, subject: str) -> Verdict:
        index, left = self.current()
        seen_index, count = self._counts.get(subject, (index, 0))
        count = count + 1 if seen_index == index else 1
        if len(self._counts) > 100_000:  # old windows of idle tokens
            self._counts = {k: v for k, v in self._counts.items() if v[0] == index}
        self._counts[subject] = (index, count)
        return self.verdict(count, left)

    async def close(self) -> None:
        return None


class RedisRateLimiter(_Window):
    """Counts in Redis, shared by every instance. `client`: a redis.asyncio client."""

    def __init__(self, client: Any, clock: Clock, limit: int, window: float):
        super().__init__(clock, limit, window)
        self._client = client

    async def hit(self, subject: str) -> Verdict:
        index, left = self.current()
        key = f"{PREFIX}{subject}:{index}"
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                pipe.expire(key, math.ceil(self.window) + 1)
                count, _ = await pipe.execute()
        except Exception as error:
            log.warning("API rate limit not counted (Redis): %s", type(error).__name__)
            return Verdict(True)
        return self.verdict(int(count), left)

    async def close(self) -> None:
        await self._client.aclose()
