"""Paying an invoice in the emulator: a tiny aiogram shop bot answers the pre-checkout query.

Telegram's 10 seconds for the answer are a sleep the test owns (`Deadline`): it is over when
the test says so, and nothing here waits for real time to pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import LabeledPrice, Message, PreCheckoutQuery

from bot.sandbox import FloodLimits, SandboxError, SandboxMessage, SandboxUser, TelegramEmulator
from services.time.clock import FrozenClock
from tests.sandbox.conftest import BOT_ID, RunBot

PROVIDER_TOKEN = "381764678:TEST:100500"
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"


class Deadline:
    """Telegram's time limit as a sleep that ends only when the test calls `expire()`."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self._over = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        self.asked.append(seconds)
        await self._over.wait()

    def expire(self) -> None:
        self._over.set()


@pytest.fixture
def deadline() -> Deadline:
    return Deadline()


@pytest.fixture
async def telegram(  # replaces conftest's: the same emulator, with the test's deadline
    clock: FrozenClock, flood_limits: FloodLimits, deadline: Deadline
) -> AsyncIterator[TelegramEmulator]:
    async with TelegramEmulator(clock=clock, flood=flood_limits, sleep=deadline.sleep) as emulator:
        yield emulator


class Shop:
    """What the bot saw and did, for the assertions."""

    def __init__(self) -> None:
        self.queries: list[PreCheckoutQuery] = []
        self.payments: list[Message] = []
        self.errors: list[str] = []


def shop_dispatcher(shop: Shop, decide: Callable[[PreCheckoutQuery], Any]) -> Dispatcher:
    """A tiny shop: `decide(query)` answers each pre-checkout query (or not), and a successful
    payment is thanked for."""
    router = Router()

    @router.pre_checkout_query()
    async def pre_checkout(query: PreCheckoutQuery) -> None:
        shop.queries.append(query)
        await decide(query)

    @router.message(F.successful_payment)
    async def paid(message: Message) -> None:
        shop.payments.append(message)
        await message.answer("Thank you, your order is paid")

    dispatcher = Dispatcher()
    dispatcher.include_router(router)
    return dispatcher


async def accept(query: PreCheckoutQuery) -> None:
    await query.answer(ok=True)


async def send_invoice(telegram: TelegramEmulator, bot: Bot, chat_id: int, **extra: Any) -> Any:
    await bot.send_invoice(
        chat_id,
        title="Order A-1042",
        description="Two mugs",
        payload="order:1042",
        provider_token=PROVIDER_TOKEN,
        currency="RUB",
        prices=[LabeledPrice(label="Mugs", amount=150000)],
        **extra,
    )
    return telegram.last(chat_id)


async def started_user(telegram: TelegramEmulator, name: str = "Ivan") -> SandboxUser:
    user = telegram.user(name)
    telegram.start_bot(user)
    await telegram.wait_processed()
    return user


async def until(telegram: TelegramEmulator, condition: Callable[[], bool]) -> None:
    """Until `condition` holds; woken by every change in the emulator, never by a timer."""
    async with asyncio.timeout(5):
        while not condition():
            await telegram.world.wait_change(5)


# --- paying -----------------------------------------------------------------------------------


async def test_a_paid_invoice_reaches_the_bot_as_a_successful_payment(
    telegram: TelegramEmulator, bot: Bot, run_bot: RunBot, deadline: Deadline
) -> None:
    # given a shop bot that accepts every order, and an invoice in Ivan's chat
    shop = Shop()
    await run_bot(shop_dispatcher(shop, accept))
    ivan = await started_user(telegram)
    invoice = await send_invoice(telegram, bot, ivan.id)
    # when Ivan pays
    result = await telegram.pay(ivan, invoice)
    await telegram.wait_processed()
    # then the bot was asked first, with what Telegram sends
    [query] = shop.queries
    assert (query.from_user.id, query.currency, query.total_amount, query.invoice_payload) == (
        ivan.id,
        "RUB",
        150000,
        "order:1042",
    )
    assert query.order_info is None
    assert result.status == "paid" and result.paid
    assert result.pre_checkout_query_id == query.id
    assert deadline.asked == [10.0]  # Telegram's limit for the answer
    # and the payment came as a message from Ivan
    [payment_message] = shop.payments
    payment = payment_message.successful_payment
    assert payment is not None
    assert (payment.currency, payment.total_amount, payment.invoice_payload) == (
        "RUB",
        150000,
        "order:1042",
    )
    assert payment.telegram_payment_charge_id == f"{BOT_ID}_{ivan.id}_1"
    assert payment.provider_payment_charge_id == "sandbox-00000001"
    assert payment_message.from_user is not None and payment_message.from_user.id == ivan.id
    assert result.message is not None and result.message.successful_payment is not None
    assert invoice.invoice.paid_by is ivan
    assert telegram.transcript(ivan).splitlines()[1:] == [
        "[12:00] Bot: [invoice Order A-1042: 1500.00 RUB] Two mugs",
        "   [Pay 1500.00 RUB]",
        "   (paid by Ivan)",
        "[12:00] Ivan paid 1500.00 RUB for Order A-1042",
        "[12:00] Bot: Thank you, your order is paid",
    ]


