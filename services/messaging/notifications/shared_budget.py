"""The Telegram send budget shared by every instance through Redis (REDIS_URL set, issue 15).

Telegram's limits are the bot's, not a process's: 30 messages/s in all, 1/s per private chat,
20/min per group. Two instances each pacing themselves would send 60/s and meet 429s. Here the
same token buckets as the local `Pacer` (pump.py) live in Redis, and each send takes its
tokens in one Lua script (EVALSHA), so checking and taking is atomic across instances:

- `{prefix}:all`: the global bucket (a hash: tokens, updated); empty when absent, as the
  local one starts, so an instance that comes up after another's burst adds none of its own.
- `{prefix}:chat:<id>`: a chat's bucket; full when absent (the chat has been quiet).
- `{prefix}:paused`: a sorted set, chat -> when its flood control (429 retry_after) lifts;
  `{prefix}:paused-all`: when a pause for every chat lifts.

Every key has a TTL a minute past the time it takes to refill or lift, so nothing grows
forever: an expired bucket reads as it would have refilled (the global one, more cautiously,
as empty).

Time: the scripts take `now` from the caller, i.e. the pump's injected clock, not Redis's
TIME. The pump sleeps on that clock, and tests move it instead of sleeping. Instances'
clocks may disagree a little: a bucket refills only as far as the latest time any instance has
written (`updated` never goes back), so an instance whose clock runs behind gets no tokens
twice, and the budget is never overspent by the skew; a pause may lift early by the skew only.

Redis unreachable (or an error): the pump does not stop and does not burst; it paces itself
with a fresh local Pacer at the same rates (one instance's budget, starting empty), logs once,
and tries Redis again every `retry` seconds; when it answers, the shared budget is back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from services.messaging.notifications.pump import (
    Outgoing,
    Pacer,
    Pauses,
    RateLimits,
    RetryAfter,
    counted,
)

log = logging.getLogger(__name__)

PREFIX = "shopbot:send-budget"
KEPT = 60  # seconds a key outlives the time its bucket takes to refill or its pause to lift
RETRY_REDIS = 5.0  # seconds on local pacing before Redis is tried again

# Per chat the script is told how it is counted: an edit of a card takes no chat token.
UNCOUNTED, PRIVATE, GROUP = 0, 1, 2

_BUCKETS = """
local function bucket(key, rate, capacity, full, now)
  local stored = redis.call('HMGET', key, 't', 'u')
  local tokens, updated = tonumber(stored[1]), tonumber(stored[2])
  if tokens == nil or updated == nil then
    tokens = full and capacity or 0
    updated = now
  end
  if now > updated then
    tokens = math.min(capacity, tokens + (now - updated) * rate)
    updated = now
  end
  return tokens, updated
end

local function store(key, tokens, updated, rate, capacity)
  redis.call('HSET', key, 't', string.format('%.9f', tokens), 'u', string.format('%.6f', updated))
  redis.call('EXPIRE', key, math.ceil(capacity / rate) + tonumber(ARGV[8]))
end

local function chat_limits(kind)
  if kind == 1 then return tonumber(ARGV[4]), tonumber(ARGV[5]) end
  return tonumber(ARGV[6]), tonumber(ARGV[7])
end
"""

# KEYS: all, paused-all, paused, then one chat bucket per candidate.
# ARGV: now, rate, burst, private rate, private burst, group rate, group burst, kept, then
#       per candidate its chat id and how it is counted.
# Returns {index (0-based) taken, "0"} or {-1, seconds to wait}.
ACQUIRE = (
    _BUCKETS
    + """
