"""Reading what the bot sent in the emulator's chats, for end-to-end tests.

A message is found by what it is (the card of an order, a text it starts with, a button it
offers), never as "the chat's last message": a notification relayed in between would take
that place, a known cause of flaky tests and demos.
"""

from __future__ import annotations

import re

from bot.sandbox.state import SandboxChat, SandboxMessage, SandboxUser
from handlers.telegram.dialog import BuyerAct, BuyerCB

Chat = SandboxChat | SandboxUser


def labels(tg, message: SandboxMessage) -> list[str]:
    """The message's inline buttons, row after row."""
    return [label for row in tg.emulator.buttons(message) for label in row]


def sent_by_bot(tg, chat: Chat) -> list[SandboxMessage]:
    return [m for m in tg.emulator.messages(chat) if m.outgoing]


def bot_texts(tg, chat: Chat) -> list[str]:
    """What the bot sent in the chat, oldest first: texts, or the captions of files."""
    return [m.content for m in sent_by_bot(tg, chat)]


def bot_messages(tg, chat: Chat, starting: str) -> list[SandboxMessage]:
    """The bot's messages whose text (or caption) starts so, oldest first."""
    return [m for m in sent_by_bot(tg, chat) if m.content.startswith(starting)]


def message_starting(tg, chat: Chat, prefix: str) -> SandboxMessage:
    """The bot's newest message whose text starts with `prefix`."""
    for message in reversed(sent_by_bot(tg, chat)):
        if (message.text or "").startswith(prefix):
            return message
    raise AssertionError(f"no message starting {prefix!r}")


def is_card_of(message: SandboxMessage, number: int) -> bool:
    """Whether this is the card of order #number: it starts with its heading, "Order #N ·
    shop" in the reader's language ("Заказ #N · …"); pings and relays start otherwise."""
    return re.match(rf"\w+ #{number} · ", message.text or "") is not None


def card_of(tg, person: Chat, number: int) -> SandboxMessage:
    """The newest card of order #number in the person's chat."""
    for message in reversed(sent_by_bot(tg, person)):
        if not message.deleted and is_card_of(message, number):
            return message
    raise AssertionError(f"no card of #{number} in {tg.emulator.chat(person).name}")


async def open_card(tg, person: SandboxUser, number: int) -> SandboxMessage:
    """The person asks for order #number with /order; returns the card the bot answers with."""
    await tg.say(person, f"/order {number}")
    return await tg.emulator.wait_for_message(person, lambda m: is_card_of(m, number))


async def open_from_my(tg, buyer: SandboxUser, order) -> SandboxMessage:
    """The buyer sends /my and taps the order there; returns the card the bot answers with."""
    await tg.say(buyer, "/my")
    data = BuyerCB(act=BuyerAct.OPEN, id=order.id).pack()
    # The listing, not the "share your phone" offer that may come before it.
    listing = await tg.emulator.wait_for_message(
        buyer,
        lambda m: any(
            button.get("callback_data") == data
            for row in (m.reply_markup or {}).get("inline_keyboard", [])
            for button in row
        ),
    )
    await tg.tap(buyer, listing, data=data)
    return await tg.emulator.wait_for_message(
        buyer, lambda m: is_card_of(m, order.number), after=listing
    )


async def open_settings(tg, person: SandboxUser) -> SandboxMessage:
    """The person sends /settings; returns the settings menu the bot answers with (its
    heading starts "⚙️ " in every language)."""
    await tg.say(person, "/settings")
    return await tg.emulator.wait_for_message(person, lambda m: (m.text or "").startswith("⚙️ "))
