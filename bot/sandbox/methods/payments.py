"""Telegram Payments: sendInvoice and answerPreCheckoutQuery.

Checks run in the order Telegram's own layers run them, with their texts: the Bot API server
(telegram-bot-api: required parameters, the prices JSON), then TDLib (price parts, tips), then
Telegram's servers (MTProto errors such as PAYMENT_PROVIDER_INVALID, passed through as they
are). The first letter of a TDLib text is lower-cased by the Bot API server, as here. Telegram
documents the title, description and payload limits but not what it answers for an over-long
title or description; those two texts (TITLE_INVALID, DESCRIPTION_INVALID) are the emulator's.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bot.sandbox import errors
from bot.sandbox.errors import ApiError, bad_request
from bot.sandbox.invoices import STARS, LabeledPrice, PreCheckoutAnswer, SandboxInvoice, money
from bot.sandbox.methods.context import Context, Handler, post, writable_chat
from bot.sandbox.params import Params
from bot.sandbox.rules import check_reply_markup

JsonDict = dict[str, Any]

MAX_TITLE = 32  # characters
MAX_DESCRIPTION = 255  # characters
MAX_PAYLOAD = 128  # bytes
MAX_AMOUNT = 9999_9999_9999  # TDLib's check_currency_amount, per price part and in total
MAX_SUGGESTED_TIPS = 4
CURRENCY = re.compile(r"[A-Z]{3}")
# ISO 4217 codes Telegram's currencies.json lists (Stars as XTR); an unknown code has no limits
# to pass, which Telegram reports as the total being invalid.
CURRENCIES = frozenset(
    (
        "AED AFN ALL AMD ARS AUD AZN BAM BDT BGN BHD BND BOB BRL BYN CAD CHF CLP CNY COP CRC CZK "
        "DKK DOP DZD EGP ETB EUR GBP GEL GHS GTQ HKD HNL HRK HUF IDR ILS INR IQD ISK JMD JOD JPY "
        "KES KGS KRW KWD KZT LBP LKR MAD MDL MMK MNT MOP MUR MVR MXN MYR MZN NGN NIO NOK NPR NZD "
        "OMR PAB PEN PHP PKR PLN PYG QAR RON RSD RUB SAR SEK SGD TJS THB TND TRY TTD TWD TZS UAH "
        "UGX USD UYU UZS VND YER ZAR XTR"
    ).split()
)


async def send_invoice(ctx: Context, params: Params) -> JsonDict:
    invoice = read_invoice(params)
    markup = _invoice_markup(params, invoice)
    chat = writable_chat(ctx.world, params)
    # The keyboard is already checked; post() reads reply_markup again, so hand it the result.
    values = {**params.values, "reply_markup": markup}
    return post(ctx, chat, Params(values), invoice=invoice).to_api()


def read_invoice(params: Params) -> SandboxInvoice:
    """The invoice a sendInvoice call describes, or the error Telegram answers."""
    title = _required(params, "title")
    description = _required(params, "description")
    payload = _required(params, "payload")
    provider_token = params.text("provider_token") or ""
    currency = _required(params, "currency")
    prices = _prices(_required(params, "prices"))
    max_tip, tips = _tips(params)
    # TDLib
    total = sum(price.amount for price in prices)
    if total <= 0:
        raise bad_request("total price must be positive")
    if total > MAX_AMOUNT:
        raise bad_request("total price is too big")
    if max_tip < 0 or max_tip > MAX_AMOUNT:
        raise bad_request("invalid max_tip_amount of the currency specified")
    if any(tip <= 0 for tip in tips):
        raise bad_request("suggested tip amount must be positive")
    if any(tip > max_tip for tip in tips):
        raise bad_request("suggested tip amount can't be bigger than max_tip_amount")
    if len(tips) > MAX_SUGGESTED_TIPS:
        raise bad_request("there can be at most 4 suggested tip amounts")
    # Telegram's servers
    if len(title) > MAX_TITLE:
        raise bad_request("TITLE_INVALID")
    if len(description) > MAX_DESCRIPTION:
        raise bad_request("DESCRIPTION_INVALID")
    if len(payload.encode()) > MAX_PAYLOAD:
        raise bad_request("INVOICE_PAYLOAD_INVALID")
    if not CURRENCY.fullmatch(currency) or currency not in CURRENCIES:
        raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
    # Stars need no provider; every other currency needs the token @BotFather gave.
    if (currency == STARS) == bool(provider_token):
        raise bad_request("PAYMENT_PROVIDER_INVALID")
    if currency == STARS and len(prices) != 1:
        raise bad_request("STARS_INVOICE_INVALID")  # "Must contain exactly one item" for Stars
    return SandboxInvoice(
        title=title,
        description=description,
        payload=payload,
        currency=currency,
        prices=prices,
        provider_token=provider_token,
        start_parameter=params.text("start_parameter") or "",
        max_tip_amount=max_tip,
        suggested_tip_amounts=tips,
        need_name=params.flag("need_name"),
        # Sending a field to the provider implies asking the payer for it (TDLib).
        need_phone_number=params.flag("need_phone_number")
        or params.flag("send_phone_number_to_provider"),
        need_email=params.flag("need_email") or params.flag("send_email_to_provider"),
        need_shipping_address=params.flag("need_shipping_address") or params.flag("is_flexible"),
        is_flexible=params.flag("is_flexible"),
    )


def _required(params: Params, name: str) -> str:
    value = params.text(name)
    if value is None:
        raise bad_request(f'parameter "{name}" is required')
    return value


def _prices(source: str) -> tuple[LabeledPrice, ...]:
    try:
        value = json.loads(source)
    except ValueError as error:
        raise bad_request("can't parse prices JSON object") from error
    if not isinstance(value, list):
        raise bad_request("expected an Array of labeled prices")
    prices = tuple(_price(item) for item in value)
    if not prices:
        raise bad_request("there must be at least one price")
    return prices


def _price(item: Any) -> LabeledPrice:
    def refuse(why: str) -> ApiError:
        return bad_request(f"can't parse labeled price: {why}")

    if not isinstance(item, dict):
        raise refuse("LabeledPrice must be an Object")
    if "label" not in item:
        raise refuse('Can\'t find field "label"')
    label = item["label"]
    if isinstance(label, int | float) and not isinstance(label, bool):
        label = str(label)  # TDLib takes a number where a string is wanted
    if not isinstance(label, str):
        raise refuse('Field "label" must be of type String')
    if not label:
        raise refuse("LabeledPrice label must be non-empty")
    if "amount" not in item:
        raise refuse('Can\'t find field "amount"')
    amount = _integer(item["amount"])
    if amount is None:
        raw = item["amount"]
        number = isinstance(raw, int | float | str) and not isinstance(raw, bool)
        raise refuse(f'Field "amount" must be a {"valid " if number else ""}Number')
    if abs(amount) > MAX_AMOUNT:
        raise bad_request("too big amount of the currency specified")
    return LabeledPrice(label, amount)


def _integer(value: Any) -> int | None:
    """An integer as TDLib reads one: a JSON number or a string of digits, nothing else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value):
        return int(value)
    return None  # 1.5, "1e3", null, objects