local now = tonumber(ARGV[1])
local rate, burst = tonumber(ARGV[2]), tonumber(ARGV[3])
local everywhere = tonumber(redis.call('GET', KEYS[2]) or '0')
if everywhere > now then return {-1, string.format('%.6f', everywhere - now)} end
local all_tokens, all_updated = bucket(KEYS[1], rate, burst, false, now)
local all_wait = 0
if all_tokens < 1 - 1e-6 then all_wait = (1 - all_tokens) / rate end
local best = nil
for i = 4, #KEYS do
  local chat = ARGV[9 + 2 * (i - 4)]
  local kind = tonumber(ARGV[10 + 2 * (i - 4)])
  local wait = all_wait
  local paused = tonumber(redis.call('ZSCORE', KEYS[3], chat) or '0')
  if paused > now then wait = math.max(wait, paused - now) end
  local tokens, updated, chat_rate, chat_burst
  if kind ~= 0 then
    chat_rate, chat_burst = chat_limits(kind)
    tokens, updated = bucket(KEYS[i], chat_rate, chat_burst, true, now)
    if tokens < 1 - 1e-6 then wait = math.max(wait, (1 - tokens) / chat_rate) end
  end
  if wait <= 0 then
    store(KEYS[1], all_tokens - 1, all_updated, rate, burst)
    if kind ~= 0 then store(KEYS[i], tokens - 1, updated, chat_rate, chat_burst) end
    return {i - 4, '0'}
  end
  if best == nil or wait < best then best = wait end
  -- Nothing can come sooner than the global bucket allows.
  if best <= all_wait then break end
end
-- Kept even when nothing is taken: an absent bucket reads as empty, so it must start to fill.
store(KEYS[1], all_tokens, all_updated, rate, burst)
return {-1, string.format('%.6f', best or all_wait)}
"""
)

# Telegram refused a message: its tokens back, and the chat (or every chat) paused.
# KEYS: all, paused-all, paused, the chat's bucket. ARGV as ACQUIRE's first eight, then the
# chat id, how it is counted, the seconds to wait, everywhere (1/0).
REFUSED = (
    _BUCKETS
    + """
local now = tonumber(ARGV[1])
local rate, burst = tonumber(ARGV[2]), tonumber(ARGV[3])
local chat, kind = ARGV[9], tonumber(ARGV[10])
local seconds, everywhere = tonumber(ARGV[11]), ARGV[12] == '1'
local tokens, updated = bucket(KEYS[1], rate, burst, false, now)
store(KEYS[1], math.min(burst, tokens + 1), updated, rate, burst)
if kind ~= 0 then
  local chat_rate, chat_burst = chat_limits(kind)
  tokens, updated = bucket(KEYS[4], chat_rate, chat_burst, true, now)
  store(KEYS[4], math.min(chat_burst, tokens + 1), updated, chat_rate, chat_burst)
end
local until_ = now + seconds
local ttl = math.ceil(seconds) + tonumber(ARGV[8])
if everywhere then
  local current = tonumber(redis.call('GET', KEYS[2]) or '0')
  if until_ > current then
    redis.call('SET', KEYS[2], string.format('%.6f', until_), 'EX', ttl)
  end
else
  redis.call('ZADD', KEYS[3], 'GT', string.format('%.6f', until_), chat)
  if redis.call('TTL', KEYS[3]) < ttl then redis.call('EXPIRE', KEYS[3], ttl) end
end
return 1
"""
)

# The pauses in force; lifted ones are dropped. KEYS: paused-all, paused. ARGV: now.
PAUSES = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.6f', now))
local everywhere = redis.call('GET', KEYS[1]) or '0'
local result = {everywhere}
local chats = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
for _, value in ipairs(chats) do table.insert(result, value) end
return result
"""


