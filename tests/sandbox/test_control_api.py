"""The /sandbox/ control API: playing the users' side over HTTP, as the demo and curl do."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.sandbox import TelegramEmulator


@pytest.fixture
async def http(telegram: TelegramEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=telegram.url) as session:
        yield session


async def post(http: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> Any:
    async with http.post(path, json=body) as response:
        return response.status, await response.json()


async def test_a_user_created_over_http_talks_to_the_bot(
    telegram: TelegramEmulator, bot: Bot, http: aiohttp.ClientSession
) -> None:
    # given a user, who starts the bot
    status, ivan = await post(http, "/sandbox/users", {"first_name": "Ivan", "username": "ivan"})
    assert status == 201
    status, sent = await post(http, "/sandbox/send", {"user_id": ivan["id"], "text": "/start"})
    assert (status, sent["text"], sent["outgoing"]) == (201, "/start", False)
    # when the bot answers with a button, and the user taps it
    button = InlineKeyboardButton(text="Confirm", callback_data="confirm")
    card = await bot.send_message(
        ivan["id"], "Order 42", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]])
    )
    tap = {"user_id": ivan["id"], "message_id": card.message_id, "text": "Confirm"}
    status, query = await post(http, "/sandbox/tap", tap)
    # then
    assert (status, query["data"]) == (201, "confirm")
    async with http.get(f"/sandbox/chats/{ivan['id']}") as response:
        chat = await response.json()
    assert [message["text"] for message in chat["messages"]] == ["/start", "Order 42"]
    async with http.get(f"/sandbox/chats/{ivan['id']}/transcript") as response:
        transcript = await response.text()
    assert transcript == "[12:00] Ivan: /start\n[12:00] Bot: Order 42\n   [Confirm]\n"


async def test_mistakes_answer_400_with_a_sentence(http: aiohttp.ClientSession) -> None:
    status, body = await post(http, "/sandbox/send", {"user_id": 1, "text": "hi"})

    assert status == 400
    assert body == {"error": "no user 1: create one with POST /sandbox/users"}


async def test_a_group_with_the_bot_in_it(
    telegram: TelegramEmulator, http: aiohttp.ClientSession
) -> None:
    _, olga = await post(http, "/sandbox/users", {"first_name": "Olga"})

    status, group = await post(
        http, "/sandbox/groups", {"title": "Staff", "member_ids": [olga["id"]]}
    )

    assert (status, group["type"]) == (201, "group")
    assert telegram.chat(group["id"]).bot_status == "member"
