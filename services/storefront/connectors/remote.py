"""Calling a platform's API for a connector, and turning its refusals into PlatformError.

One request, no retries here: a status change that the platform did not take is reported
with `retryable` and the platform's `Retry-After`, and the caller (the outbox-like pump
that sends status changes) decides when to try again. So nothing in a connector sleeps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from services.outside.http import HttpFailure, HttpReply, MalformedAnswer, Transport, json_body
from services.storefront.connectors.base import PlatformError
from services.storefront.connectors.payload import clean_text

TIME_LIMIT = 15.0  # seconds; a shop's own WordPress can be slow
MAX_RETRY_AFTER = 3600.0
_SECONDS = re.compile(r"^[0-9]{1,6}(\.[0-9]{1,3})?$")


async def call(
    transport: Transport,
    platform: str,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    payload: Any = None,
    what: str,
) -> HttpReply:
    """The platform's 2xx answer, or PlatformError saying what failed (`what`: "marking
    order 727 completed") and whether trying again may help."""
    sent = {"Accept": "application/json", **headers}
    body = None
    if payload is not None:
        sent["Content-Type"] = "application/json"
        body = json_body(payload)
    try:
        reply = await transport.request(method, url, headers=sent, body=body, time_limit=TIME_LIMIT)
    except HttpFailure as error:
        raise PlatformError(
            platform,
            f"{what}: the store did not answer ({clean_text(error.reason, 200)})",
            retryable=not error.refused_address,
        ) from error
    if reply.ok:
        return reply
    raise refusal(platform, reply, what)


def refusal(platform: str, reply: HttpReply, what: str) -> PlatformError:
    said = said_by(reply)
    detail = f": {said}" if said else ""
    status = reply.status
    if status in (401, 403):
        message = f"{what}: the store refused the credentials ({status}){detail}"
        return PlatformError(platform, message, status=status)
    if status == 404:
        return PlatformError(platform, f"{what}: not found in the store (404){detail}", status=404)
    if status == 429:
        return PlatformError(
            platform,
            f"{what}: the store asks to slow down (429){detail}",
            status=429,
            retryable=True,
            retry_after=retry_after(reply),
        )
    if status >= 500 or status == 408:
        return PlatformError(
            platform,
            f"{what}: the store failed ({status}){detail}",
            status=status,
            retryable=True,
            retry_after=retry_after(reply),
        )
    if 300 <= status < 400:
        # We never follow redirects: a store URL that moved must be corrected by the shop.
        message = f"{what}: the store answered with a redirect ({status}); check the store URL"
        return PlatformError(platform, message, status=status)
    message = f"{what}: the store refused it ({status}){detail}"
    return PlatformError(platform, message, status=status)


def said_by(reply: HttpReply) -> str:
    """The platform's own words in an error answer, short and cleaned: WooCommerce's
    `message`, Shopify's `errors` (a string, a list, or lists by field) or `error`."""
    try:
        data = reply.json()
    except MalformedAnswer:
        return ""
    if not isinstance(data, dict):
        return ""
    said = data.get("message") or data.get("errors") or data.get("error")
    if isinstance(said, dict):
        said = "; ".join(f"{key} {_join(value)}" for key, value in list(said.items())[:5])
    elif isinstance(said, list):
        said = _join(said)
    return clean_text(said, 200) if isinstance(said, str) else ""


def _join(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value[:5])
    return str(value)


def retry_after(reply: HttpReply) -> float | None:
    """`Retry-After` in seconds; Shopify sends fractions ("2.0"), which HttpReply's own
    reader does not take. A date, or nonsense, gives None."""
    value = (reply.header("retry-after") or "").strip()
    if not _SECONDS.match(value):
        return None
    return min(float(value), MAX_RETRY_AFTER)


def reply_json(platform: str, reply: HttpReply, what: str) -> Any:
    try:
        return reply.json()
    except MalformedAnswer as error:
        raise PlatformError(platform, f"{what}: the store's answer is not JSON") from error
