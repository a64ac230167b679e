"""/settings -> "💳 Payments": how buyers pay, per language, and the Telegram Payments token.

The instructions are the shop's own words (a card number, a bank, a phone for transfers) shown
in "How to pay", the awaiting-payment message and the e-mail, with the bank details of the
payment slip below them. The provider token is sealed by the service and never shown back:
the screen says only whether it is set, and the message that carried it is deleted.
"""

from __future__ import annotations

import contextlib
from enum import StrEnum
from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.document_callbacks import DocAct, DocCB
from handlers.telegram.format import esc
from handlers.telegram.language import NATIVE_NAMES as LANGUAGE_NAMES
from handlers.telegram.onboarding import TYPED
from services.payments.settings import PaymentSettings, PaymentSetup
from services.refusals import Reason, Refused
from services.shops.users import Person
from services.vocabulary import LANGUAGES

CLEAR = "-"  # typed to remove a value
if TYPE_CHECKING:
    from bot.settings import Settings

PREVIEW = 300  # characters of each language's instructions on the screen


class PayAct(StrEnum):
    MENU = "m"  # the payments screen
    TEXT = "t"  # type the instructions in language `lang`
    TOKEN = "k"  # type the Telegram Payments provider token
    YOOKASSA = "y"  # type the YooKassa shop id and secret key


class PayCB(CallbackData, prefix="pay"):
    act: PayAct
    shop: int
    lang: str = ""


class PaymentEdit(StatesGroup):
    instructions = State()  # typing the instructions in one language
    token = State()  # typing the provider token
    yookassa = State()  # typing the YooKassa shop id and secret key


def payments_button(shop_id: int) -> InlineKeyboardButton:
    """The settings menu's way in."""
    return InlineKeyboardButton(
        text=_("💳 Payments"), callback_data=PayCB(act=PayAct.MENU, shop=shop_id).pack()
    )


def payments_screen(setup: PaymentSetup) -> tuple[str, InlineKeyboardMarkup]:
    shop_id = setup.shop_id
    lines = [_("💳 <b>Payments</b>"), ""]
    for language in LANGUAGES:
        text = setup.instructions.get(language)
        shown = esc(text[:PREVIEW] + ("…" if len(text) > PREVIEW else "")) if text else _("not set")
        lines.append(
            _("<b>How to pay ({language}):</b> {text}").format(
                language=LANGUAGE_NAMES[language], text=shown
            )
        )
    bank = "\n".join(esc(line) for line in setup.bank) if setup.bank else _("not set")
    lines += ["", _("<b>Bank details</b> (as on the payment slip):\n{bank}").format(bank=bank)]
    lines.append(
        _("<b>Telegram Payments:</b> {state}").format(
            state=_("on") if setup.telegram_payments else _("off")
        )
    )
    lines.append(
        _("<b>YooKassa:</b> {state}").format(state=_("on") if setup.yookassa else _("off"))
    )
    builder = InlineKeyboardBuilder()
    for language in LANGUAGES:
        builder.button(
            text=f"✏️ {LANGUAGE_NAMES[language]}",
            callback_data=PayCB(act=PayAct.TEXT, shop=shop_id, lang=language).pack(),
        )
    builder.adjust(3)
    builder.row(
        InlineKeyboardButton(
            text=_("🏦 Bank details"), callback_data=DocCB(act=DocAct.BANK, shop=shop_id).pack()
        ),
        InlineKeyboardButton(
            text=_("🔌 Telegram Payments"),
            callback_data=PayCB(act=PayAct.TOKEN, shop=shop_id).pack(),
        ),
    )
    builder.row(
        InlineKeyboardButton(
            text=_("🔌 YooKassa"), callback_data=PayCB(act=PayAct.YOOKASSA, shop=shop_id).pack()
        )
    )
    builder.row(_settings_button(shop_id))
    return "\n".join(lines), builder.as_markup()


async def show_payments(
    query: CallbackQuery,
    callback_data: PayCB,
    user: Person,
    payment_settings: PaymentSettings,
    state: FSMContext,
) -> None:
    await state.clear()
    setup = await payment_settings.get(callback_data.shop, user.id)
    text, markup = payments_screen(setup)
    await query.message.edit_text(text, reply_markup=markup)


async def ask_instructions(
    query: CallbackQuery,
    callback_data: PayCB,
    user: Person,
    payment_settings: PaymentSettings,
    state: FSMContext,
) -> None:
    if callback_data.lang not in LANGUAGES:
        raise Refused(Reason.INVALID, "no such language", {"field": "language"})
    setup = await payment_settings.get(callback_data.shop, user.id)  # owners and admins only
    await state.set_state(PaymentEdit.instructions)
    await state.update_data(shop_id=setup.shop_id, language=callback_data.lang)
    text = _(
        "Type how buyers pay, in {language}: a card or account number, a phone for "
        "transfers, what to write in the payment's purpose. Send {clear} to remove it."
    ).format(language=LANGUAGE_NAMES[callback_data.lang], clear=CLEAR)
    await query.message.edit_text(text, reply_markup=_back(setup.shop_id))


