"""Fake WooCommerce and Shopify APIs on loopback, answering as the real ones document.

Each fake is an aiohttp server on 127.0.0.1 (port 0) that checks credentials the way its
platform does, keeps the state a status change touches (an order's status, its notes, its
fulfillment orders), records every call it gets, and can be told to fail the next calls
(401, 404, 429 with Retry-After, 500) to see the connector's errors.

Documented shapes followed:
- WooCommerce REST API v3 (woocommerce-rest-api-docs, wp-api-v3): `PUT /wp-json/wc/v3/orders/<id>`
  answers the order; `POST .../notes` answers 201 with the note; errors are
  `{"code", "message", "data": {"status"}}`: `woocommerce_rest_authentication_error`
  ("Consumer key is invalid." / "Consumer secret is invalid.") for wrong keys,
  `woocommerce_rest_cannot_edit` without any, `woocommerce_rest_shop_order_invalid_id`
  ("Invalid ID.") for an unknown order, `rest_invalid_param` for a status it does not know.
  A 500 is WordPress's "critical error" page (HTML, not JSON).
- Shopify Admin REST API: `X-Shopify-Access-Token`; errors `{"errors": "..."}` ("[API]
  Invalid API key or access token (unrecognized login or wrong password)", "Not Found");
  429 with `Retry-After: 2.0` and "Exceeded 2 calls per second for api client. Reduce
  request rates to resume uninterrupted service."; fulfillment orders, fulfillments (one
  location per fulfilment, only open or in-progress fulfillment orders) and cancel.
"""

from __future__ import annotations

import base64
import copy
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from services.storefront.connectors.shopify import API_VERSION

# The JSON body the middleware already read, for the handlers.
BODY = web.RequestKey("body", object)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or the raw text when it is not JSON, or None


@dataclass
class Failure:
    status: int
    body: str
    content_type: str
    retry_after: str | None


@dataclass
class FakeServer:
    """What both fakes share: the server, the record of calls, the failures to come."""

    calls: list[Call] = field(default_factory=list)
    url: str = ""
    # call number (0 = the first this server gets) -> how to fail it
    _failures: dict[int, Failure] = field(default_factory=dict)
    _runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application(middlewares=[self._middleware])
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def failure(self, status: int) -> Failure:
        raise NotImplementedError

    def fail_next(
        self, status: int, *, times: int = 1, after: int = 0, retry_after: str | None = None
    ) -> None:
        """`times` calls, once `after` more have passed, get `status` with the platform's own
        error body (after=1: the next call passes, the one after it fails)."""
        first = len(self.calls) + after
        for number in range(first, first + times):
            failure = self.failure(status)
            failure.retry_after = retry_after if retry_after is not None else failure.retry_after
            self._failures[number] = failure

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        number = len(self.calls)
        self.calls.append(Call(request.method, request.path, dict(request.headers), body))
        failure = self._failures.pop(number, None)
        if failure is not None:
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            return web.Response(
                status=failure.status,
                text=failure.body,
                content_type=failure.content_type,
                headers=headers,
            )
        request[BODY] = body
        return await handler(request)


def _json(status: int, data: Any, **headers: str) -> web.Response:
    return web.Response(
        status=status, text=json.dumps(data), content_type="application/json", headers=headers
    )


# WooCommerce ------------------------------------------------------------------------------

WOO_STATUSES = ("pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed")


def woo_error(status: int, code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "message": message, "data": {"status": status, **extra}}


