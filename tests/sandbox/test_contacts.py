"""Contacts, as Telegram's clients send them (the Bot API's Contact object): one's own
number through a `request_contact` button, or any contact card from the attachment menu.
A bot tells them apart by `user_id`: only one's own contact carries the sender's id."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.types import KeyboardButton, Message, ReplyKeyboardMarkup, ReplyKeyboardRemove

from bot.sandbox import TelegramEmulator
from bot.sandbox.state import SandboxError

SHARE = ReplyKeyboardMarkup(
    keyboard=[[KeyboardButton(text="Share my number", request_contact=True)]],
    resize_keyboard=True,
)


async def test_sharing_ones_own_contact_through_the_button(
    telegram: TelegramEmulator, bot: Bot, run_bot
) -> None:
    # given a bot that asks for the contact and says what it got
    seen: list[Any] = []
    dispatcher = Dispatcher()

    @dispatcher.message(F.contact)
    async def shared(message: Message) -> None:
        seen.append((message.contact, message.from_user.id, message.reply_to_message))
        await message.answer("Thanks", reply_markup=ReplyKeyboardRemove())

    await run_bot(dispatcher)
    vera = telegram.user("Vera", phone_number="79035551234")
    telegram.start_bot(vera)
    asking = await bot.send_message(vera.id, "Your number?", reply_markup=SHARE)

    # when Vera taps the button
    telegram.share_contact(vera)
    await telegram.wait_processed()

    # then her own number arrives with her own id, replying to the message that asked
    [(contact, sender, replied)] = seen
    assert (contact.phone_number, contact.first_name, contact.user_id) == (
        "79035551234",
        "Vera",
        vera.id,
    )
    assert sender == vera.id and replied.message_id == asking.message_id
    assert "[contact Vera 79035551234]" in telegram.transcript(vera)
    # and the keyboard is gone: there is no button to share with any more
    with pytest.raises(SandboxError, match="no button that requests their contact"):
        telegram.share_contact(vera)


async def test_a_contact_card_carries_the_contacts_id_not_the_senders(
    telegram: TelegramEmulator, bot: Bot, run_bot
) -> None:
    seen: list[Any] = []
    dispatcher = Dispatcher()

    @dispatcher.message(F.contact)
    async def card(message: Message) -> None:
        seen.append((message.contact.user_id, message.from_user.id))

    await run_bot(dispatcher)
    mallory = telegram.user("Mallory", phone_number="79990000000")
    vera = telegram.user("Vera", phone_number="79035551234")
    # no button shown: she cannot "share" hers
    with pytest.raises(SandboxError):
        telegram.share_contact(mallory)
    # a typed-in number, then Vera's card from her address book
    telegram.send_contact(mallory, "+79035551234", "Vera")
    telegram.send_contact(mallory, "+79035551234", "Vera", user_id=vera.id)
    await telegram.wait_processed()
    assert seen == [(None, mallory.id), (vera.id, mallory.id)]


async def test_contacts_over_the_control_api(telegram: TelegramEmulator, bot: Bot) -> None:
    async with aiohttp.ClientSession(base_url=telegram.url) as http:
        async with http.post(
            "/sandbox/users", json={"first_name": "Vera", "phone_number": "79035551234"}
        ) as response:
            vera = await response.json()
        async with http.post("/sandbox/send", json={"user_id": vera["id"], "text": "/start"}):
            pass
        await bot.send_message(vera["id"], "Your number?", reply_markup=SHARE)
        async with http.post("/sandbox/contact", json={"user_id": vera["id"]}) as response:
            own = await response.json()
        async with http.post(
            "/sandbox/contact",
            json={"user_id": vera["id"], "phone_number": "+380501234567", "first_name": "Oksana"},
        ) as response:
            card = await response.json()
    assert own["contact"] == {
        "phone_number": "79035551234",
        "first_name": "Vera",
        "user_id": vera["id"],
    }
    assert card["contact"] == {"phone_number": "+380501234567", "first_name": "Oksana"}