async def test_a_refused_checkout_shows_the_bots_reason_and_charges_nothing(
    telegram: TelegramEmulator, bot: Bot, run_bot: RunBot
) -> None:
    # given a shop that has run out of mugs
    async def sold_out(query: PreCheckoutQuery) -> None:
        await query.answer(ok=False, error_message="Sorry, the mugs are sold out")

    shop = Shop()
    await run_bot(shop_dispatcher(shop, sold_out))
    ivan = await started_user(telegram)
    invoice = await send_invoice(telegram, bot, ivan.id)
    # when
    result = await telegram.pay(ivan, invoice)
    await telegram.wait_processed()
    # then
    assert (result.status, result.error_message) == ("refused", "Sorry, the mugs are sold out")
    assert result.message is None and not result.paid
    assert shop.payments == []
    assert all(m.successful_payment is None for m in telegram.messages(ivan))
    assert invoice.invoice.paid_by is None
    assert telegram.transcript(ivan).splitlines()[-1] == (
        "   (Ivan's payment refused: Sorry, the mugs are sold out)"
    )


async def test_no_answer_in_time_fails_the_payment_and_a_late_answer_is_refused(
    telegram: TelegramEmulator, bot: Bot, run_bot: RunBot, deadline: Deadline
) -> None:
    # given a bot that sees the query but does not answer it
    async def forget(query: PreCheckoutQuery) -> None:
        return None

    shop = Shop()
    await run_bot(shop_dispatcher(shop, forget))
    ivan = await started_user(telegram)
    invoice = await send_invoice(telegram, bot, ivan.id)
    # when Ivan pays, the bot handles the query, and Telegram's 10 seconds pass
    paying = asyncio.create_task(telegram.pay(ivan, invoice))
    await until(telegram, lambda: len(shop.queries) == 1)
    await telegram.wait_processed()
    deadline.expire()
    result = await paying
    # then nothing was paid
    assert result.status == "timeout"
    assert result.error_message == "the bot did not answer the pre-checkout query within 10 s"
    assert invoice.invoice.paid_by is None
    assert all(m.successful_payment is None for m in telegram.messages(ivan))
    assert telegram.transcript(ivan).splitlines()[-1] == (
        "   (Ivan's payment failed: the bot did not answer the pre-checkout query within 10 s)"
    )
    # and an answer after the time limit is refused as Telegram does
    with pytest.raises(TelegramBadRequest) as late:
        await bot.answer_pre_checkout_query(shop.queries[0].id, ok=True)
    assert late.value.message == QUERY_TOO_OLD


async def test_a_second_answer_to_the_same_query_is_refused(
    telegram: TelegramEmulator, bot: Bot, run_bot: RunBot
) -> None:
    # given a bot that answers twice
    shop = Shop()

    async def twice(query: PreCheckoutQuery) -> None:
        await query.answer(ok=True)
        try:
            await query.answer(ok=False, error_message="changed my mind")
        except TelegramBadRequest as error:
            shop.errors.append(error.message)

    await run_bot(shop_dispatcher(shop, twice))
    ivan = await started_user(telegram)
    invoice = await send_invoice(telegram, bot, ivan.id)
    # when
    result = await telegram.pay(ivan, invoice)
    await telegram.wait_processed()
    # then the first answer stands
    assert shop.errors == [QUERY_TOO_OLD]
    assert result.paid
    assert len(shop.payments) == 1


async def test_an_invoice_is_paid_once(
    telegram: TelegramEmulator, bot: Bot, run_bot: RunBot
) -> None:
    await run_bot(shop_dispatcher(Shop(), accept))
    ivan = await started_user(telegram)
    invoice = await send_invoice(telegram, bot, ivan.id)
    await telegram.pay(ivan, invoice)

    with pytest.raises(SandboxError, match="was paid by Ivan"):
        await telegram.pay(ivan, invoice)


