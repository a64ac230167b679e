"""The notification pump: 3,000 messages to 3,000 chats through the emulator, Telegram's flood
limits on, with injected 429 storms; real time (the emulator and the pump both on the real
monotonic clock).

Setup (not timed): a SQLite file database, a shop, 3,000 buyers who each opened the bot and
each placed an order through OrderService.create_orders, so 3,000 "order created" rows wait in
the outbox (the shop's own new-order pings are removed: one chat would take 50 minutes at
Telegram's 1/s). Timed: the pump as the bot runs it (`OutboxPump.run` with
`handlers.telegram.notifier.TelegramSender`: expand, claim, render, send, record), until
every chat has its message; every `--storm-every` messages delivered, the emulator answers
the next `--storm` sends with 429 "retry after `--retry-after`".

Reports delivered, lost (chats with no message), duplicates (messages beyond one per chat),
wall time and the delivered rate against Telegram's 30 messages/s ceiling.
Run: `.venv/bin/python bench/bench_pump.py` (about two minutes).

Several instances (issue 15): `--instances 2` runs two pumps as two instances would (each its
own container, bot and pump, on the one database); with `--redis URL` they share the send
budget through Redis (under a key prefix of this run's own), without it each paces itself as
before. Also reported: the sending calls that reached the emulator, the 429s it answered, the
budget's Redis round trips per message and the process's CPU per message (pumps, emulator and
all, in this one process). `--no-flood-limits` turns the emulator's limits off, so the rate
shown is the pumps' own pace.

Also reported: the event loop's lag while pumping (bench/loop_lag.py: how late a 5 ms timer
on the loop wakes up; pumps, emulator and the bench's own polling share that loop), p99 and
max in ms, against issue 15's p99 <= 20 ms; and the longest of the bench's own polls (it
counts every chat's messages every 20 ms), which is part of that lag and not the bot's.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

from sqlalchemy import delete, func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.loop_lag import LoopLag  # noqa: E402
from bot.container import build_container  # noqa: E402
from bot.pumps import build_pump, send_budget  # noqa: E402
from bot.sandbox.emulator import TelegramEmulator  # noqa: E402
from bot.sandbox.limits import FloodControl, FloodLimits, FloodWait  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.telegram import build_bot  # noqa: E402
from services.messaging.notifications.shared_budget import RedisBudget  # noqa: E402
from services.orders.actors import ActorRef, Channel  # noqa: E402
from services.orders.drafts import BuyerDraft, ItemDraft, OrderDraft  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Delivery, OutboxMessage  # noqa: E402

TOKEN = "123456:BENCH"
CEILING = 30.0  # Telegram's messages per second in all


def bot_messages(emulator: TelegramEmulator, chat_ids: list[int]) -> Counter:
    chats = emulator.world.chats
    return Counter(
        {c: sum(1 for m in chats[c].messages if m.outgoing) if c in chats else 0 for c in chat_ids}
    )


class CountedRedisBudget(RedisBudget):
    """The shared budget, its calls to Redis counted (a call while Redis is away counts too)."""

    round_trips = 0

    async def acquire(self, waiting, now):
        CountedRedisBudget.round_trips += 1
        return await super().acquire(waiting, now)

    async def refused(self, delivery, outcome, now):
        CountedRedisBudget.round_trips += 1
        return await super().refused(delivery, outcome, now)

    async def pauses(self, now):
        CountedRedisBudget.round_trips += 1
        return await super().pauses(now)


class CountedFlood(FloodControl):
    """The emulator's flood control, counting the sending calls and the 429s."""

    calls = refused = 0

    def check(self, chat_id: int, private: bool) -> None:
        CountedFlood.calls += 1
        try:
            super().check(chat_id, private)
        except FloodWait:
            CountedFlood.refused += 1
            raise


def shared_budget(redis_url: str | None, prefix: str) -> RedisBudget | None:
    budget = send_budget(redis_url, None, prefix=prefix)
    if budget is None:
        return None
    assert isinstance(budget, RedisBudget)
    return CountedRedisBudget(budget._client, budget.limits, prefix=prefix)


