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
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import delete, func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.container import build_container  # noqa: E402
from bot.pumps import build_pump  # noqa: E402
from bot.sandbox.emulator import TelegramEmulator  # noqa: E402
from bot.sandbox.limits import FloodLimits  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.telegram import build_bot  # noqa: E402
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


async def run(chats: int, storm: int, storm_every: int, retry_after: int) -> int:
    folder = Path(tempfile.mkdtemp(prefix="shopbot-bench-"))
    url = f"sqlite+aiosqlite:///{folder}/bench.db"
    await asyncio.to_thread(upgrade, url)
    emulator = TelegramEmulator(flood=FloodLimits())  # Telegram's limits, real time
    await emulator.start()
    settings = Settings(
        _env_file=None, bot_token=TOKEN, telegram_api_url=emulator.url, database_url=url
    )
    container = build_container(settings)
    bot = build_bot(TOKEN, emulator.url, wait_out_floods=False)
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
        pump = build_pump(container, bot)
        stop = asyncio.Event()
        started = time.monotonic()
        pumping = asyncio.create_task(pump.run(stop))
        storms = 0
        next_storm = storm_every
        last_change, delivered = started, 0
        while True:
            await asyncio.sleep(0.02)
            counts = bot_messages(emulator, chat_ids)
            now_delivered = sum(1 for c in counts.values() if c)
            if now_delivered != delivered:
                delivered, last_change = now_delivered, time.monotonic()
            if storm and delivered >= next_storm and next_storm < chats:
                emulator.inject_flood(storm, retry_after=retry_after)
                storms += 1
                next_storm += storm_every
            if delivered == chats or time.monotonic() - last_change > 60:
                break
        finished = last_change
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
        return 0 if lost == 0 and duplicates == 0 else 1
    finally:
        await bot.session.close()
        await container.close()
        await emulator.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chats", type=int, default=3000)
    parser.add_argument("--storm", type=int, default=20, help="sends answered 429 per storm")
    parser.add_argument("--storm-every", type=int, default=500, help="messages between storms")
    parser.add_argument("--retry-after", type=int, default=2)
    args = parser.parse_args()
    return asyncio.run(run(args.chats, args.storm, args.storm_every, args.retry_after))


if __name__ == "__main__":
    sys.exit(main())
