"""The API's OpenAPI 3.1 document, served at /api/v1/openapi.json.

The request schema comes from the same pydantic models that validate requests (JSON Schema
2020-12, which OpenAPI 3.1 uses), so the document cannot drift from what is accepted; the
answers and errors are written out here.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from handlers.http.api import codes
from handlers.http.api import openapi_more as more
from handlers.http.api import openapi_products as products_api
from handlers.http.api.schema import OrderRequest
from services.messaging.webhooks.events import WebhookEvent

REF = "#/components/schemas/{model}"
TOTAL_PATTERN = r"^(0|[1-9][0-9]{0,15})(\.[0-9]{1,3})?$"


def _error(description: str, *error_codes: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "$ref": "#/components/schemas/Error",
                },
                "examples": {
                    code: {"value": {"error": {"code": code, "message": "..."}}}
                    for code in error_codes
                },
            }
        },
    }


def _status_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["code", "title"],
        "properties": {
            "code": {"type": "string", "description": "The workflow status's code."},
            "title": {"type": "string", "description": "Its title in the shop's language."},
        },
    }


def _money() -> dict[str, Any]:
    """An amount in an answer: a total may have more digits than a price in a request."""
    return {"type": "string", "pattern": TOTAL_PATTERN, "examples": ["199.90"]}


@cache
def openapi_document() -> dict[str, Any]:
    document = _document()
    # The other resources' paths (H4); "<path>#<method>" adds a method to a path above.
    for path, item in more.paths().items():
        document["paths"].setdefault(path.partition("#")[0], {}).update(item)
    document["components"]["schemas"].update(more.schemas())
    document["paths"].update(products_api.paths())  # issue 19
    document["components"]["schemas"].update(products_api.schemas())
    return document


def _document() -> dict[str, Any]:
    request_schema = OrderRequest.model_json_schema(ref_template=REF)
    models = request_schema.pop("$defs", {})
    schemas: dict[str, Any] = {**models, "OrderRequest": request_schema}
    schemas["Status"] = _status_schema()
    schemas["CreatedOrder"] = {
        "type": "object",
        "required": ["number", "status", "availability", "total", "total_minor", "currency"],
        "properties": {
            "number": {"type": "integer", "description": "The order's public number in the shop."},
            "status": {"$ref": "#/components/schemas/Status"},
            "availability": {"type": "string", "enum": ["in_stock", "made_to_order"]},
            "total": {**_money(), "description": "What the buyer pays, decimal string."},
            "total_minor": {"type": "integer", "description": "The same in minor units."},
            "currency": {"type": "string", "description": "ISO 4217 code."},
            "buyer_link": {
                "type": ["string", "null"],
                "format": "uri",
                "description": "The buyer's Telegram deep link: opening it binds the buyer's "
                "account to the order. Show it on the confirmation page.",
            },
        },
    }
    schemas["CreatedOrders"] = {
        "type": "object",
        "required": ["external_id", "orders"],
        "properties": {
            "external_id": {"type": "string"},
            "orders": {
                "type": "array",
                "minItems": 1,
                "maxItems": 2,
                "description": "One order, or two when in-stock and made-to-order goods were "
                "mixed (each kind becomes its own order).",
                "items": {"$ref": "#/components/schemas/CreatedOrder"},
            },
        },
    }
    schemas["HistoryEntry"] = {
        "type": "object",
        "required": ["at", "action"],
        "properties": {
            "at": {"type": "string", "format": "date-time"},
            "action": {"type": "string"},
            "from_status": {"oneOf": [{"$ref": "#/components/schemas/Status"}, {"type": "null"}]},
            "to_status": {"oneOf": [{"$ref": "#/components/schemas/Status"}, {"type": "null"}]},
        },
    }
    schemas["OrderState"] = {
        "type": "object",
        "required": ["number", "status", "total", "total_minor", "currency", "history"],
        "properties": {
            "number": {"type": "integer"},
            "external_id": {"type": ["string", "null"]},
            "status": {"$ref": "#/components/schemas/Status"},
            "availability": {"type": "string"},
            "total": _money(),
            "total_minor": {"type": "integer"},
            "currency": {"type": "string"},
            "carrier": {"type": ["string", "null"]},
            "track_code": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
            "history": {
                "type": "array",
                "description": "What the buyer may see of the order's history, oldest first.",
                "items": {"$ref": "#/components/schemas/HistoryEntry"},
            },
            "payment": {
                "type": "object",
                "description": "Only in the answer to POST /v1/orders/{number}/payments: "
                "paid (the order is paid), duplicate (this reference was applied before) or "
                "mismatch (not applied: the order is flagged and the shop told, `problem` says "
                "why).",
                "required": ["outcome", "problem"],
                "properties": {
                    "outcome": {"type": "string", "enum": ["paid", "duplicate", "mismatch"]},
                    "problem": {"type": ["string", "null"]},
                },
            },
        },
    }
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": sorted(codes.ALL)},
                    "message": {"type": "string", "description": "For developers, English."},
                    "field": {
                        "type": "string",
                        "description": "The field at fault, e.g. items[1].unit_price.",
                    },
                    "skus": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "out_of_stock: the SKUs beyond the available stock.",
                    },
                },
            }
        },
    }
    schemas["WebhookEvent"] = {
        "type": "object",
        "description": "POSTed to the shop's webhook URL for every order of the shop. Headers: "
        "X-ShopBot-Event-Id (the same on every retry of one event), X-ShopBot-Signature: "
        "t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<raw body>' with the webhook secret>, and "
        "the Standard Webhooks headers webhook-id, webhook-timestamp and webhook-signature "
        "(v1,<base64 HMAC-SHA256 of '<id>.<timestamp>.<raw body>' keyed with the base64 "
        "after the secret's whsec_ prefix>): verify with any Standard Webhooks library. "
        "Answer 2xx. No answer in 10 s, 5xx and 429 are retried with backoff (30 s, "
        "doubling, up to 8 attempts); any other answer (3xx, 4xx) fails the event for good.",
        "required": ["id", "event", "at"],
        "properties": {
            "id": {"type": "string"},
            "source": {"type": "string", "description": "order.created: where it came from."},
            "total": {"type": "integer", "description": "Minor units (created, updated)."},
            "currency": {"type": "string"},
            "change": {"type": "string", "description": "order.updated: what was edited."},
            "reason": {"type": ["string", "null"], "description": "order.cancelled: why."},
            "event": {"type": "string", "enum": [str(event) for event in WebhookEvent]},
            "number": {"type": "integer", "description": "The order's (not product.updated)."},
            "external_id": {"type": ["string", "null"]},
            "status": {"type": "string"},
            "previous_status": {"type": ["string", "null"]},
            "at": {"type": "string", "format": "date-time"},
            # product.updated (issue 19): the product's stock and price now.
            "sku": {"type": "string", "description": "product.updated: the product."},
            "title": {"type": "string"},
            "price": {"type": "integer", "description": "product.updated: minor units."},
            "availability": {"type": "string", "enum": ["in_stock", "made_to_order"]},
            "on_hand": {"type": "integer"},
            "reserved": {"type": "integer", "description": "Held for open orders."},
            "available": {"type": "integer", "description": "For sale: on_hand - reserved."},
            "archived": {"type": "boolean"},
        },
    }
    unauthorized = _error("Token missing, unknown or revoked.", codes.UNAUTHORIZED)
    suspended = _error(
        "The operator of this service suspended the shop: nothing is read or changed.",
        codes.SHOP_SUSPENDED,
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ShopBot storefront API",
            "version": "1.0.0",
            "description": "Orders pushed in by a shop's storefront, read back, and status "
            "changes sent to the storefront as signed webhooks. Money is a decimal string in "
            "the shop's currency. Errors are JSON with a code, a message and the field.",
        },
        "servers": [{"url": "/api"}],
        "security": [{"bearer": []}],
        "paths": {
            "/v1/orders": {
                "post": {
                    "operationId": "createOrders",
                    "summary": "Create an order (split in two when it mixes availabilities)",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "A retry with the same key and body gets the first "
                            "answer again (header Idempotent-Replayed: true); with another "
                            "body, 422 idempotency_key_reused.",
                            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/OrderRequest"}
                            }
                        },
                    },
                    "responses": {
                        "201": {
                            "description": "Created.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/CreatedOrders"}
                                }
                            },
                        },
                        "400": _error(
                            "Not a JSON object, or a bad Idempotency-Key.",
                            codes.MALFORMED_JSON,
                            codes.INVALID_IDEMPOTENCY_KEY,
                        ),
                        "401": unauthorized,
                        "403": suspended,
                        "409": _error(
                            "The external_id exists, or the same key is still being handled.",
                            codes.DUPLICATE,
                            codes.IDEMPOTENCY_IN_PROGRESS,
                        ),
                        "413": _error("The body is over the limit.", codes.BODY_TOO_LARGE),
                        "415": _error("Not application/json.", codes.UNSUPPORTED_MEDIA_TYPE),
                        "422": _error(
                            "A field breaks a rule (wrong type, unknown field, too many "
                            "decimals, out of range, bad phone...): `field` names it.",
                            codes.INVALID,
                            codes.IDEMPOTENCY_KEY_REUSED,
                        ),
                        "503": _error("The database stayed busy: retry.", codes.BUSY),
                    },
                }
            },
            "/v1/orders/{number}": {
                "get": {
                    "operationId": "getOrder",
                    "summary": "An order of this shop: status, history, parcel",
                    "parameters": [
                        {
                            "name": "number",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The order.",
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/OrderState"}
                                }
                            },
                        },
                        "401": unauthorized,
                        "403": suspended,
                        "404": _error("No such order in this shop.", codes.NOT_FOUND),
                    },
                }
            },
        },
        "webhooks": more.webhooks(),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The shop's API token (python -m bot shop token create, "
                    "or /settings -> API tokens in the bot).",
                }
            },
        },
    }
