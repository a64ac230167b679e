"""Reading a storefront request and answering it, as every resource module does: the JSON
body within its size (415, 413, 400), the Idempotency-Key (400), the public order number
in the path, the keyed protocol's outcomes, and the order service's refusals."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from handlers.http.api import codes
from handlers.http.api.errors import error_body, error_response
from services.refusals import OrderRefused, Problem
from services.storefront.idempotency import MAX_KEY_LENGTH, InProgress, Mismatch, Replay
from services.storefront.keyed import Answered, Keyed


class Refusal(Exception):
    """The request cannot be read; `response` says why."""

    def __init__(self, response: web.Response):
        super().__init__(response.status)
        self.response = response


def idempotency_key(request: web.Request) -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise Refusal(
            error_response(
                400,
                codes.INVALID_IDEMPOTENCY_KEY,
                f"an Idempotency-Key of 1 to {MAX_KEY_LENGTH} characters is needed",
            )
        )
    return key


async def json_object(request: web.Request, max_body: int) -> dict[str, Any]:
    """The body as a JSON object: 415 for another media type, 413 past `max_body` (before
    more than that is read), 400 for anything that is not one JSON object."""
    if request.content_type != "application/json":
        raise Refusal(
            error_response(415, codes.UNSUPPORTED_MEDIA_TYPE, "send the body as application/json")
        )
    raw = await _read(request, max_body)
    try:
        data = json.loads(raw, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise Refusal(
            error_response(400, codes.MALFORMED_JSON, "the body is not valid JSON")
        ) from None
    if not isinstance(data, dict):
        raise Refusal(error_response(400, codes.MALFORMED_JSON, "the body must be a JSON object"))
    return data


async def _read(request: web.Request, max_body: int) -> bytes:
    too_large = Refusal(
        error_response(413, codes.BODY_TOO_LARGE, f"the body is over {max_body} bytes")
    )
    if request.content_length is not None and request.content_length > max_body:
        raise too_large
    body = bytearray()
    while len(body) <= max_body:
        chunk = await request.content.read(max_body + 1 - len(body))
        if not chunk:
            return bytes(body)
        body += chunk
    raise too_large


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def order_number(request: web.Request) -> int:
    """The public number in the path; anything else is no order (0)."""
    text = request.match_info["number"]
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 10 else 0


def json_answer(status: int, body: dict[str, Any], *, replayed: bool = False) -> web.Response:
    headers = {"Cache-Control": "no-store"}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    return web.json_response(body, status=status, headers=headers)


def keyed_answer(outcome: Keyed) -> web.Response:
    """The Idempotency-Key protocol's outcome as the API answers it."""
    if isinstance(outcome, Replay):
        return json_answer(outcome.status, outcome.body, replayed=True)
    if isinstance(outcome, Mismatch):
        return error_response(
            422,
            codes.IDEMPOTENCY_KEY_REUSED,
            "this Idempotency-Key was used with another request",
        )
    if isinstance(outcome, InProgress):
        return error_response(
            409,
            codes.IDEMPOTENCY_IN_PROGRESS,
            "a request with this Idempotency-Key is being handled; retry shortly",
            headers={"Retry-After": "1"},
        )
    return json_answer(outcome.status, outcome.body)


def refusal(refused: OrderRefused, *, inputs_prefix: str = "") -> Answered:
    """The order service's refusal with its problem's status and code (codes.PROBLEM_STATUS);
    `field` names the place: the service's field, else the workflow input at fault."""
    field = refused.params.get("field")
    if field is None and refused.params.get("input"):
        field = inputs_prefix + str(refused.params["input"])
    if refused.code is Problem.DUPLICATE:
        field = field or "external_id"
    body = error_body(str(refused.code), refused.message, field)
    if refused.code is Problem.OUT_OF_STOCK:
        body["error"]["skus"] = list(refused.params.get("skus") or [])  # which lines to fix
    return Answered(codes.PROBLEM_STATUS[refused.code], body)
