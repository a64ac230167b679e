"""The Telegram send budget shared by instances through Redis (issue 15): two budgets built as
two instances build them, on one real Redis, never spend more than the bot's one budget
together; per-chat limits and 429 pauses are seen by both; Redis away means pacing alone at
the same rates, and its return means sharing again.

Time is passed in as the pump passes its injected clock's: nothing sleeps. Each test has its
own key prefix, so tests running at once never share a bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from datetime import UTC, datetime
from urllib.parse import urlparse

import pytest
from redis.asyncio import Redis
from sqlalchemy import delete

from bot.pumps import send_budget
from services.messaging.notifications.pump import (
    EDIT_CARD,
    LocalBudget,
    OutboxPump,
    Outgoing,
    RateLimits,
    RetryAfter,
)
from services.messaging.notifications.shared_budget import RedisBudget
from storage.models import OutboxMessage
from tests.factories import make_shop
from tests.services.test_pump import FakeTelegram, moving, orders_for_buyers

REDIS_URL = os.environ.get("TEST_REDIS_URL")
needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="TEST_REDIS_URL is not set: the shared budget needs a Redis server"
)
START = 1_767_225_600.0  # seconds, as the pump passes its clock's time
LIMITS = RateLimits()  # the pump's defaults: 30/s (burst 20), 1/s per private chat, 20/min group
GROUP = -100_555


def outgoing(chat_id: int, kind: str = "message") -> Outgoing:
    return Outgoing(
        id=chat_id,
        chat_id=chat_id,
        kind=kind,
        to="buyer",
        topic="order_changed",
        order_id=None,
        shop_id=None,
        user_id=None,
        target_message_id=0,
        data={},
        attempts=0,
        due_at=datetime.fromtimestamp(START, UTC),
    )


def shared(url: str | None = REDIS_URL, prefix: str | None = None) -> RedisBudget:
    """A budget as an instance builds it (bot.pumps.send_budget), under a test's own keys."""
    budget = send_budget(url, None, prefix=prefix or f"test-send-budget:{uuid.uuid4().hex}")
    assert isinstance(budget, RedisBudget)
    return budget


async def spend(instances, seconds: float, step: float, chats=None) -> list[list[float]]:
    """Every `step` seconds each instance (first one, then the other) tries to send to a chat
    not yet used (or to `chats`); returns when each one was allowed."""
    allowed: list[list[float]] = [[] for _ in instances]
    fresh = iter(range(1_000_000, 2_000_000))
    now, turn = START, 0
    while now < START + seconds:
        turn += 1
        order = list(enumerate(instances))
        for n, budget in order[turn % len(order) :] + order[: turn % len(order)]:
            waiting = [outgoing(c) for c in chats] if chats else [outgoing(next(fresh))]
            index, wait = await budget.acquire(waiting, now)
            if index is not None:
                allowed[n].append(now)
            else:
                assert wait > 0
        now += step
    return allowed


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(
        (sum(1 for u in times[i:] if u < t + window) for i, t in enumerate(times)), default=0
    )


@needs_redis
async def test_two_instances_together_keep_to_the_one_global_budget():
    # given two instances' budgets on one Redis
    prefix = f"test-send-budget:{uuid.uuid4().hex}"  # the same bot: one set of keys
    first, second = shared(prefix=prefix), shared(prefix=prefix)
    try:
        # when both try to send as fast as they can for 10 s
        allowed = await spend([first, second], seconds=10, step=0.005)
    finally:
        await first.close()
        await second.close()
    # then together they sent at 30/s, not 60/s: the burst and 30 a second in any stretch
    both = allowed[0] + allowed[1]
    assert 30 * 10 - 2 <= len(both) <= LIMITS.burst + 30 * 10
    for window in (0.5, 1, 2):
        assert most_in_any_window(both, window) <= LIMITS.burst + 30 * window
    # and both had their share of it
    assert len(allowed[0]) > 50 and len(allowed[1]) > 50


async def test_without_redis_two_instances_each_spend_a_whole_budget():
    # the contrast that makes the test above mean something: today's budgets, one per process
    allowed = await spend([LocalBudget(LIMITS), LocalBudget(LIMITS)], seconds=10, step=0.005)
    assert len(allowed[0] + allowed[1]) >= 2 * (30 * 10 - 2)