async def test_only_invoices_can_be_paid(telegram: TelegramEmulator, bot: Bot) -> None:
    ivan = telegram.user("Ivan")
    telegram.start_bot(ivan)
    await bot.send_message(ivan.id, "Your order is ready")

    with pytest.raises(SandboxError, match="is not an invoice from the bot"):
        await telegram.pay(ivan, telegram.last(ivan))


async def test_the_payer_fills_in_what_the_invoice_asks_for(
    telegram: TelegramEmulator, bot: Bot, run_bot: RunBot
) -> None:
    # given an invoice that asks for a name and an e-mail
    shop = Shop()
    await run_bot(shop_dispatcher(shop, accept))
    ivan = await started_user(telegram)
    invoice = await send_invoice(telegram, bot, ivan.id, need_name=True, need_email=True)
    # when Ivan pays without them, then with them (and with a phone nobody asked for)
    with pytest.raises(SandboxError, match="asks the payer for name, email"):
        await telegram.pay(ivan, invoice)
    info = {"name": "Ivan Petrov", "email": "ivan@example.com", "phone_number": "+79990001122"}
    await telegram.pay(ivan, invoice, order_info=info)
    await telegram.wait_processed()
    # then the bot gets exactly what it asked for, in the query and in the payment
    wanted = {"name": "Ivan Petrov", "email": "ivan@example.com"}
    [query] = shop.queries
    assert query.order_info is not None
    assert query.order_info.model_dump(exclude_none=True) == wanted
    payment = shop.payments[0].successful_payment
    assert payment is not None and payment.order_info is not None
    assert payment.order_info.model_dump(exclude_none=True) == wanted


async def test_an_invoice_in_a_group_is_paid_from_the_payers_own_chat(
    telegram: TelegramEmulator, bot: Bot, run_bot: RunBot
) -> None:
    # given an invoice posted in a group
    shop = Shop()
    await run_bot(shop_dispatcher(shop, accept))
    olga = telegram.user("Olga")
    group = telegram.group("Mug lovers", olga)
    telegram.add_bot_to_group(group, olga)
    await telegram.wait_processed()
    invoice = await send_invoice(telegram, bot, group.id)
    # when Olga pays it
    result = await telegram.pay(olga, invoice)
    await telegram.wait_processed()
    # then the payment comes from Olga's private chat with the bot
    assert result.message is not None and result.message.chat is telegram.chat(olga)
    [payment] = shop.payments
    assert payment.chat.id == olga.id
    assert "(paid by Olga)" in telegram.transcript(group)


# --- the control API --------------------------------------------------------------------------


@pytest.fixture
async def http(telegram: TelegramEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=telegram.url) as session:
        yield session


async def pay_over_http(http: aiohttp.ClientSession, body: dict[str, Any]) -> tuple[int, Any]:
    async with http.post("/sandbox/pay", json=body) as response:
        return response.status, await response.json()


async def test_paying_over_http(
    telegram: TelegramEmulator, bot: Bot, run_bot: RunBot, http: aiohttp.ClientSession
) -> None:
    # given
    await run_bot(shop_dispatcher(Shop(), accept))
    ivan = await started_user(telegram)
    invoice: SandboxMessage = await send_invoice(telegram, bot, ivan.id)
    # when
    status, answer = await pay_over_http(
        http, {"user_id": ivan.id, "message_id": invoice.message_id}
    )
    # then
    assert status == 200
    assert answer["status"] == "paid"
    assert answer["message"]["successful_payment"] == {
        "currency": "RUB",
        "total_amount": 150000,
        "invoice_payload": "order:1042",
        "telegram_payment_charge_id": f"{BOT_ID}_{ivan.id}_1",
        "provider_payment_charge_id": "sandbox-00000001",
    }
    assert answer["message"]["from"]["id"] == ivan.id
    # and paying again is a mistake the control API explains
    status, again = await pay_over_http(
        http, {"user_id": ivan.id, "message_id": invoice.message_id}
    )
    assert (status, again) == (
        400,
        {"error": f"the invoice in message #{invoice.message_id} in Ivan was paid by Ivan"},
    )


async def test_a_refusal_over_http(
    telegram: TelegramEmulator, bot: Bot, run_bot: RunBot, http: aiohttp.ClientSession
) -> None:
    async def closed(query: PreCheckoutQuery) -> None:
        await query.answer(ok=False, error_message="The shop is closed")

    await run_bot(shop_dispatcher(Shop(), closed))
    ivan = await started_user(telegram)
    invoice = await send_invoice(telegram, bot, ivan.id)

    status, answer = await pay_over_http(
        http, {"user_id": ivan.id, "message_id": invoice.message_id}
    )

    assert status == 200
    assert (answer["status"], answer["error_message"]) == ("refused", "The shop is closed")
    assert "message" not in answer
