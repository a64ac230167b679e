"""A transcript with the taps and the time passing (the demo's, issue 22)."""

from __future__ import annotations

from datetime import timedelta

from aiogram import Bot
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.sandbox.emulator import TelegramEmulator


async def test_taps_and_time_passing_are_shown_in_order(
    telegram: TelegramEmulator, bot: Bot, clock
):
    max_ = telegram.user("Max")
    telegram.start_bot(max_)
    button = InlineKeyboardButton(text="Confirm and bill", callback_data="confirm")
    card = await bot.send_message(
        max_.id, "Order #1", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]])
    )
    assert card.text == "Order #1"
    telegram.tap(max_, telegram.last(max_), text="Confirm and bill")
    clock.advance(timedelta(days=2, hours=1))
    await bot.send_message(max_.id, "Reminder")
    clock.advance(timedelta(hours=3))
    await bot.send_message(max_.id, "Closed")

    assert telegram.transcript(max_, taps=True).splitlines() == [
        "[12:00] Max: /start",
        "[12:00] Bot: Order #1",
        "   [Confirm and bill]",
        "[12:00] ▶ Max taps «Confirm and bill»",
        "— 2 days later —",
        "[13:00] Bot: Reminder",
        "— 3 hours later —",
        "[16:00] Bot: Closed",
    ]
    # without taps=True the transcript is as before: messages only
    assert "▶" not in telegram.transcript(max_) and "later" not in telegram.transcript(max_)
