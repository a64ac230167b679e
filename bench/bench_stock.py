"""Order creation with stock reservation against without, and a 10,000-product import.

Two shops on one database, alike but for their products: in the first, both lines of every
order name products with stock (each order reserves them: a product look-up, two
conditional UPDATEs and two movement rows in the order's transaction); in the second, the
same SKUs name no product (free lines, today's behaviour: only the look-up finds nothing).
Orders go through `OrderService.create_orders` as the storefront API's POST does, one at a
time, alternating between the shops in rounds so both see the same machine load. Then a
CSV of 10,000 products is imported through `services.products.transfer.import_file`
(all rows checked, then written in one transaction).

SQLite (a file in a temporary directory) and PostgreSQL (a fresh database on
TEST_POSTGRES_URL's server, dropped afterwards).
Run: `.venv/bin/python bench/bench_stock.py [--orders 400] [--products 10000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bot.container import build_container  # noqa: E402
from bot.settings import Settings  # noqa: E402
from services.orders.actors import ActorRef, Channel  # noqa: E402
from services.orders.drafts import BuyerDraft, ItemDraft, OrderDraft  # noqa: E402
from services.products import transfer  # noqa: E402
from services.products.catalog import ProductDraft  # noqa: E402
from storage.migrate import upgrade_async  # noqa: E402
from storage.models import Product, StockMovement  # noqa: E402

POSTGRES = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
ROUND = 20
WARMUP = 20


def order_draft(n: int) -> OrderDraft:
    return OrderDraft(
        buyer=BuyerDraft(name="Ivan", phone="+79161234567", email=f"b{n}@example.com"),
        items=[
            ItemDraft(sku="BED-1", name="Cat bed", quantity=1, unit_price=150_000),
            ItemDraft(sku="FOOD-1", name="Cat food", quantity=2, unit_price=5_000),
        ],
        payment_method="card",
        delivery_method="courier",
        delivery_address="Moscow",
    )


async def _admin(statement: str) -> None:
    engine = create_async_engine(
        make_url(POSTGRES).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    async with engine.connect() as connection:
        await connection.execute(text(statement))
    await engine.dispose()


async def run(url: str, orders: int, products: int) -> dict:
    await upgrade_async(url)
    container = build_container(Settings(_env_file=None, database_url=url))
    try:
        shops = container.shops
        with_stock = (
            await shops.create_shop(name="Stocked", owner_telegram_id=1, preset="marketplace")
        ).shop.id
        free = (
            await shops.create_shop(name="Free", owner_telegram_id=2, preset="marketplace")
        ).shop.id
        catalogue = container.products
        for sku in ("BED-1", "FOOD-1"):
            await catalogue.save(with_stock, None, ProductDraft(sku, sku, on_hand=10**8))
        api = ActorRef.system(Channel.API)
        create = container.orders.create_orders
        for n in range(WARMUP):
            await create(with_stock, order_draft(n), api, source="api")
            await create(free, order_draft(n), api, source="api")
        spent = {with_stock: 0.0, free: 0.0}
        done = 0
        while done < orders:
            for shop_id in (with_stock, free):
                start = time.perf_counter()
                for n in range(ROUND):
                    await create(shop_id, order_draft(done + n), api, source="api")
                spent[shop_id] += time.perf_counter() - start
            done += ROUND
        async with container.sessions() as session:
            reserved = await session.scalar(
                select(func.sum(Product.reserved)).where(Product.shop_id == with_stock)
            )
            moves = await session.scalar(select(func.count()).select_from(StockMovement))
        assert reserved == 3 * (done + WARMUP), reserved
        assert moves == 2 + 2 * (done + WARMUP), moves

        importer = (await shops.create_shop(name="Import", owner_telegram_id=3)).shop.id
        rows = ["sku,title,price,on_hand,returnable,return_days,low_stock_at"]
        rows += [
            f"SKU-{i},Product number {i},{i % 900 + 100}.50,{i % 50},yes,14,2"
            for i in range(products)
        ]
        data = "\n".join(rows).encode()
        start = time.perf_counter()
        report = await transfer.import_file(catalogue, importer, None, data, "p.csv", "RUB")
        imported = time.perf_counter() - start
        assert (report.saved, report.errors) == (products, []), report.errors[:3]
        return {
            "with": done / spent[with_stock],
            "without": done / spent[free],
            "orders": done,
            "import_s": imported,
            "products": products,
        }
    finally:
        await container.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=400, help="orders per shop")
    parser.add_argument("--products", type=int, default=10_000)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/bench.db"
        results.append(("SQLite (file, WAL)", await run(url, args.orders, args.products)))
    name = f"shopbot_bench_{uuid.uuid4().hex[:8]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
        results.append(("PostgreSQL", await run(url, args.orders, args.products)))
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        "| backend | orders each | with reservation/s | without/s | with/without "
        "| import of N products |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for backend, r in results:
        print(
            f"| {backend} | {r['orders']} | {r['with']:.0f} | {r['without']:.0f} | "
            f"{r['with'] / r['without']:.2f} | {r['products']:,}: {r['import_s']:.1f} s |"
        )


if __name__ == "__main__":
    asyncio.run(main())
