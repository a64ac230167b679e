"""The OpenAPI paths and schemas of the resources beside order creation (H4): the order
list, cancel, edit, shipment, one-click buy, and the webhook events. Request schemas come
from the pydantic models that validate the requests (handlers/http/api/change_schema.py),
so the document cannot drift from what is accepted; openapi.py merges this in."""

from __future__ import annotations

from typing import Any

from handlers.http.api import codes
from handlers.http.api.change_schema import (
    CallbackRequestIn,
    CancelRequest,
    OrderPatchRequest,
    PaymentRequest,
    ShipmentRequest,
)
from handlers.http.api.order_list import MAX_STATUSES
from services.messaging.webhooks.events import WebhookEvent
from services.storefront.listing import DEFAULT_LIMIT, MAX_LIMIT

REF = "#/components/schemas/{model}"
STATE = {"$ref": "#/components/schemas/OrderState"}


def _error(description: str, *error_codes: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "examples": {
                    code: {"value": {"error": {"code": code, "message": "..."}}}
                    for code in error_codes
                },
            }
        },
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retry with the same key and body gets the first answer again (header "
    "Idempotent-Replayed: true); with another body or endpoint, 422 idempotency_key_reused.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
NUMBER = {
    "name": "number",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
COMMON = {
    "401": _error("Token missing, unknown or revoked.", codes.UNAUTHORIZED),
    "429": _error("Too many requests with this token: see Retry-After.", codes.RATE_LIMITED),
}
BODY_ERRORS = {
    "400": _error(
        "Not a JSON object, or a bad Idempotency-Key.",
        codes.MALFORMED_JSON,
        codes.INVALID_IDEMPOTENCY_KEY,
    ),
    "413": _error("The body is over the limit.", codes.BODY_TOO_LARGE),
    "415": _error("Not application/json.", codes.UNSUPPORTED_MEDIA_TYPE),
    "503": _error("The database stayed busy: retry with the same key.", codes.BUSY),
}
CHANGE_CONFLICTS = _error(
    "The order's status does not allow it now (closed, done already, not from this "
    "status), or the same key is still being handled.",
    "order_closed",
    "already_done",
    "not_available",
    "not_for_this_order",
    "edit_not_allowed",
    "stale",
    codes.IDEMPOTENCY_IN_PROGRESS,
)


def _request(model) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request body's reference and the models its schema defines."""
    schema = model.model_json_schema(ref_template=REF)
    defs = schema.pop("$defs", {})
    return {"required": True, "content": {"application/json": {"schema": schema}}}, defs


def _change(operation: str, summary: str, model, *, invalid: str) -> tuple[dict, dict]:
    body, defs = _request(model)
    return (
        {
            "operationId": operation,
            "summary": summary,
            "parameters": [NUMBER, KEY],
            "requestBody": body,
            "responses": {
                "200": _json(STATE, "The order as it is now."),
                **COMMON,
                **BODY_ERRORS,
                "403": _error("The shop's workflow lets no one but the buyer do it.", "forbidden"),
                "404": _error("No such order in this shop.", codes.NOT_FOUND),
                "409": CHANGE_CONFLICTS,
                "422": _error(
                    invalid,
                    codes.INVALID,
                    "input_invalid",
                    "input_missing",
                    codes.IDEMPOTENCY_KEY_REUSED,
                ),
            },
        },
        defs,
    )


def _list() -> dict[str, Any]:
    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": False,
            "schema": schema,
            "description": description,
        }

    instant = {"type": "string", "format": "date-time"}
    return {
        "operationId": "listOrders",
        "summary": "The shop's orders, newest first, in cursor pages",
        "parameters": [
            query(
                "status",
                {"type": "string", "pattern": r"^[a-z0-9_]{1,40}(,[a-z0-9_]{1,40})*$"},
                f"Status codes, comma separated (at most {MAX_STATUSES}).",
            ),
            query("updated_since", instant, "Changed at or after (with a time zone)."),
            query("created_from", instant, "Created at or after."),
            query("created_to", instant, "Created before."),
            query(
                "external_id",
                {"type": "string", "minLength": 1, "maxLength": 64},
                "The storefront's (or platform's) own id.",
            ),
            query(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
                "Orders per page.",
            ),
            query("cursor", {"type": "string"}, "The previous page's next_cursor."),
        ],
        "responses": {
            "200": _json({"$ref": "#/components/schemas/OrderPage"}, "A page of orders."),
            **COMMON,
            "422": _error(
                "A parameter is unknown, repeated or wrong: `field` names it.", codes.INVALID
            ),
        },
    }


def schemas() -> dict[str, Any]:
    found: dict[str, Any] = {}
    for model in (
        CancelRequest,
        ShipmentRequest,
        PaymentRequest,
        OrderPatchRequest,
        CallbackRequestIn,
    ):
        _, defs = _request(model)
        found.update(defs)
    summary = {
        "type": "object",
        "required": [
            "number",
            "status",
            "total",
            "total_minor",
            "currency",
            "created_at",
            "updated_at",
        ],
        "properties": {
            "number": {"type": "integer"},
            "external_id": {"type": ["string", "null"]},
            "source": {"type": "string", "description": "api, manual, split or a platform."},
            "status": {"$ref": "#/components/schemas/Status"},
            "availability": {"type": "string"},
            "total": {"type": "string"},
            "total_minor": {"type": "integer"},
            "currency": {"type": "string"},
            "carrier": {"type": ["string", "null"]},
            "track_code": {"type": ["string", "null"]},
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {"type": "string", "format": "date-time"},
        },
    }
    found["OrderSummary"] = summary
    found["OrderPage"] = {
        "type": "object",
        "required": ["orders", "next_cursor"],
        "properties": {
            "orders": {"type": "array", "items": {"$ref": "#/components/schemas/OrderSummary"}},
            "next_cursor": {
                "type": ["string", "null"],
                "description": "Pass as `cursor` for the next page; null: the last.",
            },
        },
    }
    found["CallbackCreated"] = {
        "type": "object",
        "required": ["id", "status"],
        "properties": {"id": {"type": "integer"}, "status": {"type": "string", "const": "new"}},
    }
    return found


def paths() -> dict[str, Any]:
    cancel, _ = _change(
        "cancelOrder",
        "Cancel the order with a reason from the shop's workflow",
        CancelRequest,
        invalid="A field is wrong, a reason not fit here, or a comment the reason needs.",
    )
    ship, _ = _change(
        "shipOrder",
        "The goods went to a carrier: the workflow's shipping action with carrier and track code",
        ShipmentRequest,
        invalid="A field is wrong, e.g. a track code that is not one.",
    )
    pay, _ = _change(
        "payOrder",
        "The storefront's checkout took the money: the order is paid, once per reference "
        "(an amount that is not what is due flags the order for the shop instead)",
        PaymentRequest,
        invalid="A field is wrong, e.g. an amount with more decimals than the currency has.",
    )
    patch, _ = _change(
        "updateOrder",
        "Change the buyer's contact, delivery, payment method or comment",
        OrderPatchRequest,
        invalid="A field is wrong (a phone, an e-mail, a method); `field` names it.",
    )
    callback_body, _ = _request(CallbackRequestIn)
    return {
        "/v1/orders/{number}/cancel": {"post": cancel},
        "/v1/orders/{number}/shipment": {"post": ship},
        "/v1/orders/{number}/payments": {"post": pay},
        "/v1/orders/{number}#patch": {"patch": patch},  # merged into the number's path
        "/v1/orders#get": {"get": _list()},  # merged into /v1/orders
        "/v1/callback-requests": {
            "post": {
                "operationId": "createCallbackRequest",
                "summary": "One-click buy: the shop's staff are asked to call the buyer back",
                "parameters": [KEY],
                "requestBody": callback_body,
                "responses": {
                    "201": _json(
                        {"$ref": "#/components/schemas/CallbackCreated"},
                        "Kept; the staff are told.",
                    ),
                    **COMMON,
                    **BODY_ERRORS,
                    "409": _error(
                        "The same key is still being handled.", codes.IDEMPOTENCY_IN_PROGRESS
                    ),
                    "422": _error(
                        "A field is wrong (the phone, most often).",
                        codes.INVALID,
                        codes.IDEMPOTENCY_KEY_REUSED,
                    ),
                },
            }
        },
    }


def webhooks() -> dict[str, Any]:
    return {
        str(event): {
            "post": {
                "summary": event.name.replace("_", " ").capitalize(),
                "requestBody": {
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/WebhookEvent"}
                        }
                    }
                },
                "responses": {"2XX": {"description": "Received."}},
            }
        }
        for event in WebhookEvent
    }
