"""What the Mini App's JSON API answers: rows, the board, refusals. Money comes both in minor
units and as a decimal string; times in ISO 8601 UTC; titles in the person's language."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handlers.http.api.answers import decimal_string
from handlers.http.api.codes import PROBLEM_STATUS
from handlers.telegram.format import title
from handlers.telegram.refusals import describe
from services.desk.board import Board
from services.desk.table import TablePage, TableRow
from services.refusals import OrderRefused, Reason, Refused

REASON_STATUS = {
    Reason.NOT_FOUND: 404,
    Reason.FORBIDDEN: 403,
    Reason.INVALID: 422,
    Reason.EXPIRED: 410,
    Reason.USED: 409,
    Reason.LAST_OWNER: 409,
    Reason.ALREADY: 409,
}


def money_json(amount: int, currency: str) -> dict[str, Any]:
    return {"amount": amount, "value": decimal_string(amount, currency), "currency": currency}


def row_json(row: TableRow, language: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "shop": {"id": row.shop_id, "name": row.shop_name},
        "number": row.number,
        "created_at": row.created_at.isoformat(),
        "buyer": {"name": row.buyer_name, "phone": row.buyer_phone},
        "total": money_json(row.total, row.currency),
        "income": money_json(row.income, row.currency),
        "status": {"code": row.status, "title": title(row.status_title, language) or row.status},
        "final": row.status_final,
        "responsible": row.responsible,
        "problem": row.problem,
        "time_left_minutes": (
            int(row.time_left.total_seconds() // 60) if row.time_left is not None else None
        ),
        "payment": row.payment_method,
        "delivery": row.delivery_method,
        "version": row.version,
    }


def page_json(page: TablePage, language: str) -> dict[str, Any]:
    return {
        "orders": [row_json(row, language) for row in page.rows],
        "next_cursor": page.next_cursor,
        "total": page.total,
        "shops": [{"id": s.id, "name": s.shop.name, "roles": sorted(s.roles)} for s in page.shops],
    }


def board_json(board: Board, language: str) -> dict[str, Any]:
    return {
        "shop": {"id": board.shop.id, "name": board.shop.shop.name},
        "columns": [
            {
                "status": column.status,
                "title": title(column.title, language) if column.title else "",
                "kind": str(column.kind),
                "responsible": column.responsible,
                "count": column.count,
                "cards": [
                    {
                        "id": card.id,
                        "number": card.number,
                        "buyer": card.buyer_name,
                        "total": money_json(card.total, card.currency),
                        "problem": card.problem,
                        "version": card.version,
                        "moves": card.moves,
                    }
                    for card in column.cards
                ],
            }
            for column in board.columns
        ],
        "moves": {
            key: {
                target: [
                    {
                        "action": move.action,
                        "title": title(move.title, language),
                        "inputs": list(move.inputs),
                        "confirm": move.confirm,
                        "reasons": [
                            {
                                "code": reason.code,
                                "title": title(reason.title, language),
                                "comment_required": reason.comment_required,
                            }
                            for reason in move.reasons
                        ],
                    }
                    for move in moves
                ]
                for target, moves in targets.items()
            }
            for key, targets in board.moves.items()
        },
    }


def refusal_json(refusal: OrderRefused | Refused) -> tuple[int, dict[str, Any]]:
    """The status and body of a refusal; `describe` needs the person's locale set."""
    if isinstance(refusal, OrderRefused):
        status = PROBLEM_STATUS.get(refusal.code, 409)
    else:
        status = REASON_STATUS.get(refusal.code, 409)
    body: dict[str, Any] = {"error": str(refusal.code), "message": describe(refusal)}
    for key in ("field", "input"):
        if key in refusal.params:
            body[key] = str(refusal.params[key])
    return status, body


def unauthorized() -> web.Response:
    return web.json_response(
        {"error": "unauthorized", "message": "Open the app from Telegram, or sign in with /web."},
        status=401,
    )