@needs_redis
async def test_per_chat_limits_are_shared():
    prefix = f"test-send-budget:{uuid.uuid4().hex}"
    first, second = shared(prefix=prefix), shared(prefix=prefix)
    try:
        # a private chat: both instances have a message for the same buyer every 0.1 s
        buyer = await spend([first, second], seconds=10, step=0.1, chats=[42])
        # a group: both have messages for it for two minutes
        group = await spend([first, second], seconds=120, step=0.5, chats=[GROUP])
        # editing a card takes no chat token, only the global one
        now = START + 200
        edits = [await first.acquire([outgoing(43, EDIT_CARD)], now) for _ in range(3)]
    finally:
        await first.close()
        await second.close()
    # 1/s for the buyer, counted across both: one at once, then one a second
    assert len(buyer[0] + buyer[1]) == 10
    assert buyer[0] and buyer[1]
    # 20/min for the group after its burst of 15: 15 + 20 * 2 (give or take the last one)
    assert 15 + 40 - 1 <= len(group[0] + group[1]) <= 15 + 40
    assert [index for index, _ in edits] == [0, 0, 0]


@needs_redis
async def test_a_429_on_one_instance_pauses_the_chat_on_the_other():
    prefix = f"test-send-budget:{uuid.uuid4().hex}"
    first, second = shared(prefix=prefix), shared(prefix=prefix)
    try:
        await first.acquire([outgoing(6)], START)  # the global bucket starts empty
        now = START + 1
        assert (await first.acquire([outgoing(7)], now))[0] == 0
        # when Telegram answers the first instance's send to chat 7 "retry after 5 s"
        await first.refused(outgoing(7), RetryAfter(5), now)
        # then the second instance sees chat 7 paused and sends it nothing for 5 s
        pauses = await second.pauses(now + 1)
        assert pauses.chats == {7: pytest.approx(now + 5)} and pauses.everywhere == 0
        index, wait = await second.acquire([outgoing(7)], now + 1)
        assert index is None and wait == pytest.approx(4)
        # another chat goes on, and with both waiting the one that may go is chosen
        assert (await second.acquire([outgoing(7), outgoing(8)], now + 1))[0] == 1
        # and after the pause chat 7 may go again, on either instance
        assert (await second.acquire([outgoing(7)], now + 5))[0] == 0
        assert (await first.pauses(now + 5)).chats == {}
        # a 429 meant for the whole bot stops every chat on every instance
        await second.refused(outgoing(9), RetryAfter(3, everywhere=True), now + 6)
        index, wait = await first.acquire([outgoing(10), outgoing(11)], now + 7)
        assert index is None and wait == pytest.approx(2)
        assert (await first.pauses(now + 7)).everywhere == pytest.approx(now + 9)
        assert (await first.acquire([outgoing(10)], now + 9))[0] == 0
    finally:
        await first.close()
        await second.close()


@needs_redis
async def test_every_key_expires():
    budget = shared()
    client = Redis.from_url(REDIS_URL)
    try:
        await budget.acquire([outgoing(5)], START + 1)
        await budget.acquire([outgoing(GROUP)], START + 1)
        await budget.refused(outgoing(5), RetryAfter(30), START + 1)
        await budget.refused(outgoing(6), RetryAfter(30, everywhere=True), START + 1)
        keys = await client.keys(f"{budget._prefix}*")
        assert len(keys) == 5  # all, both chats, the paused chats, the pause of every chat
        ttls = [await client.ttl(key) for key in keys]
        assert all(0 < ttl <= 30 + 60 for ttl in ttls), ttls
    finally:
        await client.aclose()
        await budget.close()


@needs_redis
async def test_the_script_is_atomic_under_concurrent_calls():
    # given 20 instances' budgets (each its own connection) and a global bucket of 20 tokens
    prefix = f"test-send-budget:{uuid.uuid4().hex}"
    budgets = [shared(prefix=prefix) for _ in range(20)]
    try:
        await budgets[0].acquire([outgoing(1)], START)  # the bucket exists, empty
        later = START + 10  # refilled to its burst of 20 by now
        # when they all ask at once, ten times each, for different chats
        calls = [
            budget.acquire([outgoing(100 * n + k)], later)
            for n, budget in enumerate(budgets)
            for k in range(10)
        ]
        results = await asyncio.gather(*calls)
    finally:
        for budget in budgets:
            await budget.close()
    # then exactly the 20 tokens were handed out: no two calls took the same one
    assert sum(1 for index, _ in results if index is not None) == LIMITS.burst


# -- Redis away ---------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_with_redis_unreachable_the_pump_paces_itself_at_the_same_rates(caplog):
    # given a budget whose Redis is not there
    budget = shared(url=f"redis://127.0.0.1:{closed_port()}/0")
    caplog.set_level(logging.WARNING, logger="services.messaging.notifications.shared_budget")
    # when the pump sends for 10 s
    (allowed,) = await spend([budget], seconds=10, step=0.005)
    await budget.close()
    # then it went on sending, at one instance's budget, without a burst at the start
    assert not budget.shared
    assert 30 * 10 - 2 <= len(allowed) <= LIMITS.burst + 30 * 10
    assert most_in_any_window(allowed, 1) <= 31
    # and said so once, not on every send
    warnings = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    assert len(warnings) == 1


