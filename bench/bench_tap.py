"""A status-button tap through `Dispatcher.feed_update`, beside a bare aiogram callback handler.

The tap is the real thing: the bot's dispatcher with its middlewares (identity, language,
refusals, callback answers), the order card handler, OrderService.apply (authorization,
transition, audit, timers, outbox) on a SQLite file database, and the card edited in place
through the built-in Telegram emulator over HTTP. The bare handler, in the same run and
against the same emulator, answers the callback and edits the message, and does nothing else:
the floor of what any tap costs here.

Each tap is a `confirm` on its own order, so every tap is a real transition. Prints taps per
second, p50/p99 latency and process CPU per tap of both, and their ratio; for the ShopBot tap
also the thread hops onto SQLite's connection thread per tap. `--sqlite-adapter both` runs
everything once with SQLAlchemy's stock aiosqlite adapter, then with the one-hop adapter
(storage/sqlite_driver.py). Run: `.venv/bin/python bench/bench_tap.py`.

Then, pinned, as many taps again side by side: a ShopBot tap, a bare one, and on, each on
cards of its own; their p50 ratio and CPU per tap are printed under the table (the machine's
drift between the blocks above does not enter it).

Also printed per row: the event loop's lag during its timed taps (bench/loop_lag.py), p99
and max in ms. The emulator serves the Bot API from the same loop, as the tests' bot does,
so its share of the work is in the figure too.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiogram import Dispatcher, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Update

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.hops import HopCounter  # noqa: E402
from bench.loop_lag import TARGET_P99_MS, LoopLag  # noqa: E402
from bot import heap  # noqa: E402
from bot.container import build_container  # noqa: E402
from bot.i18n import build_i18n  # noqa: E402
from bot.sandbox.emulator import TelegramEmulator  # noqa: E402
from bot.sandbox.limits import FloodLimits  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.telegram import build_bot, build_dispatcher  # noqa: E402
from bot.telegram_responses import _PINNED, pin_response_classes  # noqa: E402
from handlers.telegram.card_view import card_digest, card_keyboard, card_text  # noqa: E402
from services.orders.actors import ActorRef, Channel  # noqa: E402
from services.orders.drafts import BuyerDraft, ItemDraft, OrderDraft  # noqa: E402
from storage.database import SQLITE_ADAPTER_VARIABLE  # noqa: E402
from storage.migrate import upgrade  # noqa: E402

TOKEN = "123456:BENCH"
CONFIRM = "Подтвердить и выставить счёт"


def next_update(emulator: TelegramEmulator, bot) -> Update:
    """Take the update the emulator queued for the tap, as polling would have delivered it."""
    pending = emulator.world.pending.pop(0)
    return Update.model_validate(
        {"update_id": pending.update_id, pending.kind: pending.render()}, context={"bot": bot}
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def measure(emulator, bot, dispatcher, user, messages, text) -> list[float]:
    latencies = []
    for message in messages:
        emulator.tap(user, message, text=text)
        update = next_update(emulator, bot)
        started = time.perf_counter()
        await dispatcher.feed_update(bot, update)
        latencies.append(time.perf_counter() - started)
    return latencies


async def measure_interleaved(
    emulator, bot, dispatchers, user, card_lists, text
) -> list[tuple[list[float], list[float]]]:
    """One tap of each dispatcher in turn, on its own cards: (latencies, CPU seconds) per
    dispatcher. The machine this runs on drifts by tens of percent within seconds; taps
    taken side by side see the same machine, so their ratio is the code's, not the drift's."""
    measured: list[tuple[list[float], list[float]]] = [([], []) for _ in dispatchers]
    for cards in zip(*card_lists, strict=True):
        for (latencies, cpu), dispatcher, message in zip(measured, dispatchers, cards, strict=True):
            emulator.tap(user, message, text=text)
            update = next_update(emulator, bot)
            cpu_started, started = time.process_time(), time.perf_counter()
            await dispatcher.feed_update(bot, update)
            latencies.append(time.perf_counter() - started)
            cpu.append(time.process_time() - cpu_started)
    return measured


@dataclass
class Shop:
    """The bot's pieces, built as bot/runner.py builds them, beside the emulator; a shop whose
    owner (`manager`, `actor`) has /start-ed the bot."""

    emulator: TelegramEmulator
    container: Any
    bot: Any
    dispatcher: Dispatcher
    manager: Any
    shop_id: int
    actor: ActorRef


@asynccontextmanager
async def bench_shop(url: str) -> AsyncIterator[Shop]:
    """A migrated database at `url`, the emulator (flood limits off) and the bot; closed
    after."""
    await asyncio.to_thread(upgrade, url)
    emulator = TelegramEmulator(flood=FloodLimits.off())
    await emulator.start()
    settings = Settings(
        _env_file=None, bot_token=TOKEN, telegram_api_url=emulator.url, database_url=url
    )
    container = build_container(settings)
    bot = build_bot(TOKEN, emulator.url)
    try:
        manager = emulator.user("Max")
        emulator.send(manager, "/start")
        emulator.world.pending.clear()
        created = await container.shops.create_shop(name="Bench", owner_telegram_id=manager.id)
        yield Shop(
            emulator,
            container,
            bot,
            build_dispatcher(container),
            manager,
            created.shop.id,
            ActorRef.user(created.owner.id),
        )
    finally:
        await bot.session.close()
        await container.close()
        await emulator.stop()


async def staff_cards(shop: Shop, count: int) -> list:
    """`count` new orders of the shop, each with its card sent to its owner and remembered
    as the bot remembers every card it sends (handlers.telegram.order_card show_card), so a
    tap's redraw records its digest as it does for real cards: the emulator's card messages,
    in order."""
    container, actor = shop.container, shop.actor
    i18n = build_i18n()
    cards = []
    for _ in range(count):
        [order] = await container.orders.create_orders(
            shop.shop_id,
            OrderDraft(
                BuyerDraft(email="buyer@example.com"),
                [ItemDraft("SKU", "Goods", 1, 10_000)],
                "card",
                "post",
            ),
            ActorRef.system(Channel.API),
            source="api",
        )
        view = await container.orders.view(order.id, actor)
        with i18n.context(), i18n.use_locale("ru"):
            text, keyboard = card_text(view, "ru"), card_keyboard(view, "ru")
        sent = await shop.bot.send_message(shop.manager.id, text, reply_markup=keyboard)
        await container.cards.remember(
            order.id, actor.user_id, sent.chat.id, sent.message_id, card_digest(text, keyboard)
        )
        cards.append(shop.emulator.last(shop.manager))
    return cards


async def run(taps: int, warmup: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="shopbot-bench-"))
    async with bench_shop(f"sqlite+aiosqlite:///{folder}/bench.db") as shop:
        await _measure_all(shop, taps, warmup)


async def _measure_all(shop: Shop, taps: int, warmup: int) -> None:
    emulator, container, bot, dispatcher = shop.emulator, shop.container, shop.bot, shop.dispatcher
    manager, actor = shop.manager, shop.actor
    cards = await staff_cards(shop, 3 * taps + warmup)

    # the bare handler: answer and edit, nothing else
    bare = Dispatcher()
    router = Router()

    @router.callback_query()
    async def bare_tap(query: CallbackQuery) -> None:
        await query.message.edit_text(f"tapped {query.id}")
        await query.answer()

    bare.include_router(router)
    bare_keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=CONFIRM, callback_data="bare")]]
    )
    bare_cards = []
    for index in range(3 * taps + warmup):
        await bot.send_message(manager.id, f"bare {index}", reply_markup=bare_keyboard)
        bare_cards.append(emulator.last(manager))

    await measure(emulator, bot, dispatcher, manager, cards[:warmup], CONFIRM)
    await measure(emulator, bot, bare, manager, bare_cards[:warmup], CONFIRM)
    # Side by side: aiogram as it comes (its Response[T] classes rebuilt whenever pydantic
    # has dropped them), then with them pinned (bot.telegram_responses).
    measured = {}
    for pinned in (False, True):
        _PINNED.clear()
        # What is built so far out of the collector's full passes, as the bot does before
        # it serves (bot/heap.py): unfrozen, a full pass over the start-up heap (~0.2 s on
        # this loop) lands in some taps and is this bench's, not the bot's.
        heap.settle()
        if pinned:
            pin_response_classes()
        part = slice(warmup + taps, warmup + 2 * taps) if pinned else slice(warmup, warmup + taps)
        label = "pinned" if pinned else "unpinned"
        with HopCounter() as hops:
            async with LoopLag() as lag:
                cpu, started = time.process_time(), time.perf_counter()
                values = await measure(emulator, bot, dispatcher, manager, cards[part], CONFIRM)
                seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
            measured[f"status tap (ShopBot), {label}"] = (
                values,
                seconds,
                cpu,
                hops.hops,
                lag.report(),
            )
        async with LoopLag() as lag:
            cpu, started = time.process_time(), time.perf_counter()
            values = await measure(emulator, bot, bare, manager, bare_cards[part], CONFIRM)
            seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        measured[f"bare callback handler, {label}"] = (values, seconds, cpu, 0, lag.report())

    # Then tap by tap, pinned: a ShopBot tap, a bare one, and so on.
    last = slice(warmup + 2 * taps, None)
    interleaved = await measure_interleaved(
        emulator, bot, (dispatcher, bare), manager, (cards[last], bare_cards[last]), CONFIRM
    )

    statuses = {
        (await container.orders.get(c_id, actor)).status
        for c_id in await _order_ids(container, shop.shop_id)
    }
    assert statuses == {"awaiting_payment"}, statuses
    print(
        "| handler | taps | taps/s | p50 ms | p99 ms | CPU ms/tap | hops/tap "
        "| loop lag p99 / max ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, (values, seconds, cpu, hops, lag_report) in measured.items():
        print(
            f"| {name} | {len(values)} | {len(values) / seconds:.0f} | "
            f"{statistics.median(values) * 1000:.2f} | "
            f"{percentile(values, 0.99) * 1000:.2f} | "
            f"{cpu / len(values) * 1000:.2f} | {hops / len(values):.1f} "
            f"| {lag_report.cells()} |"
        )
    print()
    for label in ("unpinned", "pinned"):
        shop_taps = measured[f"status tap (ShopBot), {label}"][0]
        bare_taps = measured[f"bare callback handler, {label}"][0]
        print(
            f"p50 ratio (ShopBot / bare), {label}: "
            f"{statistics.median(shop_taps) / statistics.median(bare_taps):.1f}x"
        )
    (shop_taps, shop_cpu), (bare_taps, bare_cpu) = interleaved
    print(
        "p50 ratio (ShopBot / bare), pinned, interleaved tap by tap: "
        f"{statistics.median(shop_taps) / statistics.median(bare_taps):.1f}x "
        f"(p50 {statistics.median(shop_taps) * 1000:.2f} / "
        f"{statistics.median(bare_taps) * 1000:.2f} ms, CPU "
        f"{statistics.mean(shop_cpu) * 1000:.2f} / {statistics.mean(bare_cpu) * 1000:.2f} "
        "ms per tap)"
    )
    print(
        "targets: p50 within 3x of the bare handler, at least 200 taps/s on SQLite, "
        f"event-loop lag p99 <= {TARGET_P99_MS:g} ms"
    )
    print(measured["status tap (ShopBot), pinned"][4].line("the pinned ShopBot taps"))


async def _order_ids(container, shop_id) -> list[int]:
    from sqlalchemy import select

    from storage.models import Order

    async with container.sessions() as session:
        return list(await session.scalars(select(Order.id).where(Order.shop_id == shop_id)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument(
        "--sqlite-adapter",
        choices=("default", "both"),
        default="default",
        help="both: SQLAlchemy's stock aiosqlite adapter, then the one-hop one, in this process",
    )
    args = parser.parse_args()
    if args.sqlite_adapter == "default":
        asyncio.run(run(args.taps, args.warmup))
        return
    for adapter in ("aiosqlite", "one-hop"):
        os.environ[SQLITE_ADAPTER_VARIABLE] = adapter
        print(f"\nSQLite adapter: {adapter}\n")
        asyncio.run(run(args.taps, args.warmup))


if __name__ == "__main__":
    main()