async def ask_token(
    query: CallbackQuery,
    callback_data: PayCB,
    user: Person,
    payment_settings: PaymentSettings,
    state: FSMContext,
) -> None:
    setup = await payment_settings.get(callback_data.shop, user.id)
    await state.set_state(PaymentEdit.token)
    await state.update_data(shop_id=setup.shop_id)
    text = _(
        "Send the payment provider token from @BotFather (your bot → Payments). Buyers then "
        "get a «Pay» button. Send {clear} to turn Telegram Payments off."
    ).format(clear=CLEAR)
    await query.message.edit_text(text, reply_markup=_back(setup.shop_id))


async def ask_yookassa(
    query: CallbackQuery,
    callback_data: PayCB,
    user: Person,
    payment_settings: PaymentSettings,
    state: FSMContext,
    settings: Settings,
) -> None:
    setup = await payment_settings.get(callback_data.shop, user.id)
    await state.set_state(PaymentEdit.yookassa)
    await state.update_data(shop_id=setup.shop_id)
    text = _(
        "Send your YooKassa shop id and secret key, separated by a space. In YooKassa's "
        "account, set the HTTP notifications URL to {url} (payment.succeeded, "
        "payment.canceled). Send {clear} to turn YooKassa off."
    ).format(url=f"{settings.public_url}/payments/yookassa/{setup.shop_id}", clear=CLEAR)
    await query.message.edit_text(text, reply_markup=_back(setup.shop_id))


async def yookassa_typed(
    message: Message, user: Person, payment_settings: PaymentSettings, state: FSMContext
) -> None:
    data = await state.get_data()
    text = message.text.strip()
    with contextlib.suppress(TelegramAPIError):
        await message.delete()  # the secret key does not stay in the chat's history
    await _save(
        message,
        state,
        data["shop_id"],
        payment_settings.set_yookassa(data["shop_id"], user.id, "" if text == CLEAR else text),
    )


async def instructions_typed(
    message: Message, user: Person, payment_settings: PaymentSettings, state: FSMContext
) -> None:
    data = await state.get_data()
    text = message.text.strip()
    if text == CLEAR:
        text = ""
    await _save(
        message,
        state,
        data["shop_id"],
        payment_settings.set_instructions(data["shop_id"], user.id, data["language"], text),
    )


async def token_typed(
    message: Message, user: Person, payment_settings: PaymentSettings, state: FSMContext
) -> None:
    data = await state.get_data()
    token = message.text.strip()
    if token == CLEAR:
        token = ""
    with contextlib.suppress(TelegramAPIError):
        await message.delete()  # a secret does not stay in the chat's history
    await _save(
        message,
        state,
        data["shop_id"],
        payment_settings.set_telegram_token(data["shop_id"], user.id, token),
    )


async def _save(message: Message, state: FSMContext, shop_id: int, saving) -> None:
    try:
        setup = await saving
    except Refused as refusal:
        if refusal.code is not Reason.INVALID:
            await state.clear()
            raise
        await message.answer(
            _("Not saved: {problem}.").format(problem=esc(refusal.message)),
            reply_markup=_back(shop_id),
        )
        return
    await state.clear()
    text, markup = payments_screen(setup)
    await message.answer(_("Saved."))
    await message.answer(text, reply_markup=markup)


def _back(shop_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("↩️ Back"), callback_data=PayCB(act=PayAct.MENU, shop=shop_id).pack()
                )
            ]
        ]
    )


def _settings_button(shop_id: int) -> InlineKeyboardButton:
    from handlers.telegram.shop_settings import SettingsAct, SettingsCB

    return InlineKeyboardButton(
        text=_("↩️ Settings"), callback_data=SettingsCB(act=SettingsAct.MENU, shop=shop_id).pack()
    )


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(show_payments, PayCB.filter(F.act == PayAct.MENU))
    router.callback_query.register(ask_instructions, PayCB.filter(F.act == PayAct.TEXT))
    router.callback_query.register(ask_token, PayCB.filter(F.act == PayAct.TOKEN))
    router.message.register(instructions_typed, PaymentEdit.instructions, TYPED)
    router.message.register(token_typed, PaymentEdit.token, TYPED)
    router.callback_query.register(ask_yookassa, PayCB.filter(F.act == PayAct.YOOKASSA))
    router.message.register(yookassa_typed, PaymentEdit.yookassa, TYPED)
    return router