@dataclass
class FakeWooCommerce(FakeServer):
    consumer_key: str = "ck_test"
    consumer_secret: str = "cs_test"
    # id -> the order as the REST API answers it; status changes land here.
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    _note_ids: Any = field(default_factory=lambda: itertools.count(281))

    def routes(self, app: web.Application) -> None:
        app.router.add_put("/wp-json/wc/v3/orders/{id}", self._update_order)
        app.router.add_post("/wp-json/wc/v3/orders/{id}/notes", self._add_note)

    def failure(self, status: int) -> Failure:
        if status == 500:
            page = "<html><body><p>There has been a critical error on this website.</p>"
            return Failure(500, page, "text/html", None)
        codes = {
            401: ("woocommerce_rest_authentication_error", "Consumer key is invalid."),
            404: ("rest_no_route", "No route was found matching the URL and request method."),
            # WooCommerce itself does not throttle REST API v3; hosts in front of it do.
            429: ("too_many_requests", "Too many requests. Please try again later."),
        }
        code, message = codes.get(status, ("error", "Error."))
        body = json.dumps(woo_error(status, code, message))
        return Failure(status, body, "application/json", "30" if status == 429 else None)

    def _denied(self, request: web.Request) -> web.Response | None:
        """WooCommerce's check of HTTP Basic keys (WC_REST_Authentication)."""
        given = request.headers.get("Authorization", "")
        if not given.startswith("Basic "):
            message = "Sorry, you are not allowed to edit this resource."
            return _json(401, woo_error(401, "woocommerce_rest_cannot_edit", message))
        try:
            key, _, secret = base64.b64decode(given[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            key, secret = "", ""
        if key != self.consumer_key:
            message = "Consumer key is invalid."
            return _json(401, woo_error(401, "woocommerce_rest_authentication_error", message))
        if secret != self.consumer_secret:
            message = "Consumer secret is invalid."
            return _json(401, woo_error(401, "woocommerce_rest_authentication_error", message))
        return None

    def _order(self, request: web.Request) -> tuple[int, web.Response | None]:
        raw = request.match_info["id"]
        order_id = int(raw) if raw.isdigit() else 0
        if order_id not in self.orders:
            error = woo_error(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
            return order_id, _json(404, error)
        return order_id, None

    async def _update_order(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        order_id, missing = self._order(request)
        if missing is not None:
            return missing
        body = request[BODY]
        if not isinstance(body, dict):
            return _json(400, woo_error(400, "rest_invalid_json", "Invalid JSON body passed."))
        status = body.get("status")
        if status is not None and status not in WOO_STATUSES:
            allowed = ", ".join(WOO_STATUSES)
            error = woo_error(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): status",
                params={"status": f"status is not one of {allowed}."},
            )
            return _json(400, error)
        if status is not None:
            self.orders[order_id]["status"] = status
        return _json(200, self.orders[order_id])

    async def _add_note(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        order_id, missing = self._order(request)
        if missing is not None:
            return missing
        body = request[BODY]
        if not isinstance(body, dict) or not isinstance(body.get("note"), str) or not body["note"]:
            error = woo_error(400, "rest_missing_callback_param", "Missing parameter(s): note")
            return _json(400, error)
        note = {
            "id": next(self._note_ids),
            "author": "system",
            "date_created": "2026-11-24T13:48:01",
            "date_created_gmt": "2026-11-24T10:48:01",
            "note": body["note"],
            "customer_note": bool(body.get("customer_note", False)),
        }
        self.notes.setdefault(order_id, []).append(note)
        return _json(201, note)


# Shopify -----------------------------------------------------------------------------------

SHOPIFY_UNAUTHORIZED = (
    "[API] Invalid API key or access token (unrecognized login or wrong password)"
)
SHOPIFY_THROTTLED = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted"
    " service."
)


@dataclass
class FakeShopify(FakeServer):
    access_token: str = "shpat_test"
    # order id -> its fulfillment orders as `GET .../fulfillment_orders.json` lists them.
    fulfillment_orders: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    cancelled: set[int] = field(default_factory=set)
    fulfillments: list[dict[str, Any]] = field(default_factory=list)
    _fulfillment_ids: Any = field(default_factory=lambda: itertools.count(255858046))

    def add_order(self, order_id: int, fulfillment_orders: list[dict[str, Any]]) -> None:
        self.fulfillment_orders[order_id] = copy.deepcopy(fulfillment_orders)

    def routes(self, app: web.Application) -> None:
        base = f"/admin/api/{API_VERSION}"
        app.router.add_get(f"{base}/orders/{{id}}/fulfillment_orders.json", self._list)
        app.router.add_post(f"{base}/fulfillments.json", self._fulfil)
        app.router.add_post(f"{base}/orders/{{id}}/cancel.json", self._cancel)
        # Anything else (another API version, a path Shopify does not have) is Shopify's 404.
        app.router.add_route("*", "/{tail:.*}", self._not_found)

    def failure(self, status: int) -> Failure:
        messages = {
            401: SHOPIFY_UNAUTHORIZED,
            404: "Not Found",
            429: SHOPIFY_THROTTLED,
            500: "Internal Server Error",
        }
        body = json.dumps({"errors": messages.get(status, "Error")})
        return Failure(status, body, "application/json", "2.0" if status == 429 else None)

    def _denied(self, request: web.Request) -> web.Response | None:
        if request.headers.get("X-Shopify-Access-Token") != self.access_token:
            return _json(401, {"errors": SHOPIFY_UNAUTHORIZED})
        return None

    async def _not_found(self, request: web.Request) -> web.Response:
        return self._denied(request) or _json(404, {"errors": "Not Found"})

    def _order_id(self, request: web.Request) -> int | None:
        raw = request.match_info["id"]
        order_id = int(raw) if raw.isdigit() else None
        return order_id if order_id in self.fulfillment_orders else None

    async def _list(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        order_id = self._order_id(request)
        if order_id is None:
            return _json(404, {"errors": "Not Found"})
        return _json(200, {"fulfillment_orders": self.fulfillment_orders[order_id]})

    async def _fulfil(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        body = request[BODY]
        fulfillment = body.get("fulfillment") if isinstance(body, dict) else None
        if not isinstance(fulfillment, dict):
            fulfillment = {}
        wanted = fulfillment.get("line_items_by_fulfillment_order")
        if not isinstance(wanted, list) or not wanted:
            return _json(400, {"errors": {"fulfillment": "Required parameter missing or invalid"}})
        found = []
        for entry in wanted:
            fo_id = entry.get("fulfillment_order_id") if isinstance(entry, dict) else None
            fo = self._fulfillment_order(fo_id)
            if fo is None:
                return _json(404, {"errors": "Not Found"})
            if fo["status"] not in ("open", "in_progress"):
                message = (
                    f"Fulfillment order {fo['id']} has an unfulfillable status= {fo['status']}."
                )
                return _json(422, {"errors": [message]})
            found.append(fo)
        if len({fo["assigned_location_id"] for fo in found}) > 1:
            message = "All fulfillment orders in a fulfillment must share one location."
            return _json(422, {"errors": [message]})
        for fo in found:
            fo["status"] = "closed"
            fo["supported_actions"] = []
        tracking = fulfillment.get("tracking_info") or {}
        created = {
            "id": next(self._fulfillment_ids),
            "order_id": found[0]["order_id"],
            "status": "success",
            "location_id": found[0]["assigned_location_id"],
            "tracking_company": tracking.get("company"),
            "tracking_number": tracking.get("number"),
            "tracking_numbers": [tracking["number"]] if tracking.get("number") else [],
            "notify_customer": bool(fulfillment.get("notify_customer", False)),
        }
        self.fulfillments.append(created)
        return _json(201, {"fulfillment": created})

    def _fulfillment_order(self, fo_id: Any) -> dict[str, Any] | None:
        for listed in self.fulfillment_orders.values():
            for fo in listed:
                if fo["id"] == fo_id:
                    return fo
        return None

    async def _cancel(self, request: web.Request) -> web.Response:
        denied = self._denied(request)
        if denied is not None:
            return denied
        order_id = self._order_id(request)
        if order_id is None:
            return _json(404, {"errors": "Not Found"})
        if order_id in self.cancelled:
            return _json(422, {"error": "Order has already been cancelled"})
        self.cancelled.add(order_id)
        cancelled = {"id": order_id, "cancelled_at": "2026-11-24T10:15:02-05:00"}
        return _json(200, {"order": {**cancelled, "cancel_reason": "other"}})
