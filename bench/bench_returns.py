"""Returns and reviews through their services on a SQLite file database (bench/RESULTS.md).

One marketplace shop; N orders created by the storefront, each taken through confirmation,
payment and shipping to "received" by its buyer (so the ledger holds its reserve and
credit). Then timed, per order: the buyer's return options (what the card's "Return items"
reads), a return request of one unit, the shop's approve / goods received / refund (the
last with the ledger's reversal), the buyer's stars and the shop's answer. Each is one
transaction as the bot runs it. Prints p50 / p99 per step.

Run: `.venv/bin/python bench/bench_returns.py [--orders 200]`.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.buyers.reviews import ReviewService  # noqa: E402
from services.money.returns import ReturnService  # noqa: E402
from services.orders.actors import ActorRef, Channel  # noqa: E402
from services.orders.drafts import BuyerDraft, ItemDraft, OrderDraft  # noqa: E402
from services.orders.service import OrderService  # noqa: E402
from services.orders.work import OrderWork  # noqa: E402
from services.shops.service import ShopService, get_or_create_user  # noqa: E402
from services.time.clock import SystemClock  # noqa: E402
from services.workflow.store import WorkflowStore  # noqa: E402
from storage.database import create_engine, create_session_factory  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from storage.models import Buyer  # noqa: E402


def draft(n: int) -> OrderDraft:
    return OrderDraft(
        buyer=BuyerDraft(name=f"Buyer {n}", phone=f"+7916{n:07d}", email=None, language="ru"),
        items=[
            ItemDraft(
                "CAT-1", "Cat house", 2, 150_000, "in_stock", returnable=True, return_days=14
            ),
            ItemDraft("FOOD-1", "Cat food", 3, 5_000, "in_stock"),
        ],
        payment_method="card",
        delivery_method="post",
        delivery_address="Moscow",
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def timed(samples: dict[str, list[float]], name: str, call):
    started = time.perf_counter()
    result = await call
    samples.setdefault(name, []).append(time.perf_counter() - started)
    return result


async def run(count: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="shopbot-bench-"))
    url = f"sqlite+aiosqlite:///{folder}/bench.db"
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    sessions = create_session_factory(engine)
    clock, workflows = SystemClock(), WorkflowStore()
    work = OrderWork(sessions, clock, workflows)
    orders = OrderService(work)
    shops = ShopService(sessions, clock, workflows)
    returns = ReturnService(work)
    reviews = ReviewService(work)
    created = await shops.create_shop(name="Bench", owner_telegram_id=1, preset="marketplace")
    manager = ActorRef.user((await shops.add_staff(created.shop.id, 2, "manager")).id)

    received = []
    for n in range(count):
        [order] = await orders.create_orders(
            created.shop.id, draft(n), ActorRef.system(Channel.API), source="api"
        )
        async with sessions() as session, session.begin():
            user = await get_or_create_user(session, 10_000 + n, now=clock.now())
            (await session.get(Buyer, order.buyer_id)).user_id = user.id
        for action, inputs in (
            ("confirm", {}),
            ("mark_paid", {}),
            ("ship", {"carrier": "CDEK", "track_code": f"RA{n:09d}RU"}),
        ):
            await orders.apply(order.id, manager, action, inputs)
        buyer = ActorRef.user(user.id)
        await orders.apply(order.id, buyer, "confirm_receipt")
        received.append((order.id, buyer))

    samples: dict[str, list[float]] = {}
    for order_id, buyer in received:
        options = await timed(samples, "options (card)", returns.options(order_id, buyer))
        cat = options.items[0].item_id
        request = await timed(
            samples, "request", returns.request(order_id, buyer, {cat: 1}, "Too big")
        )
        await timed(samples, "approve", returns.approve(request.id, manager))
        await timed(samples, "goods received", returns.goods_received(request.id, manager))
        await timed(samples, "refund (+ ledger)", returns.refund(request.id, manager))
        await timed(samples, "stars", reviews.rate(order_id, buyer, 5))
        await timed(samples, "answer", reviews.answer(order_id, manager, "Thank you!"))
    await timed(samples, "shop rating", reviews.rating(created.shop.id))
    await engine.dispose()

    print(f"{count} received orders, SQLite file database")
    print("| step | n | p50 ms | p99 ms | mean ms |")
    print("|---|---|---|---|---|")
    for name, values in samples.items():
        print(
            f"| {name} | {len(values)} | {percentile(values, 0.5) * 1000:.1f} | "
            f"{percentile(values, 0.99) * 1000:.1f} | {statistics.mean(values) * 1000:.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.orders))


if __name__ == "__main__":
    main()
