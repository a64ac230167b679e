"""A burst of status taps through long polling: how many updates the bot should handle at once.

The bot polls Telegram with aiogram's `start_polling` (bot/runner.py), each update handled in
a task of its own. A getUpdates call hands over up to 100 updates; with no limit all of them
run at once on the one event loop, and each turn of the loop runs a slice of every one: a
timer, a storefront request or a payment webhook on that loop waits a whole turn, and every
tap of the batch is answered late, near the batch's end. aiogram's `tasks_concurrency_limit`
lets so many run at once and holds the polling loop (the rest of the batch waits, in order,
the next getUpdates is not asked) until one ends.

Here a staff member's --taps status taps (`confirm`, each on its own order's card, as in
bench_tap.py) are queued in the built-in Telegram emulator at once, and the bot's real
dispatcher polls them as bot/telegram.py `poll` does; a SQLite file database (or with
`--backend postgres` a fresh PostgreSQL database from TEST_POSTGRES_URL, dropped after), the
emulator on the same loop, its flood limits off. With `--telegram-ms N` every Bot API call is
answered N ms later, as a Telegram across the network answers (the emulator beside the bot
answers at once, which no real bot sees). Once per limit in turn, --rounds times (the machine
drifts between runs; turns spread the drift over every limit), after one burst to warm up:

- taps/s: from the burst's queueing to the last tap's callback answer;
- each tap's latency, from its being queued to its callback answer (what the person waits
  for the button's spinner to stop): p50 and p99;
- the event loop's lag during the burst (bench/loop_lag.py): p99 and max;
- process CPU per tap.

Every tap must have been answered and every order confirmed, or the run fails.
Run: `.venv/bin/python bench/bench_burst.py --taps 300 --rounds 3 --limits none,4,8,16`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_tap import CONFIRM, bench_shop, percentile, staff_cards  # noqa: E402
from bench.loop_lag import TARGET_P99_MS, LoopLag  # noqa: E402
from bench.scratch_postgres import scratch_database  # noqa: E402
from bot import heap  # noqa: E402
from bot.sandbox.methods import REGISTRY  # noqa: E402
from bot.telegram_responses import pin_response_classes  # noqa: E402
from storage.models import Order  # noqa: E402

ANSWER = "answercallbackquery"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
BURST_SECONDS = 120  # a burst not answered by then has lost taps: the run fails


class Distance:
    """Every Bot API call answered `seconds` later, as a Telegram across the network would
    answer it (the emulator beside the bot answers at once)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __enter__(self) -> Distance:
        self._inner = dict(REGISTRY)
        if self.seconds > 0:
            for name, handler in self._inner.items():
                REGISTRY[name] = self._later(handler)
        return self

    def _later(self, handler):
        async def answer(context, params):
            await asyncio.sleep(self.seconds)
            return await handler(context, params)

        return answer

    def __exit__(self, *_exc) -> None:
        REGISTRY.update(self._inner)


