"""Products for tests, made through the real product service."""

from __future__ import annotations

from sqlalchemy import select

from services.products.catalog import ProductDraft, ProductService
from storage.models import OutboxMessage, Product, StockMovement


def product_service(services) -> ProductService:
    return ProductService(services.sessions, services.clock)


async def make_product(services, shop, sku="A", on_hand=5, **fields) -> Product:
    fields.setdefault("title", f"Product {sku}")
    fields.setdefault("price", 10_000)
    draft = ProductDraft(sku=sku, on_hand=on_hand, **fields)
    owner = getattr(shop, "owner", None)  # none: as the operator's command line makes it
    return await product_service(services).save(shop.id, getattr(owner, "id", None), draft)


async def counts(services, shop, sku) -> tuple[int, int, int]:
    """(on hand, reserved, available) as stored."""
    async with services.sessions() as session:
        product = await session.scalar(
            select(Product).where(Product.shop_id == shop.id, Product.sku == sku)
        )
        return product.on_hand, product.reserved, product.available


async def movements(services, shop, sku) -> list[tuple[str, int, int, int | None]]:
    """(kind, on hand delta, reserved delta, order id), oldest first."""
    async with services.sessions() as session:
        rows = await session.execute(
            select(
                StockMovement.kind,
                StockMovement.on_hand_delta,
                StockMovement.reserved_delta,
                StockMovement.order_id,
            )
            .join(Product, Product.id == StockMovement.product_id)
            .where(Product.shop_id == shop.id, Product.sku == sku)
            .order_by(StockMovement.id)
        )
        return [tuple(row) for row in rows]


async def outbox_rows(services, shop, topic) -> list[OutboxMessage]:
    async with services.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.shop_id == shop.id, OutboxMessage.topic == topic)
                .order_by(OutboxMessage.id)
            )
        )
