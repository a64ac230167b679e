"""The shop's products: kept, searched and counted by its staff (issue 19).

Every value arrives as typed (the bot, a file, the command line) and is checked here once,
so each refuses the same values with the same message naming the field. Staff read; the
owner, admins and managers change. A change of the count or the price tells the storefront
(`product.updated`), in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.messaging.notifications.outbox import Outbox
from services.orders.drafts import MAX_PRICE
from services.products import notices, stock
from services.refusals import Reason, Refused, invalid
from services.shops.staff import require_staff, require_supervisor
from services.time.clock import Clock
from services.vocabulary import AVAILABILITIES, IN_STOCK, LANGUAGES
from storage.database import reading
from storage.models import Order, OrderItem, Product, Shop, StockMovement

EDITOR_ROLES = frozenset({"owner", "admin", "manager"})
MAX_STOCK = 10**9
SEARCH_LIMIT = 50


@dataclass
class ProductDraft:
    """A product as typed; `on_hand` None leaves the count as it is."""

    sku: str
    title: str
    price: int = 0  # minor units
    currency: str | None = None  # None: the shop's
    availability: str = IN_STOCK
    returnable: bool = False
    return_days: int = 0
    parent_sku: str | None = None  # a variant of this product
    variant: str = ""
    archived: bool = False
    low_stock_at: int | None = None
    on_hand: int | None = None
    titles: dict[str, str] = field(default_factory=dict)


def check(draft: ProductDraft) -> ProductDraft:
    """The draft as stored, or Refused(INVALID) naming the field."""
    sku = (draft.sku or "").strip()
    if not 1 <= len(sku) <= 64 or "\x00" in sku:  # PostgreSQL text cannot hold NUL
        raise invalid("sku", "a SKU of 1 to 64 characters is needed")
    title = (draft.title or "").strip()
    if not 1 <= len(title) <= 256:
        raise invalid("title", "a title of 1 to 256 characters is needed")
    if not isinstance(draft.price, int) or not 0 <= draft.price <= MAX_PRICE:
        raise invalid("price", "a price of zero or more is needed")
    if draft.availability not in AVAILABILITIES:
        raise invalid("availability", f"use one of {', '.join(AVAILABILITIES)}")
    if not 0 <= draft.return_days <= 3650:
        raise invalid("return_days", "from 0 to 3650 days")
    if draft.low_stock_at is not None and not 0 <= draft.low_stock_at <= MAX_STOCK:
        raise invalid("low_stock_at", "a count of zero or more")
    if draft.on_hand is not None and not 0 <= draft.on_hand <= MAX_STOCK:
        raise invalid("on_hand", "a count of zero or more")
    if draft.currency is not None and not (len(draft.currency) == 3 and draft.currency.isalpha()):
        raise invalid("currency", "a three-letter currency code, e.g. RUB")
    if len(draft.variant) > 128:
        raise invalid("variant", "at most 128 characters")
    titles = {k: v.strip() for k, v in draft.titles.items() if k in LANGUAGES and v.strip()}
    parent = (draft.parent_sku or "").strip() or None
    if parent == sku:
        raise invalid("parent_sku", "a product is not a variant of itself")
    return ProductDraft(
        sku=sku,
        title=title,
        price=draft.price,
        currency=draft.currency.upper() if draft.currency else None,
        availability=draft.availability,
        returnable=draft.returnable,
        return_days=draft.return_days if draft.returnable else 0,
        parent_sku=parent,
        variant=draft.variant.strip(),
        archived=draft.archived,
        low_stock_at=draft.low_stock_at,
        on_hand=draft.on_hand,
        titles=titles,
    )


def search_text(product: Product) -> str:
    words = [product.sku, product.title, product.variant, *product.titles.values()]
    return " ".join(words).casefold()


def parse_count(text: str) -> int:
    """A count as typed: a whole number from 0; ValueError otherwise."""
    value = int(text.strip())
    if not 0 <= value <= MAX_STOCK:
        raise ValueError(text)
    return value


class ProductService:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock):
        self._sessions = sessions
        self._clock = clock

    # -- reading ---------------------------------------------------------------------

    async def search(
        self,
        shop_id: int,
        user_id: int | None,
        text: str = "",
        *,
        limit: int = 10,
        offset: int = 0,
        archived: bool = False,
    ) -> list[Product]:
        """Products whose SKU or titles contain every word of `text`, by title."""
        async with reading(self._sessions) as session:
            await _reader(session, shop_id, user_id)
            query = select(Product).where(Product.shop_id == shop_id)
            if not archived:
                query = query.where(Product.archived.is_(False))
            for word in text.casefold().split()[:5]:
                escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                query = query.where(Product.search_text.like(f"%{escaped}%", escape="\\"))
            query = query.order_by(Product.title, Product.id)
            query = query.limit(min(limit, SEARCH_LIMIT)).offset(max(offset, 0))
            return list(await session.scalars(query))

    async def get(self, shop_id: int, user_id: int | None, sku: str) -> Product:
        async with reading(self._sessions) as session:
            await _reader(session, shop_id, user_id)
            return await _product(session, shop_id, sku)

    async def by_id(self, product_id: int, user_id: int | None) -> Product:
        """A product by its id (a button carries it): only for its shop's staff."""
        async with reading(self._sessions) as session:
            product = await session.get(Product, product_id)
            if product is None:
                raise Refused(Reason.NOT_FOUND, "no such product")
            await _reader(session, product.shop_id, user_id)
            return product

    async def of_order(self, order_id: int, user_id: int | None) -> list[Product]:
        """The products an order's lines name (by SKU): what an out-of-stock cancellation of
        it zeroed, for the staff member to give the real count (issue 19)."""
        async with reading(self._sessions) as session:
            order = await session.get(Order, order_id)
            if order is None:
                raise Refused(Reason.NOT_FOUND, "no such order")
            await _reader(session, order.shop_id, user_id)
            skus = select(OrderItem.sku).where(OrderItem.order_id == order_id)
            query = (
                select(Product)
                .where(Product.shop_id == order.shop_id, Product.sku.in_(skus))
                .order_by(Product.id)
            )
            return list(await session.scalars(query))

    async def all(self, shop_id: int, user_id: int | None) -> list[Product]:
        """Every product of the shop, archived included (the export)."""
        async with reading(self._sessions) as session:
            await _reader(session, shop_id, user_id)
            query = select(Product).where(Product.shop_id == shop_id).order_by(Product.sku)
            return list(await session.scalars(query))

    async def page(
        self, shop_id: int, user_id: int | None, *, after: str | None, limit: int
    ) -> list[Product]:
        """A page of the shop's products by SKU, after the SKU `after` (the storefront)."""
        async with reading(self._sessions) as session:
            await _reader(session, shop_id, user_id)
            query = select(Product).where(Product.shop_id == shop_id)
            if after is not None:
                query = query.where(Product.sku > after)
            return list(await session.scalars(query.order_by(Product.sku).limit(limit)))

    async def change_stock(
        self,
        shop_id: int,
        user_id: int | None,
        changes: list[tuple[str, int | None, int | None]],
        reason: str,
    ) -> list[Product]:
        """Counts set or adjusted, (sku, set, adjust) each, all in one transaction or none:
        an unknown SKU, or a count below zero or below what open orders hold, refuses all."""
        reason = reason.strip()
        if not 1 <= len(reason) <= 500:
            raise invalid("reason", "a reason of 1 to 500 characters is needed")
        now = self._clock.now()
        outbox = Outbox(now)
        async with self._sessions() as session, session.begin():
            await _editor(session, shop_id, user_id)
            skus = sorted({sku for sku, _, _ in changes})
            found = {
                p.sku: p
                for p in await session.scalars(
                    select(Product)
                    .where(Product.shop_id == shop_id, Product.sku.in_(skus))
                    .order_by(Product.id)
                    .with_for_update()
                    .execution_options(populate_existing=True)
                )
            }
            changed = []
            for index, (sku, to, by) in enumerate(changes):
                product = found.get(sku)
                if product is None:
                    raise Refused(
                        Reason.NOT_FOUND,
                        f"no product with the SKU '{sku}'",
                        {"field": f"items[{index}].sku"},
                    )
                count = to if to is not None else product.on_hand + (by or 0)
                if not product.reserved <= count <= MAX_STOCK:
                    raise invalid(
                        f"items[{index}]",
                        f"'{sku}' would have {count}: at least the {product.reserved} held "
                        "for open orders is needed",
                    )
                before = product.available
                stock.set_count(session, product, count, now, reason=reason, user_id=user_id)
                notices.low_stock_if_crossed(outbox, product, before, now)
                changed.append(product)
            for product in {p.id: p for p in changed}.values():
                notices.product_updated(outbox, product, "stock", now)
            await session.flush()
            await outbox.write(session)
            return changed

    async def skus(self, shop_id: int, product_ids: set[int]) -> dict[int, str]:
        """The SKUs of these products of the shop (variants name their parent by SKU)."""
        if not product_ids:
            return {}
        async with reading(self._sessions) as session:
            rows = await session.execute(
                select(Product.id, Product.sku).where(
                    Product.shop_id == shop_id, Product.id.in_(sorted(product_ids))
                )
            )
            return {row.id: row.sku for row in rows}

    async def movements(
        self, shop_id: int, user_id: int | None, sku: str, limit: int = 10
    ) -> list[StockMovement]:
        """The product's latest stock movements, newest first."""
        async with reading(self._sessions) as session:
            await _reader(session, shop_id, user_id)
            product = await _product(session, shop_id, sku)
            query = (
                select(StockMovement)
                .where(StockMovement.product_id == product.id)
                .order_by(StockMovement.id.desc())
                .limit(limit)
            )
            return list(await session.scalars(query))

    # -- changing --------------------------------------------------------------------

    async def save(self, shop_id: int, user_id: int | None, draft: ProductDraft) -> Product:
        """Create the product, or change the one with this SKU."""
        saved = await self.save_many(shop_id, user_id, [check(draft)])
        return saved[0]

    async def save_many(
        self,
        shop_id: int,
        user_id: int | None,
        drafts: list[ProductDraft],
        *,
        kind: stock.Movement = stock.Movement.CORRECTION,
        reason: str | None = None,
        notify: bool = True,
    ) -> list[Product]:
        """Checked drafts, created or changed in one transaction (an import: all or none).
        `notify`: each product's `product.updated` webhook (an import sends none)."""
        now = self._clock.now()
        outbox = Outbox(now)
        async with self._sessions() as session, session.begin():
            await _editor(session, shop_id, user_id)
            shop = await session.get(Shop, shop_id)
            skus = [d.sku for d in drafts] + [d.parent_sku for d in drafts if d.parent_sku]
            existing = {
                p.sku: p
                for p in await session.scalars(
                    select(Product)
                    .where(Product.shop_id == shop_id, Product.sku.in_(set(skus)))
                    .with_for_update()
                )
            }
            # New products in one statement: the ORM would insert them row by row on
            # SQLite to learn each id (an import of 10,000 rows, issue 19's bench).
            new = [d for d in drafts if d.sku not in existing]
            if new:
                rows = []
                for draft in new:
                    blank = Product(shop_id=shop_id, sku=draft.sku, on_hand=0, reserved=0)
                    _fill(blank, draft, shop.currency, now)
                    rows.append(
                        {
                            column.key: getattr(blank, column.key)
                            for column in Product.__table__.columns
                            if column.key not in ("id", "parent_id")
                        }
                        | {"created_at": now}
                    )
                await session.execute(insert(Product), rows)
                for product in await session.scalars(
                    select(Product).where(
                        Product.shop_id == shop_id, Product.sku.in_([d.sku for d in new])
                    )
                ):
                    existing[product.sku] = product
            saved = []
            movements = []
            for draft in drafts:
                product = existing[draft.sku]
                _fill(product, draft, shop.currency, now)
                saved.append((product, draft))
                if draft.parent_sku:
                    parent = existing.get(draft.parent_sku)
                    if parent is None:
                        raise invalid("parent_sku", f"no product with the SKU '{draft.parent_sku}'")
                    product.parent_id = parent.id
                if draft.on_hand is not None and draft.on_hand != product.on_hand:
                    if draft.on_hand < product.reserved:
                        raise invalid(
                            "on_hand",
                            f"at least {product.reserved}: that many are held for open orders",
                        )
                    before = product.available
                    movements.append(
                        {
                            "shop_id": shop_id,
                            "product_id": product.id,
                            "kind": str(kind),
                            "on_hand_delta": draft.on_hand - product.on_hand,
                            "reserved_delta": 0,
                            "reason": reason,
                            "user_id": user_id,
                            "created_at": now,
                        }
                    )
                    product.on_hand = draft.on_hand
                    notices.low_stock_if_crossed(outbox, product, before, now)
                if notify:
                    notices.product_updated(outbox, product, "saved", now)
            if movements:
                await session.execute(insert(StockMovement), movements)
            await session.flush()
            await outbox.write(session)
        return [product for product, _ in saved]

    async def set_stock(
        self, shop_id: int, user_id: int | None, sku: str, on_hand: int, reason: str
    ) -> Product:
        """A person counted the goods: the count is set, the movement keeps their reason."""
        reason = reason.strip()
        if not 1 <= len(reason) <= 500:
            raise invalid("reason", "a reason of 1 to 500 characters is needed")
        if not 0 <= on_hand <= MAX_STOCK:
            raise invalid("on_hand", "a count of zero or more")
        now = self._clock.now()
        outbox = Outbox(now)
        async with self._sessions() as session, session.begin():
            await _editor(session, shop_id, user_id)
            product = await _product(session, shop_id, sku, lock=True)
            if on_hand < product.reserved:
                # Open orders hold these: the shop cancels them first, so none is left
                # counting on goods that are not there.
                raise invalid(
                    "on_hand", f"at least {product.reserved}: that many are held for open orders"
                )
            before = product.available
            stock.set_count(session, product, on_hand, now, reason=reason, user_id=user_id)
            notices.product_updated(outbox, product, "stock", now)
            notices.low_stock_if_crossed(outbox, product, before, now)
            await session.flush()
            await outbox.write(session)
            return product

    async def set_price(self, shop_id: int, user_id: int | None, sku: str, price: int) -> Product:
        if not isinstance(price, int) or not 0 <= price <= MAX_PRICE:
            raise invalid("price", "a price of zero or more is needed")
        now = self._clock.now()
        outbox = Outbox(now)
        async with self._sessions() as session, session.begin():
            await _editor(session, shop_id, user_id)
            product = await _product(session, shop_id, sku, lock=True)
            product.price, product.updated_at = price, now
            notices.product_updated(outbox, product, "price", now)
            await session.flush()
            await outbox.write(session)
            return product

    async def beyond_stock(self, shop_id: int) -> str:
        async with reading(self._sessions) as session:
            return stock.beyond_stock(await session.get(Shop, shop_id))

    async def set_beyond_stock(self, shop_id: int, user_id: int | None, choice: str) -> None:
        """What an order beyond the stock gets: refused, or taken as made to order."""
        if choice not in stock.BEYOND_STOCK_CHOICES:
            raise invalid("beyond_stock", f"use one of {', '.join(stock.BEYOND_STOCK_CHOICES)}")
        async with self._sessions() as session, session.begin():
            if user_id is not None:
                await require_supervisor(session, shop_id, user_id)
            shop = await session.get(Shop, shop_id)
            if shop is None:
                raise Refused(Reason.NOT_FOUND, "no such shop")
            shop.settings = {**(shop.settings or {}), stock.BEYOND_STOCK_SETTING: choice}