async def run(
    chats: int,
    storm: int,
    storm_every: int,
    retry_after: int,
    instances: int = 1,
    redis_url: str | None = None,
    flood_limits: bool = True,
) -> int:
    folder = Path(tempfile.mkdtemp(prefix="shopbot-bench-"))
    url = f"sqlite+aiosqlite:///{folder}/bench.db"
    await asyncio.to_thread(upgrade, url)
    # Telegram's limits, real time
    emulator = TelegramEmulator(flood=FloodLimits() if flood_limits else FloodLimits.off())
    emulator.flood.__class__ = CountedFlood  # counted where the emulator (and its context) holds it
    await emulator.start()
    settings = Settings(
        _env_file=None, bot_token=TOKEN, telegram_api_url=emulator.url, database_url=url
    )
    # One container and bot per instance, as two processes would have.
    containers = [build_container(settings) for _ in range(instances)]
    bots = [build_bot(TOKEN, emulator.url, wait_out_floods=False) for _ in range(instances)]
    container = containers[0]
    prefix = f"bench-send-budget:{uuid.uuid4().hex}"
    try:
        print(f"setting up {chats} buyers and orders ...", flush=True)
        shop = (
            await container.shops.create_shop(
                name="Bench shop", owner_telegram_id=1, preset="marketplace"
            )
        ).shop
        people = [emulator.user(f"Buyer {n}") for n in range(chats)]
        for n, person in enumerate(people):
            emulator.start_bot(person)
            await container.orders.create_orders(
                shop.id,
                OrderDraft(
                    buyer=BuyerDraft(
                        name=f"Buyer {n}", phone=f"+7916{n:07d}", telegram_id=person.id
                    ),
                    items=[ItemDraft("SKU-1", "Cat food", 1, 150_000, "in_stock")],
                    payment_method="card",
                    delivery_method="post",
                ),
                ActorRef.system(Channel.API),
                source="api",
            )
        async with container.sessions() as session, session.begin():
            await session.execute(delete(OutboxMessage).where(OutboxMessage.topic == "new_order"))
            waiting = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.state == "pending")
            )
        print(f"{waiting} messages in the outbox; pumping", flush=True)

        chat_ids = [p.id for p in people]
        pumps = [
            build_pump(c, b, budget=shared_budget(redis_url, prefix))
            for c, b in zip(containers, bots, strict=True)
        ]
        stop = asyncio.Event()
        lag = LoopLag()
        await lag.start()
        started, cpu_started = time.monotonic(), time.process_time()
        pumping = asyncio.gather(*(pump.run(stop) for pump in pumps))
        storms = 0
        next_storm = storm_every
        last_change, delivered = started, 0
        longest_poll = 0.0  # the bench's own share of the loop's lag
        while True:
            await asyncio.sleep(0.02)
            polled = time.perf_counter()
            counts = bot_messages(emulator, chat_ids)
            now_delivered = sum(1 for c in counts.values() if c)
            longest_poll = max(longest_poll, time.perf_counter() - polled)
            if now_delivered != delivered:
                delivered, last_change = now_delivered, time.monotonic()
            if storm and delivered >= next_storm and next_storm < chats:
                emulator.inject_flood(storm, retry_after=retry_after)
                storms += 1
                next_storm += storm_every
            if delivered == chats or time.monotonic() - last_change > 60:
                break
        finished, cpu = last_change, time.process_time() - cpu_started
        lag_report = await lag.stop()
        stop.set()
        await asyncio.wait_for(pumping, 30)
        counts = bot_messages(emulator, chat_ids)
        async with container.sessions() as session:
            rows = list(await session.scalars(select(Delivery)))
        wall = finished - started
        lost = sum(1 for c in counts.values() if c == 0)
        duplicates = sum(c - 1 for c in counts.values() if c > 1)
        delivered = sum(1 for c in counts.values() if c)
        rate = delivered / wall
        flood_met = sum(1 for r in rows if "flood control" in (r.last_error or ""))
        print()
        print(
            f"chats: {chats}, storms: {storms} x {storm} sends answered 429 retry {retry_after} s"
        )
        print(f"delivered: {delivered}, lost: {lost}, duplicates: {duplicates}")
        print(f"deliveries: {Counter(r.state for r in rows)}; met a 429: {flood_met}")
        print(f"wall: {wall:.1f} s, rate: {rate:.1f}/s = {100 * rate / CEILING:.1f}% of 30/s")
        budget = f"shared in Redis ({redis_url})" if redis_url else "each its own"
        print(
            f"instances: {instances}, budget: {budget}; sending calls: {CountedFlood.calls} "
            f"({CountedFlood.calls / wall:.1f}/s), 429s: {CountedFlood.refused}; "
            f"Redis round trips/message: {CountedRedisBudget.round_trips / max(1, delivered):.2f}; "
            f"CPU: {1000 * cpu / max(1, delivered):.2f} ms/message"
        )
        print(
            f"{lag_report.line('pumping')}; loop lag p99 / max {lag_report.cells()} ms; "
            f"the bench's longest poll {longest_poll * 1000:.1f} ms"
        )
        return 0 if lost == 0 and duplicates == 0 else 1
    finally:
        for each in bots:
            await each.session.close()
        for each in containers:
            await each.close()
        await emulator.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=3000)
    parser.add_argument("--storm", type=int, default=20, help="sends answered 429 per storm")
    parser.add_argument("--storm-every", type=int, default=500, help="messages between storms")
    parser.add_argument("--retry-after", type=int, default=2)
    parser.add_argument("--instances", type=int, default=1, help="pumps, as instances")
    parser.add_argument("--redis", help="share the send budget through this Redis")
    parser.add_argument("--no-flood-limits", dest="flood_limits", action="store_false")
    args = parser.parse_args()
    return asyncio.run(
        run(
            args.chats,
            args.storm,
            args.storm_every,
            args.retry_after,
            args.instances,
            args.redis,
            args.flood_limits,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
