"""The Telegram Mini App (K1): pages at /app/, their JSON API under /app/api/, HTML fragments
the pages load under /app/ui/, and the desktop sign-in at /app/login/{token}.

A thin edge: each route reads who is asking (identity.py), parses the request, calls one
service and renders the answer. Orders change only through `OrderService` with
`Channel.MINI_APP` and the person's own identity, so the role checks are the chat's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiohttp import web

from handlers.http.app.answers import refusal_json, unauthorized
from handlers.http.app.identity import Forbidden, Identify, Person, Unidentified
from handlers.http.app.render import SECURITY_HEADERS, STATIC, Renderer
from services.buyers.service import BuyerService
from services.desk.board import DeskBoard
from services.desk.login import DeskLogin
from services.desk.numbers import DeskNumbers
from services.desk.scope import DeskScope
from services.desk.table import DeskTable
from services.documents.service import DocumentService
from services.messaging.dialog import DialogService
from services.orders.service import OrderService
from services.refusals import OrderRefused, Refused
from services.shops.users import UserService
from services.workflow.editing import WorkflowEditor

log = logging.getLogger(__name__)

PERSON = web.RequestKey("desk_person", Person)
# Bodies are small JSON (an action's inputs, a comment); templates are the largest.
MAX_BODY_BYTES = 256 * 1024


@dataclass(frozen=True)
class Desk:
    """What the Mini App's routes use, built by the composition root."""

    identify: Identify
    renderer: Renderer
    orders: OrderService
    table: DeskTable
    board: DeskBoard
    numbers: DeskNumbers
    scope: DeskScope
    buyers: BuyerService
    users: UserService
    dialog: DialogService
    documents: DocumentService
    login: DeskLogin
    workflows: WorkflowEditor  # the workflow page's edits (issue 16's service)
    secure_cookies: bool  # PUBLIC_URL is https: the session cookie is Secure


def person(request: web.Request) -> Person:
    return request[PERSON]


def _guarded(path: str) -> bool:
    return path.startswith(("/app/api/", "/app/ui/"))


def guard(desk: Desk):
    @web.middleware
    async def middleware(request: web.Request, handler) -> web.StreamResponse:
        language = "ru"
        if _guarded(request.path):
            try:
                found = await desk.identify.person(request)
            except Unidentified:
                return _secured(unauthorized())
            except Forbidden:
                return _secured(web.json_response({"error": "forbidden"}, status=403))
            except Refused:  # a session of a person who no longer exists
                return _secured(unauthorized())
            request[PERSON] = found
            language = found.language
        try:
            response = await handler(request)
        except (OrderRefused, Refused) as refusal:
            status, body = desk.renderer.words(language, refusal_json, refusal)
            response = web.json_response(body, status=status)
        return _secured(response)

    return middleware


def _secured(response: web.StreamResponse) -> web.StreamResponse:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def mini_app(desk: Desk) -> web.Application:
    """The application to mount at /app."""
    from handlers.http.app.api import DeskApi
    from handlers.http.app.pages import DeskPages
    from handlers.http.app.signin import SignIn
    from handlers.http.app.workflow_api import WorkflowApi

    app = web.Application(middlewares=[guard(desk)], client_max_size=MAX_BODY_BYTES)
    app.add_routes(
        [
            *SignIn(desk).routes(),
            *DeskPages(desk).routes(),
            *DeskApi(desk).routes(),
            *WorkflowApi(desk).routes(),
            web.static("/static", STATIC),
        ]
    )
    return app
