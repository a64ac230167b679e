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
answers at once, which no real bot sees). `--orders-in-flight` sets ORDER_MAX_IN_FLIGHT
(services/orders/in_flight.py: the order transactions run at once), each value with each of
`--limits`; none by default. Once per setting in turn, --rounds times (the machine drifts
between runs; turns spread the drift over every setting), after one burst to warm up:

- taps/s: from the burst's queueing to the last tap's callback answer;
- each tap's latency, from its being queued to its callback answer (what the person waits
  for the button's spinner to stop): p50 and p99;
- the event loop's lag during the burst (bench/loop_lag.py): p99 and max;
- process CPU per tap;
- the garbage collector's passes during the burst and their time.

Every tap must have been answered and every order confirmed, or the run fails.
Run: `.venv/bin/python bench/bench_burst.py --taps 300 --rounds 3 --limits none,4,8,16`, or
`--taps 1000 --telegram-ms 80 --backend postgres --limits 100 --orders-in-flight none,8`.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_tap import CONFIRM, bench_shop, percentile, staff_cards  # noqa: E402
from bench.loop_lag import TARGET_P99_MS, LagReport, LoopLag  # noqa: E402
from bench.scratch_postgres import scratch_database  # noqa: E402
from bot import heap  # noqa: E402
from bot.sandbox.methods import REGISTRY  # noqa: E402
from bot.telegram_responses import pin_response_classes  # noqa: E402
from services.orders.in_flight import InFlight  # noqa: E402
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


@dataclass
class Burst:
    latencies: list[float]  # each tap's, from the burst's queueing to its callback answer
    seconds: float
    cpu: float  # the process's CPU seconds
    lag: LagReport
    collections: int  # the garbage collector's passes during the burst
    collecting: float  # and their seconds


class Collections:
    """The garbage collector's passes while it is entered: how many, and their wall time."""

    def __enter__(self) -> Collections:
        self.count, self.seconds, self._started = 0, 0.0, 0.0
        gc.callbacks.append(self._timed)
        return self

    def __exit__(self, *_exc) -> None:
        gc.callbacks.remove(self._timed)

    def _timed(self, phase: str, _info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.seconds += time.perf_counter() - self._started


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


# A burst's setting: (tasks_concurrency_limit, ORDER_MAX_IN_FLIGHT); None: no limit.
Setup = tuple[int | None, int | None]


async def run(taps: int, rounds: int, setups: list[Setup], backend: str, rtt: float) -> None:
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="shopbot-bench-"))
        await bursts(f"sqlite+aiosqlite:///{folder}/bench.db", "SQLite", taps, rounds, setups, rtt)
        return
    admin_url = os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    async with scratch_database(admin_url) as (url, version):
        await bursts(url, f"PostgreSQL {version.split()[0]}", taps, rounds, setups, rtt)


async def bursts(
    url: str, backend: str, taps: int, rounds: int, setups: list[Setup], rtt: float
) -> None:
    measured: dict[Setup, list[Burst]] = defaultdict(list)
    async with bench_shop(url) as shop:
        count = rounds * len(setups) + 1
        cards = await staff_cards(shop, count * taps)
        pin_response_classes()
        heap.settle()
        with Distance(rtt), Answers() as answers:
            plan: list[Setup] = [setups[0]] + [x for _ in range(rounds) for x in setups]
            for index, (limit, orders_limit) in enumerate(plan):
                shop.container.work.in_flight = InFlight(orders_limit)
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
                with Collections() as collections:
                    async with LoopLag() as lag:
                        latencies, seconds, cpu = await burst(
                            shop.emulator, shop.manager, own, answers
                        )
                await shop.dispatcher.stop_polling()
                await polling
                if index:  # the first burst warms up
                    measured[limit, orders_limit].append(
                        Burst(
                            latencies,
                            seconds,
                            cpu,
                            lag.report(),
                            collections.count,
                            collections.seconds,
                        )
                    )
        async with shop.container.sessions() as session:
            confirmed = await session.scalar(
                select(func.count()).where(
                    Order.shop_id == shop.shop_id, Order.status == "awaiting_payment"
                )
            )
        assert confirmed == len(plan) * taps, (confirmed, len(plan) * taps)
    _print(measured, taps, f"{backend}, every Bot API call answered {rtt * 1000:.0f} ms later")


def _print(measured: dict[Setup, list[Burst]], taps: int, backend: str) -> None:
    print(
        "| tasks_concurrency_limit | ORDER_MAX_IN_FLIGHT | bursts | taps/s "
        "| tap latency p50 / p99 ms | CPU ms/tap | loop lag p99 / max ms "
        "| collector passes / ms |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (limit, orders_limit), runs in measured.items():
        rates = " ".join(f"{taps / run.seconds:.0f}" for run in runs)
        latencies = [value for run in runs for value in run.latencies]
        cpu = statistics.mean(run.cpu / taps for run in runs)
        lags = " ".join(f"{run.lag.p99_ms:.1f}/{run.lag.max_ms:.0f}" for run in runs)
        collected = " ".join(f"{run.collections}/{run.collecting * 1000:.0f}" for run in runs)
        print(
            f"| {_name(limit)} | {_name(orders_limit)} | {len(runs)} | {rates} "
            f"| {statistics.median(latencies) * 1000:.0f} / "
            f"{percentile(latencies, 0.99) * 1000:.0f} | {cpu * 1000:.2f} | {lags} "
            f"| {collected} |"
        )
    print()
    print(f"{backend}; {taps} taps queued at once per burst")
    print(f"target: loop lag p99 <= {TARGET_P99_MS:g} ms")


def _limit(text: str) -> int | None:
    return None if text == "none" else int(text)


def _name(limit: int | None) -> str:
    return "none" if limit is None else str(limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taps", type=int, default=300, help="taps queued at once per burst")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--limits", default="none,4,8,16", help="comma-separated; none: no limit")
    parser.add_argument(
        "--orders-in-flight",
        default="none",
        help="ORDER_MAX_IN_FLIGHT values, comma-separated, each tried with each of --limits",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--telegram-ms", type=float, default=0, help="each Bot API call answered so much later"
    )
    args = parser.parse_args()
    setups = [
        (_limit(limit), _limit(orders))
        for limit in args.limits.split(",")
        for orders in args.orders_in_flight.split(",")
    ]
    asyncio.run(run(args.taps, args.rounds, setups, args.backend, args.telegram_ms / 1000))


if __name__ == "__main__":
    main()
