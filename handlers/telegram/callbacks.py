"""Callback data of the order card. Ids only: the service decides what the tapper may do.

Other features keep their callback data in their own modules; prefixes in use:
"o" order card, "l" order list, "st" settings, "sf" staff, "sh" shops, "mo" manual order,
"ed" order editing, "m" main menu, "b" buyer card, "dg" dialog, "dr" dialog reply, "lg"
language.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import MAX_CALLBACK_LENGTH, CallbackData


class QuickPack:
    """`CallbackData.pack` without its `model_dump`: the same string, 3.5 -> ~1 µs a button,
    and a staff card has ten of them, drawn on every tap (issue 15). For callback data of
    plain fields (numbers, text, enums), packed in the order they are declared, each
    encoded by aiogram's own `_encode_value`; a separator inside a value and data over
    Telegram's 64 bytes are refused as aiogram refuses them."""

    def pack(self) -> str:
        separator = self.__separator__  # type: ignore[attr-defined]
        parts = [self.__prefix__]  # type: ignore[attr-defined]
        for key, value in self.__dict__.items():  # the fields, in their declared order
            kind = type(value)
            if kind is str:
                encoded = value
            elif kind is int:
                encoded = str(value)
            else:
                encoded = self._encode_value(key, value)  # type: ignore[attr-defined]
            if separator in encoded:
                raise ValueError(f"Separator symbol {separator!r} in value {key}={encoded!r}")
            parts.append(encoded)
        packed = separator.join(parts)
        if len(packed.encode()) > MAX_CALLBACK_LENGTH:
            raise ValueError(f"Callback data too long: {packed!r}")
        return packed


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


class OrderCB(QuickPack, CallbackData, prefix="o"):
    act: OrderAct
    id: int
    arg: str = ""
    x: str = ""
    v: int = 0  # the order version the card was drawn from: older cards are refused
