"""Telegram's rules, enforced with Telegram's error texts, as a real aiogram Bot sees them."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats, InlineKeyboardButton
from aiogram.types import InlineKeyboardMarkup as Markup

from bot.sandbox import SandboxUser, TelegramEmulator
from services.time.clock import FrozenClock
from tests.sandbox.conftest import TOKEN

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


def keyboard(data: str) -> Markup:
    return Markup(inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data=data)]])


@pytest.fixture
def ivan(telegram: TelegramEmulator) -> SandboxUser:
    user = telegram.user("Ivan")
    telegram.start_bot(user)
    return user


async def test_answering_a_callback_twice_is_refused(
    telegram: TelegramEmulator, bot: Bot, ivan: SandboxUser
) -> None:
    # given
    card = await bot.send_message(ivan.id, "Order 1", reply_markup=keyboard("o:1"))
    query = telegram.tap(ivan, telegram.messages(ivan)[card.message_id - 1], data="o:1")
    # when
    assert await bot.answer_callback_query(query.id, text="Saved", show_alert=True)
    with pytest.raises(TelegramBadRequest) as second:
        await bot.answer_callback_query(query.id)
    with pytest.raises(TelegramBadRequest) as unknown:
        await bot.answer_callback_query("987654321")
    # then
    assert second.value.message == QUERY_TOO_OLD
    assert unknown.value.message == QUERY_TOO_OLD
    answer = telegram.callback_answer(query.id)
    assert answer is not None and (answer.text, answer.show_alert) == ("Saved", True)


async def test_identical_edit_is_not_modified(bot: Bot, ivan: SandboxUser) -> None:
    sent = await bot.send_message(ivan.id, "Order 1", reply_markup=keyboard("o:1"))

    with pytest.raises(TelegramBadRequest) as identical:
        await bot.edit_message_text(
            "Order 1", chat_id=ivan.id, message_id=sent.message_id, reply_markup=keyboard("o:1")
        )
    edited = await bot.edit_message_text("Order 1", chat_id=ivan.id, message_id=sent.message_id)

    assert identical.value.message == NOT_MODIFIED
    assert isinstance(edited, type(sent)) and edited.reply_markup is None  # keyboard dropped


async def test_text_length_limits(bot: Bot, ivan: SandboxUser) -> None:
    assert (await bot.send_message(ivan.id, "я" * 4096)).text == "я" * 4096

    with pytest.raises(TelegramBadRequest) as too_long:
        await bot.send_message(ivan.id, "я" * 4097)
    with pytest.raises(TelegramBadRequest) as empty:
        await bot.send_message(ivan.id, "   ")

    assert too_long.value.message == "Bad Request: message is too long"
    assert empty.value.message == "Bad Request: message text is empty"


async def test_callback_data_is_limited_to_64_bytes(bot: Bot, ivan: SandboxUser) -> None:
    await bot.send_message(ivan.id, "ok", reply_markup=keyboard("x" * 64))

    for data in ("x" * 65, "д" * 33):  # Cyrillic letters take two bytes each
        with pytest.raises(TelegramBadRequest) as refused:
            await bot.send_message(ivan.id, "order", reply_markup=keyboard(data))
        assert refused.value.message == "Bad Request: BUTTON_DATA_INVALID"


async def test_a_button_needs_an_action(bot: Bot, ivan: SandboxUser) -> None:
    plain = Markup(inline_keyboard=[[InlineKeyboardButton(text="Nothing")]])

    with pytest.raises(TelegramBadRequest, match="Text buttons are unallowed"):
        await bot.send_message(ivan.id, "order", reply_markup=plain)


async def test_who_the_bot_cannot_write_to(telegram: TelegramEmulator, bot: Bot) -> None:
    stranger = telegram.user("Stranger")  # never opened the chat

    with pytest.raises(TelegramBadRequest) as unknown:
        await bot.send_message(555, "hi")
    with pytest.raises(TelegramForbiddenError) as first:
        await bot.send_message(stranger.id, "hi")

    assert unknown.value.message == "Bad Request: chat not found"
    assert first.value.message == "Forbidden: bot can't initiate conversation with a user"


async def test_blocked_user(telegram: TelegramEmulator, bot: Bot, ivan: SandboxUser) -> None:
    # given
    await bot.send_message(ivan.id, "Order 1 shipped")
    # when
    telegram.block(ivan)
    # then
    with pytest.raises(TelegramForbiddenError) as blocked:
        await bot.send_message(ivan.id, "Order 1 delivered")
    assert blocked.value.message == "Forbidden: bot was blocked by the user"
    updates = await bot.get_updates()
    member = updates[-1].my_chat_member
    assert member is not None and member.new_chat_member.status == "kicked"
    # and writing again unblocks, as pressing Restart does
    telegram.send(ivan, "/start")
    assert (await bot.send_message(ivan.id, "welcome back")).text == "welcome back"


async def test_editing_and_deleting_missing_messages(bot: Bot, ivan: SandboxUser) -> None:
    with pytest.raises(TelegramBadRequest) as edit:
        await bot.edit_message_text("x", chat_id=ivan.id, message_id=99)
    with pytest.raises(TelegramBadRequest) as delete:
        await bot.delete_message(ivan.id, 99)

    assert edit.value.message == "Bad Request: message to edit not found"
    assert delete.value.message == "Bad Request: message to delete not found"


async def test_deleted_messages_stay_in_the_transcript_flagged(
    telegram: TelegramEmulator, bot: Bot, ivan: SandboxUser
) -> None:
    sent = await bot.send_message(ivan.id, "temporary")

    assert await bot.delete_message(ivan.id, sent.message_id)

    assert telegram.messages(ivan)[-1].deleted
    assert telegram.transcript(ivan).endswith("Bot: temporary (deleted)")
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("again", chat_id=ivan.id, message_id=sent.message_id)


async def test_messages_older_than_48_hours_cannot_be_deleted(
    clock: FrozenClock, bot: Bot, ivan: SandboxUser
) -> None:
    sent = await bot.send_message(ivan.id, "old news")
    clock.advance(timedelta(hours=49))

    with pytest.raises(TelegramBadRequest, match="message can't be deleted for everyone"):
        await bot.delete_message(ivan.id, sent.message_id)


async def test_html_that_telegram_cannot_parse_is_refused(bot: Bot, ivan: SandboxUser) -> None:
    with pytest.raises(TelegramBadRequest) as refused:
        await bot.send_message(ivan.id, "New order from <Ivan>", parse_mode="HTML")

    assert refused.value.message == (
        'Bad Request: can\'t parse entities: Unsupported start tag "ivan" at byte offset 15'
    )


async def test_markdown_v2_reserved_characters_must_be_escaped(bot: Bot, ivan: SandboxUser) -> None:
    ok = await bot.send_message(ivan.id, r"*Total:* 1\.500 ₽", parse_mode="MarkdownV2")

    with pytest.raises(TelegramBadRequest, match=r"Character '\.' is reserved"):
        await bot.send_message(ivan.id, "Total: 1.500", parse_mode="MarkdownV2")
    assert ok.text == "Total: 1.500 ₽"


async def test_replies_and_reply_parameters(
    telegram: TelegramEmulator, bot: Bot, ivan: SandboxUser
) -> None:
    question = telegram.send(ivan, "where is my order?")

    answer = await bot.send_message(ivan.id, "on its way", reply_to_message_id=question.message_id)

    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "where is my order?"
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(ivan.id, "?", reply_to_message_id=77)


async def test_commands_are_kept_per_scope_and_language(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    orders = [BotCommand(command="orders", description="Orders")]
    scope = BotCommandScopeAllPrivateChats()

    await bot.set_my_commands(orders, scope=scope, language_code="en")

    assert telegram.command_list("all_private_chats", "en") == [("orders", "Orders")]
    listed = await bot.get_my_commands(scope=scope, language_code="en")
    assert [(command.command, command.description) for command in listed] == [("orders", "Orders")]
    assert await bot.get_my_commands() == []
    await bot.delete_my_commands(scope=scope, language_code="en")
    assert telegram.commands == {}


async def test_chat_and_member_lookups(telegram: TelegramEmulator, bot: Bot) -> None:
    owner, clerk = telegram.user("Olga"), telegram.user("Petr")
    staff = telegram.group("Shop staff", owner, clerk, supergroup=True)
    telegram.add_bot_to_group(staff, owner)

    chat = await bot.get_chat(staff.id)
    creator = await bot.get_chat_member(staff.id, owner.id)
    admins = await bot.get_chat_administrators(staff.id)

    assert (chat.type, chat.title) == ("supergroup", "Shop staff")
    assert creator.status == "creator"
    assert [admin.user.id for admin in admins] == [owner.id]
    assert await bot.leave_chat(staff.id)
    with pytest.raises(TelegramForbiddenError, match="bot is not a member of the supergroup chat"):
        await bot.send_message(staff.id, "still here?")


async def test_raw_http_clients_token_and_unknown_methods(
    telegram: TelegramEmulator, ivan: SandboxUser
) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{telegram.url}/botnot-a-token/getMe") as response:
            assert response.status == 401
            assert await response.json() == {
                "ok": False,
                "error_code": 401,
                "description": "Unauthorized",
            }
        async with http.post(f"{telegram.url}/bot{TOKEN}/sendSticker") as response:
            assert response.status == 404
            assert (await response.json())["description"] == "Not Found"
        as_json = {"chat_id": ivan.id, "text": "json body"}
        async with http.post(f"{telegram.url}/bot{TOKEN}/sendMessage", json=as_json) as response:
            assert (await response.json())["result"]["text"] == "json body"
        form = {"chat_id": str(ivan.id), "text": "form body"}
        async with http.post(f"{telegram.url}/bot{TOKEN}/sendMessage", data=form) as response:
            assert (await response.json())["result"]["text"] == "form body"
        query = {"chat_id": str(ivan.id), "text": "query string"}
        async with http.get(f"{telegram.url}/bot{TOKEN}/sendMessage", params=query) as response:
            assert (await response.json())["result"]["text"] == "query string"
        async with http.get(f"{telegram.url}/bot999:OTHER/getMe") as response:
            assert response.status == 401  # one emulator is one bot


async def test_copy_and_forward(telegram: TelegramEmulator, bot: Bot, ivan: SandboxUser) -> None:
    olga = telegram.user("Olga")
    telegram.start_bot(olga)
    question = telegram.send(ivan, "is the blue one in stock?")

    copied = await bot.copy_message(olga.id, ivan.id, question.message_id)
    forwarded = await bot.forward_message(olga.id, ivan.id, question.message_id)

    assert telegram.messages(olga)[copied.message_id - 1].text == "is the blue one in stock?"
    assert forwarded.forward_origin is not None and forwarded.forward_origin.type == "user"
    assert telegram.transcript(olga).splitlines()[-1] == (
        "[12:00] Bot: (forwarded from Ivan) is the blue one in stock?"
    )
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(olga.id, ivan.id, 99)


async def test_a_forged_callback_reaches_the_bot_as_sent(
    telegram: TelegramEmulator, bot: Bot, ivan: SandboxUser
) -> None:
    card = await bot.send_message(ivan.id, "Order 1", reply_markup=keyboard("o:1:view"))

    telegram.forged_tap(ivan, telegram.messages(ivan)[card.message_id - 1], "o:999:refund")

    [update] = [update for update in await bot.get_updates() if update.callback_query]
    assert update.callback_query is not None and update.callback_query.data == "o:999:refund"


async def test_a_reply_keyboard_belongs_to_the_chat(
    telegram: TelegramEmulator, bot: Bot, ivan: SandboxUser
) -> None:
    from aiogram.types import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove

    share = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="Share phone")]])
    await bot.send_message(ivan.id, "Your phone?", reply_markup=share)
    assert telegram.keyboard(ivan) == [["Share phone"]]

    await bot.send_message(ivan.id, "Thanks", reply_markup=ReplyKeyboardRemove())
    assert telegram.keyboard(ivan) == []