def _tips(params: Params) -> tuple[int, tuple[int, ...]]:
    max_tip = 0
    if "max_tip_amount" in params:
        parsed = _integer(params.get("max_tip_amount"))
        if parsed is None:
            raise bad_request('can\'t parse "max_tip_amount" as Number')
        max_tip = parsed
    tips = params.json_value(
        "suggested_tip_amounts", "can't parse suggested_tip_amounts JSON object"
    )
    if tips is None:
        return max_tip, ()
    if not isinstance(tips, list):
        raise bad_request("expected an Array of suggested tip amounts")
    amounts: list[int] = []
    for tip in tips:
        if isinstance(tip, bool) or not isinstance(tip, int | float | str):
            raise bad_request("suggested tip amount must be of type Number or String")
        parsed = _integer(tip)
        if parsed is None:
            raise bad_request("can't parse suggested tip amount as Number")
        amounts.append(parsed)
    return max_tip, tuple(amounts)


def _invoice_markup(params: Params, invoice: SandboxInvoice) -> JsonDict:
    """The invoice's inline keyboard: the bot's, whose first button must be the Pay button, or
    Telegram's own single "Pay <total>" button when the bot gives none."""
    markup = check_reply_markup(
        params.json_value("reply_markup", "can't parse reply keyboard markup JSON object")
    )
    if markup is None:
        pay = f"Pay {money(invoice.total_amount, invoice.currency)}"
        return {"inline_keyboard": [[{"text": pay, "pay": True}]]}
    if "inline_keyboard" not in markup:
        raise bad_request("inline keyboard expected")
    buttons = [button for row in markup["inline_keyboard"] for button in row]
    if not buttons or not buttons[0].get("pay"):
        raise bad_request("REPLY_MARKUP_BUY_EMPTY")
    if any(button.get("pay") for button in buttons[1:]):
        raise bad_request("BUTTON_POS_INVALID")  # a Pay button anywhere but first
    return markup


async def answer_pre_checkout_query(ctx: Context, params: Params) -> bool:
    ok = params.flag("ok")
    error_message = params.text("error_message")
    if not ok and error_message is None:
        raise bad_request('parameter "error_message" is required')
    query = ctx.world.pre_checkout_queries.get(params.text("pre_checkout_query_id") or "")
    # Answered already, too late, or never asked: Telegram's QUERY_ID_INVALID, which the Bot API
    # server words like the callback query's.
    if query is None or query.answer is not None or query.expired:
        raise bad_request(errors.QUERY_TOO_OLD)
    query.answer = PreCheckoutAnswer(ok, None if ok else error_message)
    query.answered.set()
    ctx.world.notify()
    return True


METHODS: dict[str, Handler] = {
    "sendInvoice": send_invoice,
    "answerPreCheckoutQuery": answer_pre_checkout_query,
}
