"""sendInvoice in the emulator: Telegram's checks and texts, over plain HTTP and through aiogram."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice

from bot.sandbox import TelegramEmulator
from tests.sandbox.conftest import TOKEN

PROVIDER_TOKEN = "381764678:TEST:100500"  # the shape of @BotFather's test tokens


@pytest.fixture
async def http(telegram: TelegramEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=telegram.url) as session:
        yield session


async def call(http: aiohttp.ClientSession, method: str, **params: Any) -> tuple[int, Any]:
    async with http.post(f"/bot{TOKEN}/{method}", json=params) as response:
        return response.status, await response.json()


def invoice(chat_id: int, **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "chat_id": chat_id,
        "title": "Order A-1042",
        "description": "Two mugs, hand-made",
        "payload": "order:1042",
        "provider_token": PROVIDER_TOKEN,
        "currency": "RUB",
        "prices": json.dumps([{"label": "Mugs", "amount": 150000}]),
    }
    fields.update(changes)
    return {key: value for key, value in fields.items() if value is not None}


@pytest.fixture
def ivan_id(telegram: TelegramEmulator) -> int:
    ivan = telegram.user("Ivan")
    telegram.start_bot(ivan)
    return ivan.id


async def test_an_invoice_message_carries_the_invoice_and_a_pay_button(
    telegram: TelegramEmulator, http: aiohttp.ClientSession, ivan_id: int
) -> None:
    # when
    status, answer = await call(http, "sendInvoice", **invoice(ivan_id))
    # then
    assert status == 200
    message = answer["result"]
    assert message["invoice"] == {
        "title": "Order A-1042",
        "description": "Two mugs, hand-made",
        "start_parameter": "",
        "currency": "RUB",
        "total_amount": 150000,
    }
    # No keyboard given: Telegram attaches its one "Pay <total>" button.
    assert message["reply_markup"] == {
        "inline_keyboard": [[{"text": "Pay 1500.00 RUB", "pay": True}]]
    }
    assert "text" not in message
    assert telegram.transcript(ivan_id).splitlines()[-2:] == [
        "[12:00] Bot: [invoice Order A-1042: 1500.00 RUB] Two mugs, hand-made",
        "   [Pay 1500.00 RUB]",
    ]


async def test_a_keyboard_of_the_bots_keeps_its_pay_button_first(
    telegram: TelegramEmulator, bot: Bot, ivan_id: int
) -> None:
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text="Pay now", pay=True)],
            [InlineKeyboardButton(text="Terms", url="https://shop.example/terms")],
        ]
    )

    sent = await bot.send_invoice(
        ivan_id,
        title="Order A-1042",
        description="Two mugs",
        payload="order:1042",
        provider_token=PROVIDER_TOKEN,
        currency="RUB",
        prices=[LabeledPrice(label="Mugs", amount=150000), LabeledPrice(label="Box", amount=-5000)],
        reply_markup=keyboard,
    )

    assert sent.invoice is not None and sent.invoice.total_amount == 145000
    assert telegram.buttons(telegram.last(ivan_id)) == [["Pay now"], ["Terms"]]


async def test_stars_need_no_provider(
    telegram: TelegramEmulator, http: aiohttp.ClientSession, ivan_id: int
) -> None:
    prices = json.dumps([{"label": "Access", "amount": 250}])

    status, answer = await call(
        http, "sendInvoice", **invoice(ivan_id, currency="XTR", provider_token="", prices=prices)
    )

    assert status == 200
    assert answer["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Pay 250 XTR"


LONG_CYRILLIC = "з" * 65  # 65 characters, 130 bytes


@pytest.mark.parametrize(
    ("changes", "description"),
    [
        ({"title": None}, 'parameter "title" is required'),
        ({"description": ""}, 'parameter "description" is required'),
        ({"payload": None}, 'parameter "payload" is required'),
        ({"currency": None}, 'parameter "currency" is required'),
        ({"prices": None}, 'parameter "prices" is required'),
        ({"prices": "[{"}, "can't parse prices JSON object"),
        ({"prices": '{"label": "Mugs", "amount": 1}'}, "expected an Array of labeled prices"),
        ({"prices": "[]"}, "there must be at least one price"),
        ({"prices": '["Mugs"]'}, "can't parse labeled price: LabeledPrice must be an Object"),
        ({"prices": '[{"amount": 100}]'}, "can't parse labeled price: Can't find field \"label\""),
        (
            {"prices": '[{"label": "", "amount": 100}]'},
            "can't parse labeled price: LabeledPrice label must be non-empty",
        ),
        (
            {"prices": '[{"label": "Mugs"}]'},
            "can't parse labeled price: Can't find field \"amount\"",
        ),
        (
            {"prices": '[{"label": "Mugs", "amount": 1.5}]'},
            'can\'t parse labeled price: Field "amount" must be a valid Number',
        ),
        (
            {"prices": '[{"label": "Mugs", "amount": null}]'},
            'can\'t parse labeled price: Field "amount" must be a Number',
        ),
        (
            {"prices": '[{"label": "Mugs", "amount": 100}, {"label": "Gift", "amount": -100}]'},
            "total price must be positive",
        ),
        (
            {"prices": '[{"label": "Mugs", "amount": 1000000000000}]'},
            "too big amount of the currency specified",
        ),
        ({"max_tip_amount": "lots"}, 'can\'t parse "max_tip_amount" as Number'),
        (
            {"max_tip_amount": 1000, "suggested_tip_amounts": "[500, 2000]"},
            "suggested tip amount can't be bigger than max_tip_amount",
        ),
        ({"title": "Т" * 33}, "TITLE_INVALID"),
        ({"description": "d" * 256}, "DESCRIPTION_INVALID"),
        ({"payload": LONG_CYRILLIC}, "INVOICE_PAYLOAD_INVALID"),  # bytes count, not characters
        ({"currency": "rub"}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"currency": "RUBL"}, "CURRENCY_TOTAL_AMOUNT_INVALID"),
        ({"provider_token": None}, "PAYMENT_PROVIDER_INVALID"),
        ({"currency": "XTR"}, "PAYMENT_PROVIDER_INVALID"),  # Stars with a provider token
        (
            {
                "currency": "XTR",
                "provider_token": "",
                "prices": '[{"label": "A", "amount": 1}, {"label": "B", "amount": 1}]',
            },
            "STARS_INVOICE_INVALID",
        ),
        (
            {"reply_markup": {"inline_keyboard": [[{"text": "Cancel", "callback_data": "no"}]]}},
            "REPLY_MARKUP_BUY_EMPTY",
        ),
        (
            {
                "reply_markup": {
                    "inline_keyboard": [
                        [{"text": "Site", "url": "https://shop.example"}],
                        [{"text": "Pay", "pay": True}],
                    ]
                }
            },
            "REPLY_MARKUP_BUY_EMPTY",
        ),
        (
            {
                "reply_markup": {
                    "inline_keyboard": [
                        [{"text": "Pay", "pay": True}, {"text": "Pay", "pay": True}]
                    ]
                }
            },
            "BUTTON_POS_INVALID",
        ),
    ],
)
async def test_invoices_telegram_refuses(
    telegram: TelegramEmulator,
    http: aiohttp.ClientSession,
    ivan_id: int,
    changes: dict[str, Any],
    description: str,
) -> None:
    # when
    status, answer = await call(http, "sendInvoice", **invoice(ivan_id, **changes))
    # then
    assert (status, answer) == (
        400,
        {"ok": False, "error_code": 400, "description": f"Bad Request: {description}"},
    )
    assert telegram.messages(ivan_id)[-1].invoice is None  # nothing was posted


async def test_the_limits_themselves_are_allowed(http: aiohttp.ClientSession, ivan_id: int) -> None:
    changes = {"title": "Т" * 32, "description": "d" * 255, "payload": "з" * 64}

    status, _ = await call(http, "sendInvoice", **invoice(ivan_id, **changes))

    assert status == 200


async def test_an_invoice_to_someone_who_never_started_the_bot(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    stranger = telegram.user("Stranger")

    with pytest.raises(Exception, match="bot can't initiate conversation with a user"):
        await bot.send_invoice(
            stranger.id,
            title="Order",
            description="Mugs",
            payload="order:1",
            provider_token=PROVIDER_TOKEN,
            currency="RUB",
            prices=[LabeledPrice(label="Mugs", amount=100)],
        )


async def test_answering_a_pre_checkout_query_nobody_asked(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest) as unknown:
        await bot.answer_pre_checkout_query("6000000000000000042", ok=True)
    with pytest.raises(TelegramBadRequest) as no_reason:
        await bot.answer_pre_checkout_query("6000000000000000042", ok=False)

    assert unknown.value.message == (
        "Bad Request: query is too old and response timeout expired or query ID is invalid"
    )
    assert no_reason.value.message == 'Bad Request: parameter "error_message" is required'


async def test_an_invoice_cannot_be_copied(
    telegram: TelegramEmulator, http: aiohttp.ClientSession, ivan_id: int
) -> None:
    _, sent = await call(http, "sendInvoice", **invoice(ivan_id))

    status, answer = await call(
        http,
        "copyMessage",
        chat_id=ivan_id,
        from_chat_id=ivan_id,
        message_id=sent["result"]["message_id"],
    )

    assert (status, answer["description"]) == (400, "Bad Request: message can't be copied")
