"""A real aiogram Dispatcher polling the emulator: what users do reaches the bot and back."""

from __future__ import annotations

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from bot.sandbox import EmulatorTimeout, SandboxError, TelegramEmulator
from tests.sandbox.conftest import BOT_ID, RunBot

KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [
            InlineKeyboardButton(text="Confirm", callback_data="order:42:confirm"),
            InlineKeyboardButton(text="Cancel", callback_data="order:42:cancel"),
        ],
        [InlineKeyboardButton(text="Site", url="https://example.com")],
    ]
)


def shop_dispatcher(seen: list[str]) -> Dispatcher:
    """A tiny bot: /start shows an order card, its buttons edit the card and answer."""
    router = Router()

    @router.message(CommandStart(deep_link=True))
    async def start_with_payload(message: Message, command: CommandObject) -> None:
        seen.append(f"payload={command.args}")
        await message.answer(
            f"Order <b>{command.args}</b>", parse_mode="HTML", reply_markup=KEYBOARD
        )

    @router.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("Welcome!", reply_markup=KEYBOARD)

    @router.callback_query(F.data == "order:42:confirm")
    async def confirm(query: CallbackQuery) -> None:
        assert isinstance(query.message, Message)
        await query.message.edit_text("Order 42 confirmed")
        await query.answer("Done")

    @router.my_chat_member()
    async def membership(event: ChatMemberUpdated, bot: Bot) -> None:
        old, new = event.old_chat_member.status, event.new_chat_member.status
        seen.append(f"{event.chat.title}: {old} -> {new} by {event.from_user.first_name}")
        if new == "member":
            await bot.send_message(event.chat.id, "Hello, shop staff")

    @router.message(F.new_chat_members)
    async def added(message: Message) -> None:
        names = [user.username for user in message.new_chat_members or []]
        seen.append(f"new members: {names}")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


async def test_get_me_answers_the_bot_from_the_token(bot: Bot) -> None:
    me = await bot.get_me()

    assert (me.id, me.is_bot, me.username) == (BOT_ID, True, "shopbot_sandbox_bot")


async def test_start_and_stop_by_hand() -> None:
    telegram = TelegramEmulator()
    await telegram.start(host="127.0.0.1", port=0)
    bot = Bot("42:SECRET", session=telegram.session())
    try:
        assert (await bot.get_me()).id == 42
        assert telegram.url.startswith("http://127.0.0.1:")
    finally:
        await bot.session.close()
        await telegram.stop()


async def test_deep_link_payload_reaches_the_bot(
    telegram: TelegramEmulator, run_bot: RunBot
) -> None:
    # given
    seen: list[str] = []
    await run_bot(shop_dispatcher(seen))
    ivan = telegram.user("Ivan", username="ivan")
    # when
    telegram.start(ivan, "A-1042")  # the same as telegram.start_bot(ivan, "A-1042")
    await telegram.wait_processed()
    # then
    assert seen == ["payload=A-1042"]
    card = telegram.last(ivan)
    assert card.text == "Order A-1042"  # HTML parsed into text + a bold entity
    assert card.entities == [{"type": "bold", "offset": 6, "length": 6}]
    assert telegram.buttons(card) == [["Confirm", "Cancel"], ["Site"]]


async def test_tap_edits_the_card_and_answers_the_callback(
    telegram: TelegramEmulator, run_bot: RunBot
) -> None:
    # given
    await run_bot(shop_dispatcher([]))
    ivan = telegram.user("Ivan")
    telegram.start_bot(ivan)
    await telegram.wait_processed()
    card = telegram.last(ivan)
    # when
    query = telegram.tap(ivan, card, text="Confirm")
    await telegram.wait_processed()
    # then
    answer = telegram.callback_answer(query)
    assert answer is not None and answer.text == "Done" and not answer.show_alert
    assert card.text == "Order 42 confirmed"
    assert card.edit_date is not None
    assert telegram.buttons(card) == []  # edit_text without reply_markup drops the keyboard


