"""Every API error is JSON: {"error": {"code", "message", "field"?}}.

The codes are part of the API (listed in the OpenAPI document); the messages are for the
developer reading a log, in English.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from sqlalchemy import exc as db

from handlers.http.api import codes

log = logging.getLogger(__name__)


def error_body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> web.Response:
    return web.json_response(
        error_body(code, message, field),
        status=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


RETRY_AFTER_SECONDS = 5  # a lost database connection: most come back within seconds
# What a database that cannot be reached raises (a refused or dropped connection, a pool
# that could not give one in time): the storefront should retry, not report a bug.
_DATABASE_AWAY = (db.OperationalError, db.InterfaceError, db.TimeoutError, ConnectionError)


# aiohttp's own refusals (no such route, wrong method) in the API's format.
_HTTP_CODES = {
    404: (codes.NOT_FOUND, "no such resource"),
    405: (codes.METHOD_NOT_ALLOWED, "this method is not allowed here"),
    413: (codes.BODY_TOO_LARGE, "the request body is too large"),
}


@web.middleware
async def json_errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code, message = _HTTP_CODES.get(error.status, (codes.BAD_REQUEST, error.reason))
        return error_response(error.status, code, message)
    except _DATABASE_AWAY as error:
        log.warning(
            "storefront API %s %s: the database is unreachable (%s)",
            request.method,
            request.path,
            type(error).__name__,
        )
        return error_response(
            503,
            codes.BUSY,
            "the service is briefly unavailable; retry after the Retry-After seconds",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    except Exception:
        # The storefront gets no traceback, only a code to report; the log has the rest.
        log.exception("storefront API request failed: %s %s", request.method, request.path)
        return error_response(500, codes.INTERNAL, "an internal error; try again later")