class RedisBudget:
    """The pump's budget in Redis, shared by every instance. `client`: a redis.asyncio client
    (with socket timeouts, so a Redis that hangs is a Redis that is down)."""

    def __init__(
        self,
        client: Any,
        limits: RateLimits,
        *,
        prefix: str = PREFIX,
        retry: float = RETRY_REDIS,
    ):
        self._client = client
        self.limits = limits
        # A hash tag: every key in one Redis Cluster slot, as a script's keys must be.
        self._prefix = "{" + prefix + "}"
        self._retry = retry
        self._acquire = client.register_script(ACQUIRE)
        self._refused = client.register_script(REFUSED)
        self._pauses = client.register_script(PAUSES)
        self._local: Pacer | None = None  # pacing alone while Redis is away
        self._try_redis_at = 0.0

    @property
    def shared(self) -> bool:
        """False while Redis is away and this instance paces itself."""
        return self._local is None

    # -- the budget -----------------------------------------------------------------------

    async def acquire(self, waiting: Sequence[Outgoing], now: float) -> tuple[int | None, float]:
        local = self._pacing_alone(now)
        if local is not None:
            return local.acquire(waiting, now)
        keys = [self._key("all"), self._key("paused-all"), self._key("paused")]
        args = self._limits_args(now)
        for delivery in waiting:
            keys.append(self._key(f"chat:{delivery.chat_id}"))
            args += [delivery.chat_id, _kind(delivery)]
        try:
            index, wait = await self._acquire(keys=keys, args=args)
        except Exception as error:
            return self._redis_away(error, now).acquire(waiting, now)
        self._redis_back()
        index = int(index)
        return (index, 0.0) if index >= 0 else (None, float(wait))

    async def refused(self, delivery: Outgoing, outcome: RetryAfter, now: float) -> None:
        local = self._pacing_alone(now)
        if local is not None:
            local.refused(delivery, outcome, now)
            return
        keys = [
            self._key("all"),
            self._key("paused-all"),
            self._key("paused"),
            self._key(f"chat:{delivery.chat_id}"),
        ]
        args = [
            *self._limits_args(now),
            delivery.chat_id,
            _kind(delivery),
            f"{outcome.seconds:.6f}",
            int(outcome.everywhere),
        ]
        try:
            await self._refused(keys=keys, args=args)
        except Exception as error:
            self._redis_away(error, now).refused(delivery, outcome, now)
            return
        self._redis_back()

    async def pauses(self, now: float) -> Pauses:
        local = self._pacing_alone(now)
        if local is not None:
            return local.pauses(now)
        try:
            answer = await self._pauses(
                keys=[self._key("paused-all"), self._key("paused")], args=[f"{now:.6f}"]
            )
        except Exception as error:
            return self._redis_away(error, now).pauses(now)
        self._redis_back()
        everywhere, pairs = float(answer[0]), answer[1:]
        chats = {int(pairs[i]): float(pairs[i + 1]) for i in range(0, len(pairs), 2)}
        return Pauses(everywhere, chats)

    async def close(self) -> None:
        await self._client.aclose()

    # -- Redis away ---------------------------------------------------------------------------

    def _pacing_alone(self, now: float) -> Pacer | None:
        """The local pacer while Redis is away and not yet due to be tried again."""
        if self._local is not None and now < self._try_redis_at:
            return self._local
        return None

    def _redis_away(self, error: Exception, now: float) -> Pacer:
        if self._local is None:
            log.warning(
                "Telegram send budget: Redis unreachable (%s: %s); pacing this instance alone "
                "at the same rates until it is back",
                type(error).__name__,
                error,
            )
            # Fresh, so empty: no burst on top of what the shared budget just let through.
            self._local = Pacer(self.limits)
        self._try_redis_at = now + self._retry
        return self._local

    def _redis_back(self) -> None:
        if self._local is not None:
            log.warning("Telegram send budget: Redis is back; the budget is shared again")
            self._local = None

    def _key(self, name: str) -> str:
        return f"{self._prefix}:{name}"

    def _limits_args(self, now: float) -> list[Any]:
        limits = self.limits
        return [
            f"{now:.6f}",
            limits.per_second,
            limits.burst,
            limits.private_per_second,
            limits.private_burst,
            limits.group_per_minute / 60.0,
            limits.group_burst,
            KEPT,
        ]


def _kind(delivery: Outgoing) -> int:
    if not counted(delivery):
        return UNCOUNTED
    # A private chat's id is the person's id; groups are negative.
    return PRIVATE if delivery.chat_id > 0 else GROUP
