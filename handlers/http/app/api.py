"""The Mini App's JSON API under /app/api/: the table, its export and bulk actions, the board,
an order and what can be done to it, the numbers and the document templates.

Each route: who is asking (the guard put them on the request), parse, one service call,
answer. Refusals come back from the services and are answered by the guard (4xx with the
problem's code and a sentence in the person's language).
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from aiohttp import web

from handlers.http.app import Desk, person
from handlers.http.app.answers import board_json, money_json, page_json
from handlers.http.app.exports import csv_export, xlsx_export
from handlers.telegram.documents import problem_text
from handlers.telegram.format import title
from services.desk.table_query import TableQuery
from services.documents.defaults import KINDS
from services.documents.sandbox import TemplateProblem
from services.refusals import OrderRefused, Problem, invalid
from services.vocabulary import LANGUAGES

MAX_BULK = 100  # orders in one bulk action
MAX_TEXT = 4000  # a comment or a message
MAX_TEMPLATE = 100_000


def order_id(request: web.Request) -> int:
    raw = request.match_info["order_id"]
    if not raw.isdigit() or len(raw) > 9:
        raise OrderRefused(Problem.NOT_FOUND, "no such order")
    return int(raw)


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise invalid("body", "send JSON")
    try:
        body = await request.json()
    except ValueError:
        raise invalid("body", "send a JSON object") from None
    if not isinstance(body, dict):
        raise invalid("body", "send a JSON object")
    return body


def _ids(body: dict[str, Any]) -> list[int]:
    ids = body.get("ids")
    if (
        not isinstance(ids, list)
        or not 1 <= len(ids) <= MAX_BULK
        or not all(isinstance(i, int) and not isinstance(i, bool) and 0 < i < 2**31 for i in ids)
    ):
        raise invalid("ids", f"1 to {MAX_BULK} order ids")
    return list(dict.fromkeys(ids))


def _inputs(body: dict[str, Any]) -> dict[str, str]:
    inputs = body.get("inputs") or {}
    if not isinstance(inputs, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) <= MAX_TEXT for k, v in inputs.items()
    ):
        raise invalid("inputs", "inputs are texts by name")
    return {k: v for k, v in inputs.items() if k in ("carrier", "track_code", "reason", "comment")}


def _text(body: dict[str, Any], name: str = "text", limit: int = MAX_TEXT) -> str:
    text = body.get(name)
    if not isinstance(text, str) or not text.strip() or len(text) > limit:
        raise invalid(name, f"1 to {limit} characters")
    return text


class DeskApi:
    def __init__(self, desk: Desk):
        self.desk = desk

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/api/me", self.me),
            web.get("/api/orders", self.orders),
            web.get("/api/orders/export", self.export),
            web.post("/api/orders/common-actions", self.common_actions),
            web.post("/api/orders/bulk", self.bulk),
            web.get("/api/orders/documents", self.bulk_documents),
            web.get("/api/board", self.board),
            web.get("/api/numbers", self.numbers),
            web.get("/api/orders/{order_id}", self.order),
            web.post("/api/orders/{order_id}/actions", self.act),
            web.post("/api/orders/{order_id}/comments", self.comment),
            web.post("/api/orders/{order_id}/messages", self.message),
            web.get("/api/orders/{order_id}/documents/{kind}", self.document),
            web.post("/api/templates/preview", self.template_preview),
            web.post("/api/templates/save", self.template_save),
        ]

    async def me(self, request: web.Request) -> web.Response:
        who = person(request)
        memberships = await self.desk.users.memberships(who.user.id)
        return web.json_response(
            {
                "id": who.user.id,
                "name": who.user.name,
                "language": who.language,
                "via": who.via,
                "shops": [
                    {"id": m.shop.id, "name": m.shop.name, "roles": sorted(m.roles)}
                    for m in memberships
                ],
            }
        )

    async def orders(self, request: web.Request) -> web.Response:
        who = person(request)
        page = await self.desk.table.page(who.user.id, TableQuery.parse(request.query))
        return web.json_response(page_json(page, who.language))

    async def export(self, request: web.Request) -> web.StreamResponse:
        who = person(request)
        query = TableQuery.parse(request.query)
        kind = request.query.get("format", "csv")
        if kind not in ("csv", "xlsx"):
            raise invalid("format", "csv or xlsx")
        await self.desk.table.page(who.user.id, query.without_page())  # refused before a byte
        batches = self.desk.table.export(who.user.id, query)
        language = who.language
        if kind == "csv":
            return await csv_export(request, batches, language, self.desk.renderer)
        return await xlsx_export(batches, language, self.desk.renderer)

    async def common_actions(self, request: web.Request) -> web.Response:
        """The actions allowed on every selected order (a bulk status change, K1)."""
        who = person(request)
        ids = _ids(await json_body(request))
        common: dict[str, Any] | None = None
        for id_ in ids:
            options = {o.code: o for o in await self.desk.orders.actions(id_, who.actor)}
            if common is None:
                common = options
            else:
                common = {code: o for code, o in common.items() if code in options}
        return web.json_response(
            {
                "actions": [
                    {
                        "action": o.code,
                        "title": title(o.title, who.language),
                        "inputs": [str(i) for i in o.inputs],
                        "confirm": o.confirm,
                    }
                    for o in (common or {}).values()
                ]
            }
        )

    async def bulk(self, request: web.Request) -> web.Response:
        """The same action on each selected order, each in its own transaction."""
        who = person(request)
        body = await json_body(request)
        ids = _ids(body)
        action = body.get("action")
        if not isinstance(action, str) or not 1 <= len(action) <= 40:
            raise invalid("action", "an action code")
        inputs = _inputs(body)
        results = []
        for id_ in ids:
            try:
                await self.desk.orders.apply(id_, who.actor, action, inputs)
                results.append({"id": id_, "ok": True})
            except OrderRefused as refused:
                results.append({"id": id_, "ok": False, "error": str(refused.code)})
        return web.json_response({"results": results})

    async def bulk_documents(self, request: web.Request) -> web.Response:
        """One kind of document for each selected order, in a ZIP (print them all at once)."""
        who = person(request)
        kind = request.query.get("kind", "invoice")
        raw = request.query.get("ids", "")
        ids = _ids({"ids": [int(i) for i in raw.split(",") if i.isdigit() and len(i) <= 9]})
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for id_ in ids:
                document = await self.desk.documents.for_order(id_, who.actor, kind, who.language)
                archive.writestr(document.name, document.pdf)
        return web.Response(
            body=buffer.getvalue(),
            content_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="{kind}.zip"'},
        )

    async def board(self, request: web.Request) -> web.Response:
        who = person(request)
        shop = TableQuery.parse({"shop": request.query.get("shop", "")}).shop_id
        board = await self.desk.board.board(who.user.id, shop)
        return web.json_response(board_json(board, who.language))

    async def numbers(self, request: web.Request) -> web.Response:
        who = person(request)
        shop = TableQuery.parse({"shop": request.query.get("shop", "")}).shop_id
        days = request.query.get("days", "30")
        numbers = await self.desk.numbers.numbers(
            who.user.id, shop, int(days) if days.isdigit() and len(days) < 4 else 0
        )
        return web.json_response(
            {
                "shop": {"id": numbers.shop.id, "name": numbers.shop.shop.name},
                "days": numbers.period,
                "per_day": [
                    {
                        "day": d.day.isoformat(),
                        "orders": d.orders,
                        "revenue": money_json(d.revenue, numbers.currency),
                    }
                    for d in numbers.days
                ],
                "orders": numbers.orders,
                "revenue": money_json(numbers.revenue, numbers.currency),
                "average_check": (
                    money_json(numbers.average_check, numbers.currency)
                    if numbers.average_check is not None
                    else None
                ),
                "cancellations": [
                    {"reason": s.key, "count": s.count} for s in numbers.cancellations
                ],
                "time_limits_by_status": [
                    {"status": s.key, "on_time": s.on_time, "late": s.late}
                    for s in numbers.by_status
                ],
                "time_limits_by_person": [
                    {"user_id": int(s.key), "name": s.title, "on_time": s.on_time, "late": s.late}
                    for s in numbers.by_person
                ],
                "return_rate": numbers.return_rate,
            }
        )

    async def order(self, request: web.Request) -> web.Response:
        who = person(request)
        view = await self.desk.orders.view(order_id(request), who.actor)
        order, language = view.order, who.language
        return web.json_response(
            {
                "id": order.id,
                "shop": {"id": view.shop.id, "name": view.shop.name},
                "number": order.number,
                "status": {
                    "code": order.status,
                    "title": title(view.workflow.status(order.status).title, language),
                },
                "version": order.version,
                "total": money_json(order.total, order.currency),
                "items": [
                    {
                        "sku": item.sku,
                        "name": item.name,
                        "quantity": item.quantity,
                        "line_total": money_json(item.line_total, order.currency),
                    }
                    for item in order.items
                ],
                "actions": [
                    {
                        "action": o.code,
                        "title": title(o.title, language),
                        "target": o.target,
                        "inputs": [str(i) for i in o.inputs],
                        "confirm": o.confirm,
                    }
                    for o in view.actions
                ],
                "staff": view.who.is_staff,
            }
        )

    async def act(self, request: web.Request) -> web.Response:
        """A workflow action (a button, a drop on the board): `{action, inputs, version}`."""
        who = person(request)
        body = await json_body(request)
        action = body.get("action")
        version = body.get("version")
        if not isinstance(action, str) or not 1 <= len(action) <= 40:
            raise invalid("action", "an action code")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise invalid("version", "the order's version as shown")
        result = await self.desk.orders.apply(
            order_id(request), who.actor, action, _inputs(body), expected_version=version
        )
        return web.json_response({"status": result.order.status, "version": result.order.version})

    async def comment(self, request: web.Request) -> web.Response:
        who = person(request)
        body = await json_body(request)
        event = await self.desk.orders.add_comment(order_id(request), who.actor, _text(body))
        return web.json_response({"id": event.id}, status=201)

    async def message(self, request: web.Request) -> web.Response:
        """A message in the order's dialog: staff to the buyer, or the buyer to the shop."""
        who = person(request)
        body = await json_body(request)
        message = await self.desk.dialog.from_desk(order_id(request), who.actor, text=_text(body))
        return web.json_response({"id": message.id}, status=201)

    async def document(self, request: web.Request) -> web.Response:
        who = person(request)
        kind = request.match_info["kind"]
        if kind not in KINDS:
            raise invalid("kind", ", ".join(KINDS))
        document = await self.desk.documents.for_order(
            order_id(request), who.actor, kind, who.language
        )
        return _pdf(document.pdf, document.name)

    async def template_preview(self, request: web.Request) -> web.Response:
        who = person(request)
        shop_id, kind, language, body = _template_args(await json_body(request))
        try:
            document = await self.desk.documents.preview(shop_id, who.user.id, kind, language, body)
        except TemplateProblem as problem:
            return self._template_problem(problem, who.language)
        return _pdf(document.pdf, document.name)

    async def template_save(self, request: web.Request) -> web.Response:
        who = person(request)
        shop_id, kind, language, body = _template_args(await json_body(request))
        try:
            info = await self.desk.documents.save(shop_id, who.user.id, kind, language, body)
        except TemplateProblem as problem:
            return self._template_problem(problem, who.language)
        return web.json_response({"version": info.version})

    def _template_problem(self, problem: TemplateProblem, language: str) -> web.Response:
        """Why, in the person's language when it is a limit or a refused image (the same
        words as in Telegram); otherwise the exact reason with its line."""
        words = self.desk.renderer.words(language, problem_text, problem)
        return _template_problem(problem, words if problem.code else problem.message)


def _template_args(body: dict[str, Any]) -> tuple[int, str, str, str]:
    shop_id = body.get("shop")
    if isinstance(shop_id, bool) or not isinstance(shop_id, int):
        raise invalid("shop", "a shop id")
    kind, language = body.get("kind"), body.get("language")
    if kind not in KINDS:
        raise invalid("kind", ", ".join(KINDS))
    if language not in LANGUAGES:
        raise invalid("language", ", ".join(LANGUAGES))
    return shop_id, kind, language, _text(body, "body", MAX_TEMPLATE)


def _template_problem(problem: TemplateProblem, message: str) -> web.Response:
    return web.json_response(
        {
            "error": "template",
            "kind": problem.kind,
            "code": problem.code,  # a limit or a refused image
            "message": message,
            "line": problem.line,
        },
        status=422,
    )


def _pdf(pdf: bytes, name: str) -> web.Response:
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )
