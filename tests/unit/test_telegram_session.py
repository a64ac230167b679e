"""The bot's Bot API calls go as JSON bodies with what aiogram's form carries; uploads as forms."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    GetUpdates,
    SendDocument,
    SendMessage,
)
from aiogram.types import (
    BufferedInputFile,
    CallbackGame,
    CopyTextButton,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LoginUrl,
    Message,
    SwitchInlineQueryChosenChat,
    Update,
    WebAppInfo,
)
from aiohttp import FormData

from bot.sandbox.emulator import TelegramEmulator
from bot.telegram import build_bot
from bot.telegram_session import JsonBodySession
from handlers.telegram.card_edits import EditCardText, edit_card

KEYBOARD = InlineKeyboardMarkup(
    inline_keyboard=[
        [InlineKeyboardButton(text="Подтвердить", callback_data="o:d:1:confirm::3")],
        [
            InlineKeyboardButton(text="📜 История", callback_data="o:h:1:::3"),
            InlineKeyboardButton(text="Сайт", url="https://example.com/?a=1&b=ü"),
        ],
    ]
)


def form_values(form: FormData) -> dict[str, object]:
    """aiogram's form as values: its JSON strings (keyboards) parsed, the rest as sent."""
    values = {}
    for options, _headers, value in form._fields:
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        values[options["name"]] = parsed if isinstance(parsed, (dict, list)) else value
    return values


def body_values(payload) -> dict[str, object]:
    body = json.loads(payload._value.decode())
    # Scalars as aiogram's form writes them: everything is a string there.
    return {
        key: value if isinstance(value, (dict, list, str)) else json.dumps(value)
        for key, value in body.items()
    }


def test_a_call_without_files_is_one_json_body_with_the_forms_values():
    # given the bot's default parse mode, a keyboard, Cyrillic text and a false flag
    bot = Bot("123:x", default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    method = EditMessageText(
        chat_id=5, message_id=7, text="<b>Заказ №3</b> · «Магазин»", reply_markup=KEYBOARD
    )
    answer = AnswerCallbackQuery(callback_query_id="9", text="Готово", show_alert=False)
    for call in (method, answer):
        # when the body is built
        payload = JsonBodySession().build_form_data(bot, call)
        # then it is JSON, and carries exactly what aiogram's form would have
        assert payload.content_type == "application/json"
        assert body_values(payload) == form_values(AiohttpSession().build_form_data(bot, call))
    assert json.loads(JsonBodySession().build_form_data(bot, method)._value)["parse_mode"] == "HTML"


# Every kind of inline button, nested objects and flags included.
EVERY_BUTTON = InlineKeyboardMarkup(
    inline_keyboard=[
        [InlineKeyboardButton(text="Мини-приложение", web_app=WebAppInfo(url="https://a.test/"))],
        [
            InlineKeyboardButton(
                text="Войти",
                login_url=LoginUrl(url="https://a.test/in", request_write_access=False),
            ),
            InlineKeyboardButton(text="Копировать", copy_text=CopyTextButton(text="ТРЕК-1")),
        ],
        [
            InlineKeyboardButton(
                text="Поделиться",
                switch_inline_query_chosen_chat=SwitchInlineQueryChosenChat(
                    query="#3", allow_user_chats=True, allow_group_chats=False
                ),
            ),
            InlineKeyboardButton(text="Здесь", switch_inline_query_current_chat=""),
        ],
        [InlineKeyboardButton(text="Игра", callback_game=CallbackGame())],
        [InlineKeyboardButton(text="Оплатить", pay=True)],
    ]
)


def test_every_kind_of_inline_keyboard_goes_as_aiogram_would_send_it():
    # given calls carrying inline keyboards (one with nothing else set but the message) and
    # one with another kind of markup
    bot = Bot("123:x", default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    calls = [
        SendMessage(chat_id=5, text="Заказ", reply_markup=EVERY_BUTTON),
        EditMessageReplyMarkup(inline_message_id="m1", reply_markup=KEYBOARD),
        EditMessageReplyMarkup(inline_message_id="m1", reply_markup=EVERY_BUTTON),
        SendMessage(chat_id=5, text="Трек?", reply_markup=ForceReply(input_field_placeholder="№")),
    ]
    for call in calls:
        # when each body is built, then it carries what aiogram's form would
        payload = JsonBodySession().build_form_data(bot, call)
        assert body_values(payload) == form_values(AiohttpSession().build_form_data(bot, call))
    sent = json.loads(JsonBodySession().build_form_data(bot, calls[0])._value)
    assert sent["reply_markup"] == EVERY_BUTTON.model_dump(exclude_none=True)
    assert sent["reply_markup"]["inline_keyboard"][3] == [{"text": "Игра", "callback_game": {}}]


def test_a_call_with_a_file_is_still_a_multipart_form():
    bot = Bot("123:x")
    method = SendDocument(chat_id=5, document=BufferedInputFile(b"%PDF-1.4", filename="a.pdf"))
    form = JsonBodySession().build_form_data(bot, method)
    assert isinstance(form, FormData)
    assert form.is_multipart


@pytest.fixture
async def card_chat():
    """A person's chat in the emulator with a card the bot sent: (emulator, user, bot, card)."""
    async with TelegramEmulator() as emulator:
        user = emulator.user("Ivan")
        emulator.send(user, "/start")
        bot = build_bot("123:x", emulator.url)
        try:
            card = await bot.send_message(user.id, "Заказ <b>№3</b>", reply_markup=KEYBOARD)
            yield emulator, user, bot, card
        finally:
            await bot.session.close()


async def test_the_emulator_shows_what_a_json_call_sent(card_chat):
    emulator, user, bot, card = card_chat
    await bot.edit_message_text(
        "Заказ <b>№3</b>: подтверждён",
        chat_id=user.id,
        message_id=card.message_id,
        reply_markup=KEYBOARD,
    )
    shown = emulator.last(user)
    assert shown.text == "Заказ №3: подтверждён"
    assert shown.entities == [{"type": "bold", "offset": 6, "length": 2}]
    assert emulator.buttons(shown) == [["Подтвердить"], ["📜 История", "Сайт"]]
    assert shown.reply_markup == KEYBOARD.model_dump(exclude_none=True)


async def test_a_card_edit_is_checked_but_its_message_not_parsed(card_chat):
    emulator, user, bot, card = card_chat
    confirmed = "Заказ <b>№3</b>: подтверждён"
    # when a card is edited: Telegram answers with the message, the bot says True
    done = await bot(
        EditCardText(
            chat_id=user.id, message_id=card.message_id, text=confirmed, reply_markup=KEYBOARD
        )
    )
    assert done is True
    assert emulator.last(user).text == "Заказ №3: подтверждён"
    # an edit that changes nothing, and one of a message that is not there, still raise
    # what Telegram said, as for any call
    for message_id, said in (
        (card.message_id, "message is not modified"),
        (card.message_id + 100, "message to edit not found"),
    ):
        with pytest.raises(TelegramBadRequest, match=said):
            await edit_card(bot, user.id, message_id, confirmed, KEYBOARD)
    # and a call that is not marked still hands back the parsed message
    edited = await bot.edit_message_text(
        "Заказ <b>№3</b>: оплачен", chat_id=user.id, message_id=card.message_id
    )
    assert isinstance(edited, Message) and edited.text == "Заказ №3: оплачен"


async def test_polled_updates_are_aiograms_own_models_parsed_a_few_at_a_time(
    card_chat, monkeypatch
):
    emulator, user, bot, _card = card_chat
    emulator.world.pending.clear()  # the /start
    taps = 20
    for _ in range(taps):
        emulator.tap(user, emulator.last(user), text="Подтвердить")
    emulator.send(user, "/my")
    stock = Bot("123:x", session=AiohttpSession(api=bot.session.api))
    try:
        # what aiogram makes of the same answer in one go (offset 0 confirms nothing)
        expected = await stock(GetUpdates(offset=0, timeout=0))
    finally:
        await stock.session.close()

    # when the bot polls, another task on the loop counts the updates made so far
    made = 0
    seen_between: list[int] = []
    validate = Update.model_validate

    def counting(*args, **kwargs):
        nonlocal made
        made += 1
        return validate(*args, **kwargs)

    async def watch() -> None:
        while True:
            seen_between.append(made)
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    monkeypatch.setattr(Update, "model_validate", counting)
    try:
        updates = await bot(GetUpdates(offset=0, timeout=0))
    finally:
        watcher.cancel()

    # then the same updates as aiogram's, bound to the bot, and the loop ran other work
    # between them: part-way through, not only before the first and after the last
    assert [u.model_dump() for u in updates] == [u.model_dump() for u in expected]
    assert len(updates) == taps + 1 and updates[-1].message.text == "/my"
    assert updates[0].callback_query.bot is bot
    assert any(0 < count < len(updates) for count in seen_between)


async def test_a_refused_poll_raises_what_telegram_said(card_chat):
    _emulator, _user, bot, _card = card_chat
    await bot.set_webhook("https://bot.example.com/hook")
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot(GetUpdates(offset=0, timeout=0))