class Answers:
    """When the emulator answered each callback query (perf_counter), by its id."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.arrived = asyncio.Event()
        self.expected = 0

    def __enter__(self) -> Answers:
        self._inner = REGISTRY[ANSWER]

        async def answer(context, params):
            result = await self._inner(context, params)
            self.at[params.text("callback_query_id")] = time.perf_counter()
            if len(self.at) >= self.expected:
                self.arrived.set()
            return result

        REGISTRY[ANSWER] = answer
        return self

    def __exit__(self, *_exc) -> None:
        REGISTRY[ANSWER] = self._inner

    def expect(self, count: int) -> None:
        self.at.clear()
        self.expected = count
        self.arrived = asyncio.Event()


async def burst(emulator, manager, cards, answers: Answers) -> tuple[list[float], float, float]:
    """Queue a tap on each card at once; wait for every answer: (latencies, seconds, CPU)."""
    answers.expect(len(cards))
    cpu, started = time.process_time(), time.perf_counter()
    queries = [emulator.tap(manager, card, text=CONFIRM) for card in cards]
    await asyncio.wait_for(answers.arrived.wait(), BURST_SECONDS)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return [answers.at[query.id] - started for query in queries], seconds, cpu


async def run(taps: int, rounds: int, limits: list[int | None], backend: str, rtt: float) -> None:
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="shopbot-bench-"))
        await bursts(f"sqlite+aiosqlite:///{folder}/bench.db", "SQLite", taps, rounds, limits, rtt)
        return
    admin_url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    async with scratch_database(admin_url) as (url, version):
        await bursts(url, f"PostgreSQL {version.split()[0]}", taps, rounds, limits, rtt)


async def bursts(url: str, backend: str, taps: int, rounds: int, limits: list, rtt: float) -> None:
    measured: dict[int | None, list[tuple[list[float], float, float, object]]] = defaultdict(list)
    async with bench_shop(url) as shop:
        count = rounds * len(limits) + 1
        cards = await staff_cards(shop, count * taps)
        pin_response_classes()
        heap.settle()
        with Distance(rtt), Answers() as answers:
            plan: list[int | None] = [limits[0]] + [x for _ in range(rounds) for x in limits]
            for index, limit in enumerate(plan):
                polling = asyncio.create_task(
                    shop.dispatcher.start_polling(
                        shop.bot,
                        handle_signals=False,
                        close_bot_session=False,
                        tasks_concurrency_limit=limit,
                    )
                )
                await shop.emulator.wait_polling()
                own = cards[index * taps : (index + 1) * taps]
                async with LoopLag() as lag:
                    latencies, seconds, cpu = await burst(shop.emulator, shop.manager, own, answers)
                await shop.dispatcher.stop_polling()
                await polling
                if index:  # the first burst warms up
                    measured[limit].append((latencies, seconds, cpu, lag.report()))
        async with shop.container.sessions() as session:
            confirmed = await session.scalar(
                select(func.count()).where(
                    Order.shop_id == shop.shop_id, Order.status == "awaiting_payment"
                )
            )
        assert confirmed == len(plan) * taps, (confirmed, len(plan) * taps)
    _print(measured, taps, f"{backend}, every Bot API call answered {rtt * 1000:.0f} ms later")


def _print(measured, taps: int, backend: str) -> None:
    print(
        "| tasks_concurrency_limit | bursts | taps/s | tap latency p50 / p99 ms "
        "| CPU ms/tap | loop lag p99 / max ms |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for limit, runs in measured.items():
        name = "none (aiogram's default)" if limit is None else str(limit)
        rates = [taps / seconds for _, seconds, _, _ in runs]
        latencies = [value for values, *_ in runs for value in values]
        cpu = statistics.mean(cpu / taps for _, _, cpu, _ in runs)
        lags = " ".join(
            f"{report.p99_ms:.1f}/{report.max_ms:.0f}"
            for *_, report in runs  # type: ignore[attr-defined]
        )
        print(
            f"| {name} | {len(runs)} | {' '.join(f'{rate:.0f}' for rate in rates)} "
            f"| {statistics.median(latencies) * 1000:.0f} / "
            f"{percentile(latencies, 0.99) * 1000:.0f} | {cpu * 1000:.2f} | {lags} |"
        )
    print()
    print(f"{backend}; {taps} taps queued at once per burst")
    print(f"target: loop lag p99 <= {TARGET_P99_MS:g} ms")


def _limit(text: str) -> int | None:
    return None if text == "none" else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=300, help="taps queued at once per burst")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limits", default="none,4,8,16", help="comma-separated; none: no limit")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--telegram-ms", type=float, default=0, help="each Bot API call answered so much later"
    )
    args = parser.parse_args()
    limits = [_limit(text) for text in args.limits.split(",")]
    asyncio.run(run(args.taps, args.rounds, limits, args.backend, args.telegram_ms / 1000))


if __name__ == "__main__":
    main()