def _fill(product: Product, draft: ProductDraft, currency: str, now: datetime) -> None:
    product.title = draft.title
    product.titles = dict(draft.titles)
    product.price = draft.price
    product.currency = draft.currency or currency
    product.availability = draft.availability
    product.returnable = draft.returnable
    product.return_days = draft.return_days
    product.variant = draft.variant
    product.archived = draft.archived
    product.low_stock_at = draft.low_stock_at
    product.updated_at = now
    if draft.parent_sku is None:
        product.parent_id = None
    product.search_text = search_text(product)


async def _product(session: AsyncSession, shop_id: int, sku: str, *, lock: bool = False) -> Product:
    if "\x00" in sku:  # no SKU holds NUL, and PostgreSQL refuses to compare with one
        raise Refused(Reason.NOT_FOUND, "no such product")
    query = select(Product).where(Product.shop_id == shop_id, Product.sku == sku.strip())
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    product = await session.scalar(query)
    if product is None:
        raise Refused(Reason.NOT_FOUND, f"no product with the SKU '{sku}'")
    return product


async def _reader(session: AsyncSession, shop_id: int, user_id: int | None) -> None:
    """Staff of the shop read its products; `None` is the operator's command line."""
    if user_id is not None:
        await require_staff(session, shop_id, user_id)
    elif await session.get(Shop, shop_id) is None:
        raise Refused(Reason.NOT_FOUND, "no such shop")


async def _editor(session: AsyncSession, shop_id: int, user_id: int | None) -> None:
    await _reader(session, shop_id, user_id)
    if user_id is not None and not (await require_staff(session, shop_id, user_id)) & EDITOR_ROLES:
        raise Refused(Reason.FORBIDDEN, "only the owner, admins and managers change products")
