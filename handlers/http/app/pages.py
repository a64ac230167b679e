"""The Mini App's pages: the shell at /app/ and the views it loads from /app/ui/ (HTML made
on the server in the person's language; the shell's script swaps them in and handles the
drag on the board). The data is the JSON API's, from the same services."""

from __future__ import annotations

from aiohttp import web

from handlers.http.app import Desk, person
from handlers.http.app.answers import board_json
from handlers.http.app.api import order_id
from handlers.http.app.identity import COOKIE
from handlers.http.app.workflow_api import draft_json
from handlers.http.links.pages import page_language
from handlers.telegram.format import money
from handlers.telegram.order_card import carriers_for, event_name
from services.desk import graph
from services.desk.login import csrf_token
from services.desk.numbers import PERIODS
from services.desk.table_query import TableQuery
from services.documents.defaults import KINDS
from services.documents.service import offered_kinds
from services.refusals import Reason, Refused, invalid
from services.vocabulary import DELIVERY_METHODS, LANGUAGES, PAYMENT_METHODS, STAFF_ROLES
from services.workflow import changes
from services.workflow.definition import ActorKind, Input
from services.workflow.engine import reasons_for


def _shop(request: web.Request) -> int | None:
    return TableQuery.parse({"shop": request.query.get("shop", "")}).shop_id


