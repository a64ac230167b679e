"""Flood control: 429 with retry_after, on a clock the test moves (nothing sleeps)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramRetryAfter

from bot.sandbox import FloodLimits, SandboxUser, TelegramEmulator
from bot.sandbox.limits import FloodControl, FloodWait
from services.time.clock import FrozenClock


def started_users(telegram: TelegramEmulator, count: int) -> list[SandboxUser]:
    users = [telegram.user(f"Buyer {number}") for number in range(count)]
    for user in users:
        telegram.start_bot(user)
    return users


async def test_about_30_messages_a_second_in_all(
    telegram: TelegramEmulator, bot: Bot, clock: FrozenClock
) -> None:
    # given 40 buyers, each in their own chat
    buyers = started_users(telegram, 40)
    # when the bot writes to all of them at once
    for buyer in buyers[:30]:
        await bot.send_message(buyer.id, "Your order shipped")
    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(buyers[30].id, "Your order shipped")
    # then the 31st waits a second, and a second later the bucket is full again
    assert flood.value.retry_after == 1
    assert flood.value.message.endswith("Original description: Too Many Requests: retry after 1")
    clock.advance(timedelta(seconds=1))
    for buyer in buyers[30:]:
        await bot.send_message(buyer.id, "Your order shipped")
    assert sum(len(telegram.messages(buyer)) for buyer in buyers) == 80


async def test_one_message_a_second_per_private_chat_after_a_short_burst(
    telegram: TelegramEmulator, bot: Bot, clock: FrozenClock
) -> None:
    [ivan] = started_users(telegram, 1)
    for number in range(3):  # the default burst
        await bot.send_message(ivan.id, f"update {number}")

    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(ivan.id, "one too many")
    clock.advance(timedelta(seconds=1))
    await bot.send_message(ivan.id, "after a second")
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(ivan.id, "again too fast")

    assert flood.value.retry_after == 1


async def test_twenty_messages_a_minute_per_group(
    telegram: TelegramEmulator, bot: Bot, clock: FrozenClock
) -> None:
    owner = telegram.user("Olga")
    staff = telegram.group("Shop staff", owner)
    telegram.add_bot_to_group(staff, owner)
    for number in range(20):
        await bot.send_message(staff.id, f"new order {number}")

    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(staff.id, "new order 20")
    clock.advance(timedelta(seconds=3))  # one message every 3 s refills
    await bot.send_message(staff.id, "new order 20")

    assert flood.value.retry_after == 3


async def test_edits_and_callback_answers_are_not_limited(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    [ivan] = started_users(telegram, 1)
    sent = [await bot.send_message(ivan.id, f"card {number}") for number in range(3)]
    with pytest.raises(TelegramRetryAfter):
        await bot.send_message(ivan.id, "limited")

    for number in range(10):
        await bot.edit_message_text(
            f"card 0, edit {number}", chat_id=ivan.id, message_id=sent[0].message_id
        )

    assert telegram.messages(ivan)[1].text == "card 0, edit 9"


async def test_an_injected_429_storm(telegram: TelegramEmulator, bot: Bot) -> None:
    [ivan] = started_users(telegram, 1)
    telegram.inject_flood(2, retry_after=7)

    for _ in range(2):
        with pytest.raises(TelegramRetryAfter) as flood:
            await bot.send_message(ivan.id, "storm")
        assert flood.value.retry_after == 7
    await bot.send_message(ivan.id, "calm again")

    assert [message.text for message in telegram.messages(ivan)] == ["/start", "calm again"]


@pytest.mark.parametrize("flood_limits", [FloodLimits.off()])
async def test_limits_can_be_switched_off(telegram: TelegramEmulator, bot: Bot) -> None:
    [ivan] = started_users(telegram, 1)

    for number in range(50):
        await bot.send_message(ivan.id, f"message {number}")

    assert len(telegram.messages(ivan)) == 51


def test_a_refused_message_costs_no_token() -> None:
    now = [0.0]
    limits = FloodLimits(private_burst=1, global_burst=2, global_per_second=2)
    control = FloodControl(limits, monotonic=lambda: now[0])

    control.check(1, private=True)
    with pytest.raises(FloodWait):
        control.check(1, private=True)  # chat 1 is out; the global bucket must keep its token
    control.check(2, private=True)

    with pytest.raises(FloodWait) as wait:
        control.check(3, private=True)
    assert wait.value.retry_after == 1
