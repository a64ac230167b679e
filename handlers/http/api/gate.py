"""What every storefront API request passes first: the token (401), the shop not suspended
by the operator (403), then the token's rate limit (429 with Retry-After). Shared by every
resource module."""

from __future__ import annotations

from aiohttp import web

from handlers.http.api import codes
from handlers.http.api.errors import error_response
from services.storefront.rate_limits import NoLimit, RateLimiter
from services.storefront.tokens import ApiTokenService, Storefront

NOT_AUTHORIZED = "a valid API token is needed: Authorization: Bearer <token>"
SUSPENDED = "the shop is suspended by the operator of this service; nothing was changed"
_BEARER = {"WWW-Authenticate": "Bearer"}


class Gate:
    def __init__(self, tokens: ApiTokenService, limiter: RateLimiter | None = None):
        self._tokens = tokens
        self._limiter = limiter or NoLimit()

    async def storefront(self, request: web.Request) -> Storefront | web.Response:
        """The shop the request's token speaks for, or the refusal to answer with."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            token = ""
        storefront = await self._tokens.authenticate(token.strip())
        if storefront is None:
            return error_response(401, codes.UNAUTHORIZED, NOT_AUTHORIZED, headers=_BEARER)
        if storefront.suspended:
            return error_response(403, codes.SHOP_SUSPENDED, SUSPENDED)
        verdict = await self._limiter.hit(storefront.token_key)
        if not verdict.allowed:
            return error_response(
                429,
                codes.RATE_LIMITED,
                f"too many requests with this token; retry in {verdict.retry_after} s",
                headers={"Retry-After": str(verdict.retry_after)},
            )
        return storefront