class DeskPages:
    def __init__(self, desk: Desk):
        self.desk = desk

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/", self.shell),
            web.get("/ui/home", self.home),
            web.get("/ui/table", self.table),
            web.get("/ui/table/rows", self.rows),
            web.get("/ui/board", self.board),
            web.get("/ui/my", self.my),
            web.get("/ui/orders/{order_id}", self.order),
            web.get("/ui/workflow", self.workflow),
            web.get("/ui/numbers", self.numbers),
            web.get("/ui/templates", self.templates),
        ]

    async def shell(self, request: web.Request) -> web.Response:
        """The page Telegram opens: no data in it; its script proves who is asking."""
        token = request.cookies.get(COOKIE)
        signed_in = await self.desk.login.user_of(token) is not None
        language = _browser_language(request.headers.get("Accept-Language"))
        return self.desk.renderer.page(
            "shell.html", language, csrf=csrf_token(token) if signed_in and token else ""
        )

    async def home(self, request: web.Request) -> web.Response:
        who = person(request)
        if await self.desk.users.memberships(who.user.id):
            return await self.table(request)
        return await self.my(request)

    async def _frame(self, request: web.Request, template: str, **values) -> web.Response:
        who = person(request)
        memberships = await self.desk.users.memberships(who.user.id)
        return self.desk.renderer.page(
            template,
            who.language,
            me=who,
            staff=bool(memberships),
            shops=[m.shop for m in memberships],
            **values,
        )

    async def table(self, request: web.Request) -> web.Response:
        who = person(request)
        query = TableQuery.parse(request.query)
        page = await self.desk.table.page(who.user.id, query)
        statuses = []
        for shop in page.shops:
            for status in shop.current.statuses:
                if status.code not in {code for code, _ in statuses}:
                    statuses.append((status.code, status.title))
        return await self._frame(
            request,
            "table.html",
            view="table",
            page=page,
            query=query,
            params=_params(request),
            zones=_zones(page),
            statuses=statuses,
            payments=PAYMENT_METHODS,
            deliveries=DELIVERY_METHODS,
            many_shops=len(page.shops) > 1,
        )

    async def rows(self, request: web.Request) -> web.Response:
        who = person(request)
        query = TableQuery.parse(request.query)
        page = await self.desk.table.page(who.user.id, query)
        return self.desk.renderer.page(
            "table_rows.html",
            who.language,
            page=page,
            params=_params(request),
            zones=_zones(page),
            many_shops=len(page.shops) > 1,
        )

    async def board(self, request: web.Request) -> web.Response:
        who = person(request)
        board = await self.desk.board.board(who.user.id, _shop(request))
        return await self._frame(
            request,
            "board.html",
            view="board",
            board=board,
            moves=self.desk.renderer.words(who.language, board_json, board, who.language)["moves"],
            carriers=carriers_for(board.shop.shop.country),
        )

    async def my(self, request: web.Request) -> web.Response:
        who = person(request)
        orders = await self.desk.buyers.my_orders(who.user.id)
        return await self._frame(request, "my.html", view="my", orders=orders)

    async def order(self, request: web.Request) -> web.Response:
        who = person(request)
        id_ = order_id(request)
        await self.desk.orders.open(id_, who.actor)  # staff opening it may move it on (A5)
        view = await self.desk.orders.view(id_, who.actor)
        history = await self.desk.orders.history(id_, who.actor)
        thread = await self.desk.dialog.thread(id_, who.actor)
        actions = [
            (
                option,
                reasons_for(view.workflow, view.order.status, option.capacity or ActorKind.STAFF)
                if Input.REASON in option.inputs
                else [],
            )
            for option in view.actions
        ]
        return await self._frame(
            request,
            "order.html",
            view="order",
            card=view,
            actions=actions,
            history=history[-100:],
            thread=thread,
            event_name=lambda action: self.desk.renderer.words(who.language, event_name, action),
            documents=offered_kinds(view.shop, view.who.is_staff),
            carriers=carriers_for(view.shop.country),
        )

    async def workflow(self, request: web.Request) -> web.Response:
        """The workflow drawn; for the owner and admins, their draft with its editor (the
        editing service says who may: other staff see the current version, read-only)."""
        who = person(request)
        shop = (await self.desk.scope.shops(who.user.id, _shop(request)))[0]
        try:
            draft = await self.desk.workflows.draft(shop.id, who.user.id)
        except Refused as refused:
            if refused.code != Reason.FORBIDDEN:
                raise
            draft = None
        plan = None
        if draft is not None:
            plan = await self.desk.workflows.move_plan(shop.id, who.user.id)
        drawn = draft.workflow if draft is not None and draft.workflow else shop.current
        return await self._frame(
            request,
            "workflow.html",
            view="workflow",
            shop=shop,
            graph=graph.layout(drawn),
            box=(graph.BOX_WIDTH, graph.BOX_HEIGHT),
            editable=draft is not None,
            draft=draft,
            plan=plan,
            steps=_steps(draft.body) if draft is not None else [],
            statuses=draft_json(draft)["statuses"] if draft is not None else [],
            roles=STAFF_ROLES,
            languages=LANGUAGES,
        )

    async def numbers(self, request: web.Request) -> web.Response:
        who = person(request)
        days = request.query.get("days", "30")
        if days not in {str(p) for p in PERIODS}:
            raise invalid("days", "7, 30 or 90")
        numbers = await self.desk.numbers.numbers(who.user.id, _shop(request), int(days))
        language = who.language
        revenue = [
            (
                d.day.isoformat(),
                d.revenue,
                self.desk.renderer.words(language, money, d.revenue, numbers.currency, language),
            )
            for d in numbers.days
        ]
        return await self._frame(
            request,
            "numbers.html",
            view="numbers",
            numbers=numbers,
            periods=PERIODS,
            order_points=[(d.day.isoformat(), d.orders, str(d.orders)) for d in numbers.days],
            revenue_points=revenue,
        )

    async def templates(self, request: web.Request) -> web.Response:
        who = person(request)
        shop = (await self.desk.scope.shops(who.user.id, _shop(request)))[0]
        kind = request.query.get("kind", "invoice")
        language = request.query.get("language", who.language)
        if kind not in KINDS or language not in LANGUAGES:
            raise invalid("kind", "a document kind and a language")
        info = await self.desk.documents.template(shop.id, who.user.id, kind, language)
        return await self._frame(
            request,
            "templates.html",
            view="templates",
            shop=shop,
            info=info,
            kinds=KINDS,
            languages=LANGUAGES,
        )


def _steps(body: dict) -> list[tuple[str, str]]:
    """The (from, to) pairs of the draft's steps: where a new status can be put."""
    pairs = []
    for raw in body.get("transitions") or []:
        for source in changes._sources(raw):
            pair = (source, raw.get("to"))
            if pair not in pairs and source != raw.get("to"):
                pairs.append(pair)
    return pairs


def _params(request: web.Request) -> dict[str, str]:
    """The table's filters as given, for its links (export, the next page)."""
    return {k: v for k, v in request.query.items() if k != "cursor" and v}


def _zones(page) -> dict[int, str]:
    return {shop.id: shop.shop.timezone for shop in page.shops}


def _browser_language(header: str | None) -> str:
    return page_language(None, header)
