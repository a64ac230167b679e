"""Callback data of the order card. Ids only: the service decides what the tapper may do.

Other features keep their callback data in their own modules; prefixes in use:
"o" order card, "l" order list, "st" settings, "sf" staff, "sh" shops, "mo" manual order,
"ed" order editing, "m" main menu, "b" buyer card, "dg" dialog, "dr" dialog reply, "lg"
language.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class OrderAct(StrEnum):
    SHOW = "s"  # draw the card again
    DO = "d"  # take the workflow action `arg`
    SURE = "y"  # the person confirmed the irreversible action `arg`
    REASON = "r"  # cancellation reason `arg` for the action `x`
    CARRIER = "k"  # carrier number `arg` chosen in the track-code conversation
    HISTORY = "h"
    COMMENT = "c"
    SCRIPT = "p"  # the call script (A10)
    EDIT = "e"  # the edit menu (handlers.telegram.order_edit)
    ABORT = "x"  # leave a conversation, back to the card
    MONEY = "m"  # record the payment of what is due (`arg` "pay") or the refund owed ("refund")
    CUSTOMER = "u"  # the customer's orders, by proven identity (staff)


class OrderCB(CallbackData, prefix="o"):
    act: OrderAct
    id: int
    arg: str = ""
    x: str = ""
    v: int = 0  # the order version the card was drawn from: older cards are refused
