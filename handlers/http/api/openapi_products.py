"""The OpenAPI paths and schemas of products and stock (issue 19); openapi.py merges them in.
Request schemas come from the pydantic models that validate the requests."""

from __future__ import annotations

from typing import Any

from handlers.http.api import codes
from handlers.http.api.openapi_more import BODY_ERRORS, COMMON, KEY, _error, _json, _request
from handlers.http.api.products import DEFAULT_LIMIT, MAX_LIMIT, ProductIn, StockIn

PRODUCT = {"$ref": "#/components/schemas/Product"}
SKU = {"name": "sku", "in": "path", "required": True, "schema": {"type": "string"}}
BUSY_KEY = _error("The same key is still being handled.", codes.IDEMPOTENCY_IN_PROGRESS)


def schemas() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for model in (ProductIn, StockIn):
        _, defs = _request(model)
        found.update(defs)
    count = {"type": "integer"}
    found["Product"] = {
        "type": "object",
        "required": [
            "sku",
            "title",
            "price",
            "price_minor",
            "currency",
            "on_hand",
            "reserved",
            "available",
        ],
        "properties": {
            "sku": {"type": "string"},
            "title": {"type": "string"},
            "titles": {"type": "object", "additionalProperties": {"type": "string"}},
            "price": {"type": "string", "description": 'A decimal string, e.g. "1490.50".'},
            "price_minor": {"type": "integer"},
            "currency": {"type": "string"},
            "availability": {"type": "string", "enum": ["in_stock", "made_to_order"]},
            "returnable": {"type": "boolean"},
            "return_days": {"type": "integer"},
            "variant": {"type": "string"},
            "parent_sku": {"type": ["string", "null"]},
            "archived": {"type": "boolean"},
            "low_stock_at": {"type": ["integer", "null"]},
            "on_hand": count,
            "reserved": {"type": "integer", "description": "Held for open orders."},
            "available": {"type": "integer", "description": "on_hand - reserved: for sale."},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    }
    found["ProductPage"] = {
        "type": "object",
        "required": ["products", "next_cursor"],
        "properties": {
            "products": {"type": "array", "items": PRODUCT},
            "next_cursor": {"type": ["string", "null"]},
        },
    }
    return found


def paths() -> dict[str, Any]:
    put_body, _ = _request(ProductIn)
    stock_body, _ = _request(StockIn)
    products = {"type": "object", "properties": {"products": {"type": "array", "items": PRODUCT}}}
    return {
        "/v1/products": {
            "get": {
                "operationId": "listProducts",
                "summary": "The shop's products by SKU, in cursor pages",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_LIMIT,
                            "default": DEFAULT_LIMIT,
                        },
                    },
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json({"$ref": "#/components/schemas/ProductPage"}, "A page."),
                    **COMMON,
                    "422": _error("An unknown parameter, a bad limit or cursor.", codes.INVALID),
                },
            }
        },
        "/v1/products/{sku}": {
            "get": {
                "operationId": "getProduct",
                "summary": "A product with its stock",
                "parameters": [SKU],
                "responses": {
                    "200": _json(PRODUCT, "The product."),
                    **COMMON,
                    "404": _error("No such product in this shop.", codes.NOT_FOUND),
                },
            },
            "put": {
                "operationId": "putProduct",
                "summary": "Create the product with this SKU, or change it (on_hand omitted: "
                "the count stays); the storefront gets product.updated",
                "parameters": [SKU, KEY],
                "requestBody": put_body,
                "responses": {
                    "200": _json(PRODUCT, "The product as it is now."),
                    **COMMON,
                    **BODY_ERRORS,
                    "409": BUSY_KEY,
                    "422": _error(
                        "A field is wrong; `field` names it.",
                        codes.INVALID,
                        codes.IDEMPOTENCY_KEY_REUSED,
                    ),
                },
            },
        },
        "/v1/stock": {
            "post": {
                "operationId": "changeStock",
                "summary": "Counts set (`set`) or adjusted (`adjust`), all or none, with a reason "
                "kept in each product's movements",
                "parameters": [KEY],
                "requestBody": stock_body,
                "responses": {
                    "200": _json(products, "The products changed."),
                    **COMMON,
                    **BODY_ERRORS,
                    "404": _error(
                        "A SKU the shop has no product for; `field` names it.", codes.NOT_FOUND
                    ),
                    "409": BUSY_KEY,
                    "422": _error(
                        "A count below zero or below what open orders hold, or both set and "
                        "adjust; `field` names the item.",
                        codes.INVALID,
                        codes.IDEMPOTENCY_KEY_REUSED,
                    ),
                },
            }
        },
    }
