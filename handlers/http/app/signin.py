"""Signing in from a desktop browser with the link `/web` gives (DeskLogin).

GET only shows the page with a button (Telegram and mail scanners fetch links to preview
them; a preview must not spend the link); the POST spends it, sets the session cookie and
sends the browser to /app/. The cookie is HttpOnly, SameSite=Strict, limited to /app, and
Secure when PUBLIC_URL is https.
"""

from __future__ import annotations

import hmac
import logging

from aiohttp import web

from handlers.http.app import Desk
from handlers.http.app.identity import COOKIE, CSRF_HEADER
from handlers.http.links.pages import page_language
from services.desk.login import SESSION_LIFETIME, csrf_token

log = logging.getLogger(__name__)

LOGIN_PATH = "/app/login/{token}"


class SignIn:
    def __init__(self, desk: Desk):
        self.desk = desk

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/login/{token}", self.show),
            web.post("/login/{token}", self.sign_in),
            web.post("/logout", self.sign_out),
        ]

    def _language(self, request: web.Request) -> str:
        return page_language(None, request.headers.get("Accept-Language"))

    async def show(self, request: web.Request) -> web.Response:
        state = await self.desk.login.peek(request.match_info["token"])
        language = self._language(request)
        if not state.valid:
            return self.desk.renderer.page("login_gone.html", language, status=410)
        return self.desk.renderer.page("login.html", language, name=state.user_name)

    async def sign_in(self, request: web.Request) -> web.Response:
        origin = request.headers.get("Origin")
        if origin is not None and origin != self.desk.identify.origin:
            return web.Response(status=403, text="forbidden")
        signed = await self.desk.login.sign_in(request.match_info["token"])
        if signed is None:
            return self.desk.renderer.page("login_gone.html", self._language(request), status=410)
        log.info("user %s signed in to the desk from a browser", signed.user_id)
        response = web.Response(status=303, headers={"Location": "/app/"})
        response.set_cookie(
            COOKIE,
            signed.token,
            max_age=int(SESSION_LIFETIME.total_seconds()),
            path="/app",
            httponly=True,
            samesite="Strict",
            secure=self.desk.secure_cookies,
        )
        return response

    async def sign_out(self, request: web.Request) -> web.Response:
        token = request.cookies.get(COOKIE)
        if token and await self.desk.login.user_of(token) is not None:
            given = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(given.encode(), csrf_token(token).encode()):
                return web.json_response({"error": "forbidden"}, status=403)
            await self.desk.login.sign_out(token)
        response = web.json_response({"signed_out": True})
        response.del_cookie(COOKIE, path="/app")
        return response
