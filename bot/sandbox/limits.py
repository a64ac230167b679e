"""Flood control as Telegram applies it to bots, with token buckets on an injectable clock.

Telegram's published guidance: about 30 messages per second in all, no more than one message
per second in a private chat (short bursts are tolerated, so the private bucket holds a few
tokens), and 20 messages per minute in a group. Going over answers HTTP 429 with
`retry_after`, the whole seconds until a message would be accepted again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class FloodLimits:
    enabled: bool = True
    global_per_second: float = 30.0
    global_burst: int = 30
    private_per_second: float = 1.0
    private_burst: int = 3  # Telegram lets a private chat take a short burst
    group_per_minute: float = 20.0
    group_burst: int = 20

    @classmethod
    def off(cls) -> FloodLimits:
        return cls(enabled=False)


class FloodWait(Exception):
    """Too many messages: try again in `retry_after` whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after}")
        self.retry_after = retry_after


class TokenBucket:
    """`capacity` tokens, refilled continuously at `rate` tokens per second."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0 if one is now)."""
        self._refill(now)
        missing = 1.0 - self.tokens
        return 0.0 if missing <= 1e-9 else missing / self.rate

    def take(self, now: float) -> None:
        self._refill(now)
        self.tokens -= 1.0


class FloodControl:
    """Decides whether a message-sending call may go now; raises FloodWait if not."""

    def __init__(
        self, limits: FloodLimits | None = None, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.limits = limits or FloodLimits()
        self.monotonic = monotonic
        self._global: TokenBucket | None = None
        self._chats: dict[int, TokenBucket] = {}
        self._storm: list[int] = []  # retry_after of each injected failure still to come

    def inject(self, count: int, retry_after: int) -> None:
        """Make the next `count` sending calls fail with 429 (a "429 storm" for tests)."""
        self._storm.extend([max(1, retry_after)] * count)

    def check(self, chat_id: int, private: bool) -> None:
        """Take a token for one message to this chat, or raise FloodWait."""
        if self._storm:
            raise FloodWait(self._storm.pop(0))
        if not self.limits.enabled:
            return
        now = self.monotonic()
        buckets = [self._global_bucket(now), self._chat_bucket(chat_id, private, now)]
        # Check every bucket before taking from any: a refused message costs nothing.
        wait = max(bucket.wait_time(now) for bucket in buckets)
        if wait > 0:
            raise FloodWait(max(1, math.ceil(wait - 1e-9)))
        for bucket in buckets:
            bucket.take(now)

    def _global_bucket(self, now: float) -> TokenBucket:
        if self._global is None:
            limits = self.limits
            self._global = TokenBucket(limits.global_per_second, limits.global_burst, now)
        return self._global

    def _chat_bucket(self, chat_id: int, private: bool, now: float) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            limits = self.limits
            if private:
                bucket = TokenBucket(limits.private_per_second, limits.private_burst, now)
            else:
                bucket = TokenBucket(limits.group_per_minute / 60.0, limits.group_burst, now)
            self._chats[chat_id] = bucket
        return bucket
