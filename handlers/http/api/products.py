"""The storefront's products and stock (issue 19): `GET /v1/products` (cursor pages by SKU),
`GET /v1/products/{sku}`, `PUT /v1/products/{sku}` (create or change), `POST /v1/stock`
(counts set or adjusted, all or none). Changes take an Idempotency-Key as orders do.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from aiohttp import web
from pydantic import Field

from handlers.http.api import codes
from handlers.http.api.answers import decimal_string
from handlers.http.api.errors import error_body, error_response
from handlers.http.api.gate import Gate
from handlers.http.api.requests import (
    Refusal,
    idempotency_key,
    json_answer,
    json_object,
    keyed_answer,
)
from handlers.http.api.schema import (
    Money,
    RequestInvalid,
    _Strict,
    parse_model,
    text,
    to_minor_field,
)
from services.products.catalog import MAX_STOCK, ProductDraft, ProductService, check
from services.refusals import Reason, Refused
from services.storefront.keyed import Answered, KeyedRequests, request_print
from services.storefront.tokens import Storefront
from services.vocabulary import AVAILABILITIES, LANGUAGES
from storage.models import Product

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
MAX_STOCK_CHANGES = 500


class ProductIn(_Strict):
    title: str = text(256, 1)
    price: Money
    availability: Annotated[str, Field(pattern="^(" + "|".join(AVAILABILITIES) + ")$")] = "in_stock"
    returnable: bool = False
    return_days: int = Field(0, ge=0, le=3650)
    parent_sku: str | None = text(64, 1, default=None)
    variant: str = text(128, default="")
    archived: bool = False
    low_stock_at: int | None = Field(None, ge=0, le=MAX_STOCK)
    on_hand: int | None = Field(None, ge=0, le=MAX_STOCK, description="Omitted: unchanged.")
    titles: dict[Annotated[str, Field(pattern="^(" + "|".join(LANGUAGES) + ")$")], str] = {}


class StockChangeIn(_Strict):
    sku: str = text(64, 1)
    set: int | None = Field(None, ge=0, le=MAX_STOCK, description="The new count on hand.")
    adjust: int | None = Field(None, ge=-MAX_STOCK, le=MAX_STOCK, description="Added to it.")


class StockIn(_Strict):
    items: list[StockChangeIn] = Field(min_length=1, max_length=MAX_STOCK_CHANGES)
    reason: str = text(500, 1)


def product_answer(product: Product, skus: dict[int, str] | None = None) -> dict[str, Any]:
    return {
        "sku": product.sku,
        "title": product.title,
        "titles": product.titles,
        "price": decimal_string(product.price, product.currency),
        "price_minor": product.price,
        "currency": product.currency,
        "availability": product.availability,
        "returnable": product.returnable,
        "return_days": product.return_days,
        "variant": product.variant,
        "parent_sku": (skus or {}).get(product.parent_id) if product.parent_id else None,
        "archived": product.archived,
        "low_stock_at": product.low_stock_at,
        "on_hand": product.on_hand,
        "reserved": product.reserved,
        "available": product.available,
        "updated_at": product.updated_at.isoformat(),
    }


def _cursor(sku: str) -> str:
    return base64.urlsafe_b64encode(sku.encode()).decode().rstrip("=")


def _after(text_: str) -> str:
    try:
        return base64.urlsafe_b64decode(text_ + "=" * (-len(text_) % 4)).decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise RequestInvalid("not a cursor this API gave", "cursor") from None


def _refused(refused: Refused) -> Answered:
    status = {Reason.NOT_FOUND: 404, Reason.INVALID: 422}.get(refused.code, 403)
    code = {404: codes.NOT_FOUND, 422: codes.INVALID}.get(status, str(refused.code))
    return Answered(status, error_body(code, refused.message, refused.params.get("field")))


class ProductsApi:
    def __init__(
        self, *, gate: Gate, products: ProductService, keyed: KeyedRequests, max_body_bytes: int
    ):
        self._gate = gate
        self._products = products
        self._keyed = keyed
        self._max_body = max_body_bytes

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/v1/products", self.list),
            web.get("/v1/products/{sku}", self.get),
            web.put("/v1/products/{sku}", self.put),
            web.post("/v1/stock", self.stock),
        ]

    async def list(self, request: web.Request) -> web.Response:
        storefront = await self._gate.storefront(request)
        if not isinstance(storefront, Storefront):
            return storefront
        query = request.query
        unknown = [name for name in query if name not in ("limit", "cursor")]
        if unknown:
            return error_response(422, codes.INVALID, "unknown parameter", unknown[0])
        text_ = query.get("limit", str(DEFAULT_LIMIT))
        if not (text_.isascii() and text_.isdigit() and 1 <= int(text_[:4]) <= MAX_LIMIT):
            return error_response(
                422, codes.INVALID, f"a whole number from 1 to {MAX_LIMIT}", "limit"
            )
        try:
            after = _after(query["cursor"]) if "cursor" in query else None
        except RequestInvalid as error:
            return error_response(422, codes.INVALID, error.message, error.field)
        limit = int(text_)
        page = await self._products.page(storefront.shop_id, None, after=after, limit=limit + 1)
        more = len(page) > limit
        page = page[:limit]
        skus = await self._parent_skus(storefront.shop_id, page)
        return json_answer(
            200,
            {
                "products": [product_answer(p, skus) for p in page],
                "next_cursor": _cursor(page[-1].sku) if more else None,
            },
        )

    async def get(self, request: web.Request) -> web.Response:
        storefront = await self._gate.storefront(request)
        if not isinstance(storefront, Storefront):
            return storefront
        try:
            product = await self._products.get(storefront.shop_id, None, request.match_info["sku"])
        except Refused as refused:
            answered = _refused(refused)
            return json_answer(answered.status, answered.body)
        skus = await self._parent_skus(storefront.shop_id, [product])
        return json_answer(200, product_answer(product, skus))

    async def put(self, request: web.Request) -> web.Response:
        sku = request.match_info["sku"]

        async def work(storefront: Storefront, body: ProductIn) -> Answered:
            draft = check(
                ProductDraft(
                    sku=sku,
                    title=body.title,
                    price=to_minor_field(body.price, storefront.currency, "price"),
                    availability=body.availability,
                    returnable=body.returnable,
                    return_days=body.return_days,
                    parent_sku=body.parent_sku,
                    variant=body.variant,
                    archived=body.archived,
                    low_stock_at=body.low_stock_at,
                    on_hand=body.on_hand,
                    titles=dict(body.titles),
                )
            )
            [product] = await self._products.save_many(storefront.shop_id, None, [draft])
            skus = await self._parent_skus(storefront.shop_id, [product])
            return Answered(200, product_answer(product, skus))

        return await self._keyed_change(request, ProductIn, work)

    async def stock(self, request: web.Request) -> web.Response:
        async def work(storefront: Storefront, body: StockIn) -> Answered:
            for index, item in enumerate(body.items):
                if (item.set is None) == (item.adjust is None):
                    raise RequestInvalid("give either set or adjust", f"items[{index}]")
            changes = [(item.sku, item.set, item.adjust) for item in body.items]
            changed = await self._products.change_stock(
                storefront.shop_id, None, changes, body.reason
            )
            skus = await self._parent_skus(storefront.shop_id, changed)
            unique = {p.id: p for p in changed}.values()
            return Answered(200, {"products": [product_answer(p, skus) for p in unique]})

        return await self._keyed_change(request, StockIn, work)

    async def _keyed_change(self, request: web.Request, model, change) -> web.Response:
        storefront = await self._gate.storefront(request)
        if not isinstance(storefront, Storefront):
            return storefront
        try:
            key = idempotency_key(request)
            data = await json_object(request, self._max_body)
        except Refusal as refused:
            return refused.response
        try:
            body = parse_model(model, data)
        except RequestInvalid as error:
            return error_response(422, codes.INVALID, error.message, error.field)

        async def work(_taken_over: bool) -> Answered:
            try:
                return await change(storefront, body)
            except RequestInvalid as error:
                return Answered(422, error_body(codes.INVALID, error.message, error.field))
            except Refused as refused:
                return _refused(refused)

        endpoint = f"{request.method} {request.path}"
        outcome = await self._keyed.run(
            storefront.shop_id, key, request_print(endpoint, data), work
        )
        return keyed_answer(outcome)

    async def _parent_skus(self, shop_id: int, products: list[Product]) -> dict[int, str]:
        return await self._products.skus(shop_id, {p.parent_id for p in products if p.parent_id})
