"""getUpdates as Telegram serves it: offsets confirm, long polls wake on news, one poller."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramConflictError

from bot.sandbox import TelegramEmulator


async def test_offset_confirms_and_drops_earlier_updates(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    ivan = telegram.user("Ivan")
    for text in ("one", "two", "three"):
        telegram.send(ivan, text)

    first = await bot.get_updates(limit=2)
    rest = await bot.get_updates(offset=first[-1].update_id + 1)

    assert [update.update_id for update in first] == [1, 2]
    assert [update.update_id for update in rest] == [3]
    assert telegram.pending_updates == [3]


async def test_a_long_poll_returns_as_soon_as_a_user_writes(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    ivan = telegram.user("Ivan")
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await telegram.wait_polling()
    telegram.send(ivan, "hi")
    updates = await asyncio.wait_for(poll, timeout=5)

    assert [update.message.text for update in updates if update.message] == ["hi"]


async def test_a_second_poller_ends_the_first_with_a_conflict(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await telegram.wait_polling()

    assert await bot.get_updates() == []
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await first


async def test_update_types_the_bot_did_not_ask_for_are_dropped(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    owner = telegram.user("Olga")
    staff = telegram.group("Staff", owner)
    telegram.add_bot_to_group(staff, owner)  # a my_chat_member and a message update

    updates = await bot.get_updates(allowed_updates=["message"])

    assert [update.event_type for update in updates] == ["message"]
    assert telegram.pending_updates == [2]  # the my_chat_member update is gone for good