async def test_transcript_reads_like_the_chat(telegram: TelegramEmulator, run_bot: RunBot) -> None:
    # given
    await run_bot(shop_dispatcher([]))
    ivan = telegram.user("Ivan")
    # when
    telegram.start_bot(ivan)
    await telegram.wait_processed()
    telegram.send(ivan, "thanks")
    first_card = telegram.last(ivan)
    telegram.start_bot(ivan)
    await telegram.wait_processed()
    telegram.tap(ivan, first_card, data="order:42:confirm")
    await telegram.wait_processed()
    # then
    assert telegram.transcript(ivan) == (
        "[12:00] Ivan: /start\n"
        "[12:00] Bot: Order 42 confirmed (edited)\n"
        "[12:00] Ivan: thanks\n"
        "[12:00] Ivan: /start\n"
        "[12:00] Bot: Welcome!\n"
        "   [Confirm] [Cancel]\n"
        "   [Site]"
    )


async def test_adding_the_bot_to_a_group_sends_my_chat_member(
    telegram: TelegramEmulator, run_bot: RunBot
) -> None:
    # given
    seen: list[str] = []
    await run_bot(shop_dispatcher(seen))
    owner, clerk = telegram.user("Olga"), telegram.user("Petr")
    staff = telegram.group("Shop staff", owner, clerk)
    # when
    telegram.add_bot_to_group(staff, owner)
    await telegram.wait_processed()
    # then
    assert seen == ["Shop staff: left -> member by Olga", "new members: ['shopbot_sandbox_bot']"]
    assert telegram.last(staff).text == "Hello, shop staff"
    assert telegram.transcript(staff).splitlines() == [
        "[12:00] Olga added Bot",
        "[12:00] Bot: Hello, shop staff",
    ]


async def test_wait_for_message_returns_the_answer_to_the_last_user_action(
    telegram: TelegramEmulator, run_bot: RunBot
) -> None:
    await run_bot(shop_dispatcher([]))
    ivan = telegram.user("Ivan")

    telegram.start_bot(ivan, "7")
    answer = await telegram.wait_for_message(ivan)

    assert answer.text == "Order 7"
    again = await telegram.wait_for_message(ivan, lambda message: "7" in message.content)
    assert again is answer


async def test_wait_processed_says_which_updates_nobody_took(telegram: TelegramEmulator) -> None:
    ivan = telegram.user("Ivan")
    telegram.send(ivan, "hello?")
    telegram.send(ivan, "anyone?")

    with pytest.raises(EmulatorTimeout, match=r"updates \[1, 2\] were not processed within 0.1 s"):
        await telegram.wait_processed(timeout=0.1)


async def test_wait_for_message_times_out_with_what_the_bot_sent(
    telegram: TelegramEmulator,
) -> None:
    ivan = telegram.user("Ivan")
    telegram.send(ivan, "hello?")

    with pytest.raises(EmulatorTimeout, match=r"no message from the bot in Ivan within 0\.1 s"):
        await telegram.wait_for_message(ivan, timeout=0.1)


def test_tap_on_a_missing_button_lists_the_buttons_there(telegram: TelegramEmulator) -> None:
    ivan = telegram.user("Ivan")
    chat = telegram.chat(ivan)
    card = telegram.world.add_message(
        chat,
        telegram.bot,
        outgoing=True,
        text="Order",
        reply_markup=KEYBOARD.model_dump(exclude_none=True),
    )

    with pytest.raises(SandboxError, match=r"no button with text='Ship'.*\[Confirm\] \[Cancel\]"):
        telegram.tap(ivan, card, text="Ship")
    with pytest.raises(SandboxError, match="sends no callback"):
        telegram.tap(ivan, card, text="Site")


async def test_group_privacy_mode_hides_plain_chatter(telegram: TelegramEmulator, bot: Bot) -> None:
    # given a group the bot is in, without admin rights (Telegram's privacy mode)
    owner = telegram.user("Olga")
    staff = telegram.group("Shop staff", owner)
    telegram.add_bot_to_group(staff, owner)
    before = telegram.world.last_update_id
    # when
    telegram.send(owner, "lunch, anyone?", chat=staff)
    telegram.send(owner, "/orders", chat=staff)
    telegram.send(owner, "@shopbot_sandbox_bot status?", chat=staff)
    # then the bot gets the command and the mention only
    updates = await bot.get_updates(offset=before + 1)
    assert [update.message.text for update in updates if update.message] == [
        "/orders",
        "@shopbot_sandbox_bot status?",
    ]
    assert updates[0].message is not None and updates[0].message.entities is not None
    assert updates[0].message.entities[0].type == "bot_command"
