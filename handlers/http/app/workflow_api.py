"""The Mini App edits the shop's workflow (issue 20 with issue 16's WorkflowEditor):
the draft as JSON, one edit per request, save as a new version, move open orders.

Each route parses and checks its JSON body, then makes one WorkflowEditor call; the service
checks that the person is the shop's owner or an admin, exactly as for the bot's buttons.
Bad input (a malformed body, an edit the draft refuses, a draft that is not a valid workflow)
answers 400 with the problem texts, as `python -m bot workflow validate` words them, and
changes nothing.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handlers.http.app import Desk, person
from handlers.http.app.answers import refusal_json
from handlers.http.app.api import json_body
from services.orders.actors import Channel
from services.refusals import OrderRefused, Problem, Reason, Refused, invalid
from services.vocabulary import LANGUAGES, STAFF_ROLES
from services.workflow import changes
from services.workflow.changes import Body
from services.workflow.editing import DraftView, WorkflowEditor, WorkflowProblems

MAX_CODE = 40
MAX_DURATION = 16  # "30m", "2d", "12h"
MAX_MAPPING = 200


def _shop(body: dict[str, Any]) -> int:
    shop = body.get("shop")
    if isinstance(shop, bool) or not isinstance(shop, int) or not 0 < shop < 2**31:
        raise invalid("shop", "a shop id")
    return shop


def _code(body: dict[str, Any], name: str = "code") -> str:
    code = body.get(name)
    if not isinstance(code, str) or not 1 <= len(code) <= MAX_CODE:
        raise invalid(name, "a status code")
    return code


def _optional(body: dict[str, Any], name: str, limit: int = MAX_DURATION) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise invalid(name, f"a text of at most {limit} characters")
    return value.strip() or None


def _title(body: dict[str, Any]) -> dict[str, str]:
    raw = body.get("title")
    if (
        not isinstance(raw, dict)
        or not raw
        or not all(k in LANGUAGES and isinstance(v, str) and len(v) <= 200 for k, v in raw.items())
    ):
        raise invalid("title", "a title by language: " + ", ".join(LANGUAGES))
    return raw


def _place(body: dict[str, Any]):
    code, position = _code(body), body.get("position")
    if isinstance(position, bool) or not isinstance(position, int):
        raise invalid("position", "a position in the list")
    return "place_status", (code, position), {}


def _rename(body: dict[str, Any]):
    language, text = body.get("language"), body.get("text")
    if language not in LANGUAGES:
        raise invalid("language", ", ".join(LANGUAGES))
    if not isinstance(text, str) or len(text) > 200:
        raise invalid("text", "a title of 1 to 64 characters is needed")
    return "rename_status", (_code(body), language, text), {}


def _limit(body: dict[str, Any]):
    hours = body.get("hours", "business")
    if hours not in changes.SLA_HOURS:
        raise invalid("hours", " or ".join(changes.SLA_HOURS))
    return (
        "set_limit",
        (_code(body), _optional(body, "acceptable"), _optional(body, "excellent"), hours),
        {},
    )


def _responsible(body: dict[str, Any]):
    role = body.get("role")
    if role is not None and role not in STAFF_ROLES:
        raise invalid("role", ", ".join(STAFF_ROLES))
    return "set_responsible", (_code(body), role), {}


def _retire(body: dict[str, Any]):
    return "retire_status", (_code(body),), {}


# Each edit the page offers: its body checked, as (the editor's edit, args, keywords).
EDITS = {
    "place": _place,
    "rename": _rename,
    "limit": _limit,
    "responsible": _responsible,
    "retire": _retire,
}


def _add_into_step(draft: Body, code: str, title: dict[str, str], before: str, after: str):
    """A new status in the way from `before` to `after` (seed 001: "Assembling" between
    "Paid" and "Shipped"): added right after `before`, the step then leads through it."""
    changes.add_status(draft, code, title, after=before)
    changes.insert_between(draft, code, before, after)


def draft_json(view: DraftView) -> dict[str, Any]:
    body = view.body
    return {
        "shop": view.shop_id,
        "version": view.current_version,
        "changed": view.changed,
        "valid": view.valid,
        "problems": list(view.problems),
        "statuses": [
            {
                "code": raw.get("code"),
                "title": raw.get("title") or {},
                "kind": raw.get("kind", "active"),
                "responsible": raw.get("responsible"),
                "sla": raw.get("sla"),
                "position": position,
            }
            for position, raw in enumerate(body.get("statuses") or [])
            if isinstance(raw, dict)
        ],
        "steps": [
            {"code": raw.get("code"), "from": changes._sources(raw), "to": raw.get("to")}
            for raw in body.get("transitions") or []
            if isinstance(raw, dict)
        ],
    }


def problem_response(refused: Refused | OrderRefused, desk: Desk, language: str) -> web.Response:
    """400: the problems of a bad body, a refused edit or an invalid draft."""
    _status, body = desk.renderer.words(language, refusal_json, refused)
    problems = refused.problems if isinstance(refused, WorkflowProblems) else [refused.message]
    return web.json_response({**body, "problems": problems}, status=400)


class WorkflowApi:
    def __init__(self, desk: Desk):
        self.desk = desk
        self.editor: WorkflowEditor = desk.workflows

    def routes(self) -> list[web.AbstractRouteDef]:
        return [
            web.get("/api/workflow", self.draft),
            web.post("/api/workflow/edit", self.edit),
            web.post("/api/workflow/save", self.save),
            web.post("/api/workflow/discard", self.discard),
            web.post("/api/workflow/move-orders", self.move_orders),
        ]

    async def _guarded(self, request: web.Request, work) -> web.Response:
        try:
            return await work(person(request), await json_body(request))
        except (Refused, OrderRefused) as refused:
            if refused.code not in (Reason.INVALID, Problem.INVALID):
                raise  # forbidden, not found: answered by the guard
            return problem_response(refused, self.desk, person(request).language)

    async def draft(self, request: web.Request) -> web.Response:
        raw = request.query.get("shop", "")
        if not raw.isdigit() or len(raw) > 9:
            return problem_response(
                invalid("shop", "a shop id"), self.desk, person(request).language
            )
        view = await self.editor.draft(int(raw), person(request).user.id)
        return web.json_response(draft_json(view))

    async def edit(self, request: web.Request) -> web.Response:
        async def work(who, body):
            shop = _shop(body)
            kind = body.get("edit")
            if kind == "add":
                code, title = _code(body), _title(body)
                before, after = _code(body, "before"), _code(body, "after")
                view = await self.editor.edit(
                    shop,
                    who.user.id,
                    lambda draft: _add_into_step(draft, code, title, before, after),
                    "add_into_step",
                    code=code,
                    before=before,
                    after=after,
                )
                return web.json_response(draft_json(view))
            parse = EDITS.get(kind) if isinstance(kind, str) else None
            if parse is None:
                raise invalid("edit", ", ".join(["add", *EDITS]))
            name, args, kwargs = parse(body)
            view = await self.editor.change(shop, who.user.id, name, *args, **kwargs)
            return web.json_response(draft_json(view))

        return await self._guarded(request, work)

    async def save(self, request: web.Request) -> web.Response:
        async def work(who, body):
            saved = await self.editor.save(_shop(body), who.user.id)
            return web.json_response(
                {
                    "version": saved.version,
                    "open_orders": saved.moves.open_by_status,
                    "vanished": saved.moves.vanished,
                }
            )

        return await self._guarded(request, work)

    async def discard(self, request: web.Request) -> web.Response:
        async def work(who, body):
            await self.editor.discard(_shop(body), who.user.id)
            return web.json_response({"ok": True})

        return await self._guarded(request, work)

    async def move_orders(self, request: web.Request) -> web.Response:
        """The open orders go to the current version; `mapping` says where those in a status
        the new version lacks go (refused, nothing moved, when one is left out)."""

        async def work(who, body):
            shop = _shop(body)
            mapping = body.get("mapping") or {}
            if (
                not isinstance(mapping, dict)
                or len(mapping) > MAX_MAPPING
                or not all(
                    isinstance(k, str)
                    and isinstance(v, str)
                    and 0 < len(k) <= MAX_CODE
                    and 0 < len(v) <= MAX_CODE
                    for k, v in mapping.items()
                )
            ):
                raise invalid("mapping", "old status code → new status code")
            moved = await self.editor.move_open_orders(
                shop, who.user.id, mapping, channel=Channel.MINI_APP
            )
            return web.json_response({"moved": moved})

        return await self._guarded(request, work)
