"""Who is asking the Mini App: Telegram's signed initData, or a desktop session cookie.

Every request under /app/api/ and /app/ui/ passes `identify`: `Authorization: tma <initData>`
(core.telegram.org/bots/webapps) proves a Telegram user; without it, the `shopbot_desk` cookie
a login link set. Nothing else is believed. A change made with the cookie must also carry the
session's CSRF token in `X-CSRF-Token` and, when the browser says where it comes from, come
from our own origin: another site can make the browser send the cookie, never the token.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from services.desk import launch
from services.desk.login import DeskLogin, csrf_token
from services.orders.actors import ActorRef, Channel
from services.shops.users import UserService, pick_language
from services.time.clock import Clock
from storage.models import User

log = logging.getLogger(__name__)

COOKIE = "shopbot_desk"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Person:
    """The identified person behind a request."""

    user: User
    via: str  # "telegram" (initData) or "browser" (a login link's session)
    language: str
    csrf: str | None = None  # the browser session's CSRF token

    @property
    def actor(self) -> ActorRef:
        return ActorRef.user(self.user.id, Channel.MINI_APP)


class Unidentified(Exception):
    """No proof, or a proof that does not hold: 401, nothing more said."""


class Identify:
    def __init__(
        self,
        *,
        bot_token: str,
        users: UserService,
        login: DeskLogin,
        clock: Clock,
        public_url: str,
    ):
        self._bot_token = bot_token
        self._users = users
        self._login = login
        self._clock = clock
        origin = urlsplit(public_url)
        self.origin = f"{origin.scheme}://{origin.netloc}"

    async def person(self, request: web.Request) -> Person:
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _sep, data = header.partition(" ")
            if scheme.lower() != "tma":
                raise Unidentified("not tma")
            try:
                proof = launch.verify(data.strip(), self._bot_token, self._clock.now())
            except launch.LaunchRefused as refused:
                log.info("mini app: initData refused: %s", refused.reason)
                raise Unidentified(refused.reason) from None
            user = await self._users.touch(
                proof.telegram_id,
                name=proof.name,
                username=proof.username,
                telegram_language=proof.language_code,
            )
            return Person(user, "telegram", pick_language(user.language, user.telegram_language))
        token = request.cookies.get(COOKIE)
        user_id = await self._login.user_of(token)
        if user_id is None:
            raise Unidentified("no session")
        user = await self._users.get(user_id)
        csrf = csrf_token(token)
        if request.method not in SAFE_METHODS:
            given = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(given.encode(), csrf.encode()):
                raise Forbidden("csrf")
            origin = request.headers.get("Origin")
            if origin is not None and origin != self.origin:
                raise Forbidden("origin")
        return Person(user, "browser", pick_language(user.language, user.telegram_language), csrf)


class Forbidden(Exception):
    """A browser change without its CSRF token, or from another origin: 403."""
