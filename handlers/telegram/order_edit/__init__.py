"""Editing an order from its card (A6) and splitting it (A7), one module per kind of edit.

The card's "✏️ Edit" opens a menu of exactly the edits this person may make now
(`OrderView.edits`). Drafts (the goods, what moves to a split-off order) live in the
conversation until saved; every save goes through OrderService, which checks the role and
the workflow's editing rules again. Each button carries the order version it was drawn
from: a draft or a menu older than the order is refused ("stale") and the current card shown.
"""

from __future__ import annotations

from aiogram import Router

from handlers.telegram.order_edit import (
    delivery,
    delivery_date,
    discounts,
    goods,
    menu,
    payment,
    split,
)


def router() -> Router:
    router = Router(name=__name__)
    # A router's inner middlewares wrap the handlers of the routers it includes: every
    # editing step, whatever its kind, answers a stale draft or menu the same way.
    router.callback_query.middleware(menu.StaleEdits())
    router.message.middleware(menu.StaleEdits())
    router.include_routers(
        menu.router(),  # /cancel of a draft, the menu from the card, back to the menu
        goods.router(),
        delivery.router(),
        payment.router(),
        delivery_date.router(),
        discounts.router(),
        split.router(),
        menu.steps_over(),  # last: a button of a step that is over
    )
    return router