class Relay:
    """A TCP relay in front of the test Redis that the test takes down and brings back: Redis
    going away and returning, as the budget's client sees it."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.port = closed_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def down(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _relay(self, reader, writer) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, upstream_writer}

        async def pipe(source, sink):
            with contextlib.suppress(ConnectionError, OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


@needs_redis
async def test_redis_away_then_back_the_budget_is_shared_again(caplog):
    caplog.set_level(logging.WARNING, logger="services.messaging.notifications.shared_budget")
    target = urlparse(REDIS_URL)
    relay = Relay(target.hostname or "127.0.0.1", target.port or 6379)
    await relay.up()
    prefix = f"test-send-budget:{uuid.uuid4().hex}"
    database = target.path or "/0"
    through_relay = shared(url=f"redis://127.0.0.1:{relay.port}{database}", prefix=prefix)
    other = shared(prefix=prefix)  # another instance, with Redis all along
    try:
        now = START
        assert (await through_relay.acquire([outgoing(1)], now))[0] is None  # starts empty
        assert through_relay.shared
        # when Redis goes away for this instance
        await relay.down()
        now += 1
        index, _ = await through_relay.acquire([outgoing(2)], now)
        # then it paces itself: a fresh budget, empty, so no burst
        assert index is None and not through_relay.shared
        now += 1
        assert (await through_relay.acquire([outgoing(3)], now))[0] == 0
        # when Redis is back, it is tried again after a few seconds and shared once more
        await relay.up()
        now += 10
        await other.refused(outgoing(4), RetryAfter(60, everywhere=True), now)
        index, wait = await through_relay.acquire([outgoing(5)], now)
        assert through_relay.shared
        assert index is None and wait == pytest.approx(60)  # the other instance's pause
    finally:
        await through_relay.close()
        await other.close()
        await relay.down()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Redis unreachable" in m for m in messages) == 1
    assert sum("Redis is back" in m for m in messages) == 1


# -- two pumps ------------------------------------------------------------------------------------


async def pump_twice(services, budgets) -> list[list[float]]:
    """Two pumps on one database (as two instances), each with its budget, deliver 150
    buyers' messages; returns when (on the clock) each pump's sends went out."""
    shop = await make_shop(services)
    await orders_for_buyers(services, shop, 150)
    async with services.sessions() as session, session.begin():
        # The shop's own new-order pings: one chat at 1/s would make this test about them.
        await session.execute(delete(OutboxMessage).where(OutboxMessage.topic == "new_order"))
    clock = services.clock
    sent_at: list[list[float]] = [[], []]

    class Timed(FakeTelegram):
        def __init__(self, n: int):
            super().__init__()
            self.n = n

        async def deliver(self, delivery):
            sent_at[self.n].append(clock.now().timestamp())
            return await super().deliver(delivery)

    # Both sleep on the one clock, each moving it: time runs faster, the budget with it.
    pumps = [
        OutboxPump(services.sessions, clock, Timed(n), sleep=moving(clock), budget=budget, batch=20)
        for n, budget in enumerate(budgets)
    ]

    async def drain(pump):
        for _ in range(100):
            if not await pump.run_once(20):
                return

    try:
        await asyncio.gather(*(drain(pump) for pump in pumps))
    finally:
        for budget in budgets:
            await budget.close()
    assert len(sent_at[0] + sent_at[1]) == 150
    return sent_at


@needs_redis
async def test_two_pumps_sharing_redis_send_at_one_budget_together(services):
    prefix = f"test-send-budget:{uuid.uuid4().hex}"
    sent_at = await pump_twice(services, [shared(prefix=prefix), shared(prefix=prefix)])
    both = sent_at[0] + sent_at[1]
    assert sent_at[0] and sent_at[1]
    # a send is counted when it reaches Telegram, a moment after its budget was taken (the
    # other pump may move the clock in between): one more in a window is that, not a burst
    for window in (1, 2):
        assert most_in_any_window(both, window) <= LIMITS.burst + 30 * window + 1


async def test_two_pumps_pacing_alone_send_twice_as_fast(services):
    # the contrast: today's pumps, each its own budget
    sent_at = await pump_twice(services, [LocalBudget(LIMITS), LocalBudget(LIMITS)])
    both = sent_at[0] + sent_at[1]
    assert most_in_any_window(both, 2) > LIMITS.burst + 30 * 2 + 1
