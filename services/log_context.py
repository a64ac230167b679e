"""What a log line is about: the Telegram update and the order being worked on (G2).

Context variables, so each update's task (and each API request, each timer) carries its
own; `bot.logs` adds them to every record. Set where they become known: the update id by
the dispatcher's outer middleware, the order when a service loads it.
"""

from __future__ import annotations

from contextvars import ContextVar

UPDATE_ID: ContextVar[int | None] = ContextVar("update_id", default=None)
ORDER: ContextVar[str | None] = ContextVar("order", default=None)  # "<shop id>/<number>"


def order_loaded(shop_id: int, number: int) -> None:
    ORDER.set(f"{shop_id}/{number}")
