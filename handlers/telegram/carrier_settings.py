"""A shop's carrier accounts in /settings (issue 18): with them, shipped parcels are followed
at the carrier and orders move by themselves (services.deliveries).

Connecting asks for each credential the carrier's adapter needs, one message at a time;
every such message is deleted as soon as it is read, sealed while the next one is asked
for, and never shown back. Owners and admins only; callback data carries the shop's id
and the carrier's key only.
"""

from __future__ import annotations

import contextlib
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from handlers.telegram.format import esc
from handlers.telegram.onboarding import TYPED
from services.carriers.links import display_name
from services.deliveries.accounts import CarrierAccounts
from services.refusals import Reason, Refused

if TYPE_CHECKING:
    from services.shops.users import Person

Carrier = Annotated[str, Field(max_length=16)]


class CarrierAct(StrEnum):
    MENU = "m"
    CONNECT = "c"
    REMOVE = "d"


class CarriersCB(CallbackData, prefix="cr"):
    act: CarrierAct
    shop: int
    carrier: Carrier = ""


class CarrierEdit(StatesGroup):
    field = State()  # typing credential `index` of `carrier`


def carriers_button(shop_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("🚚 Carriers"),
        callback_data=CarriersCB(act=CarrierAct.MENU, shop=shop_id).pack(),
    )


def _back(shop_id: int) -> InlineKeyboardMarkup:
    button = InlineKeyboardButton(
        text=_("↩️ Back"), callback_data=CarriersCB(act=CarrierAct.MENU, shop=shop_id).pack()
    )
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


async def menu_screen(
    accounts: CarrierAccounts, shop_id: int, user_id: int, language: str
) -> tuple[str, InlineKeyboardMarkup]:
    connected = set(await accounts.connected(shop_id, user_id=user_id))
    lines = [
        _("🚚 <b>Carriers</b>"),
        _(
            "With the shop's account at a carrier, shipped parcels are followed and orders "
            "move by themselves: at the pickup point, received, refused."
        ),
        "",
    ]
    builder = InlineKeyboardBuilder()
    for carrier in accounts.carriers():
        name = display_name(carrier, language)
        if carrier in connected:
            lines.append(_("• {carrier}: connected").format(carrier=name))
            builder.button(
                text=f"🔁 {name}",
                callback_data=CarriersCB(act=CarrierAct.CONNECT, shop=shop_id, carrier=carrier),
            )
            builder.button(
                text=f"🗑 {name}",
                callback_data=CarriersCB(act=CarrierAct.REMOVE, shop=shop_id, carrier=carrier),
            )
        else:
            lines.append(_("• {carrier}: not connected").format(carrier=name))
            builder.button(
                text=f"➕ {name}",
                callback_data=CarriersCB(act=CarrierAct.CONNECT, shop=shop_id, carrier=carrier),
            )
    builder.adjust(2)
    from handlers.telegram.shop_settings import back_button

    builder.row(back_button(shop_id))
    return "\n".join(lines), builder.as_markup()


async def show_menu(
    query: CallbackQuery,
    callback_data: CarriersCB,
    user: Person,
    carrier_accounts: CarrierAccounts,
    state: FSMContext,
    i18n: I18n,
) -> None:
    await state.clear()
    shop_id, language = callback_data.shop, i18n.current_locale
    text, markup = await menu_screen(carrier_accounts, shop_id, user.id, language)
    await query.message.edit_text(text, reply_markup=markup)


def _ask(carrier: str, language: str, index: int, field: str, count: int) -> str:
    return _(
        "{carrier}, {n} of {count}: send the <b>{field}</b>. The message is deleted as soon "
        "as it is read."
    ).format(carrier=display_name(carrier, language), n=index + 1, count=count, field=esc(field))


async def start_connect(
    query: CallbackQuery,
    callback_data: CarriersCB,
    user: Person,
    carrier_accounts: CarrierAccounts,
    state: FSMContext,
    i18n: I18n,
) -> None:
    shop_id, carrier = callback_data.shop, callback_data.carrier
    fields = carrier_accounts.fields(carrier)  # an unknown carrier is refused here
    await carrier_accounts.connected(shop_id, user_id=user.id)  # owners and admins only
    await state.set_state(CarrierEdit.field)
    await state.update_data(shop_id=shop_id, carrier=carrier, index=0, typed={})
    await query.message.edit_text(
        _ask(carrier, i18n.current_locale, 0, fields[0], len(fields)), reply_markup=_back(shop_id)
    )


async def field_typed(
    message: Message,
    user: Person,
    carrier_accounts: CarrierAccounts,
    state: FSMContext,
    bot: Bot,
    i18n: I18n,
) -> None:
    data = await state.get_data()
    carrier, shop_id, index = data["carrier"], data["shop_id"], data["index"]
    fields = carrier_accounts.fields(carrier)
    with contextlib.suppress(TelegramAPIError):  # a credential does not stay in the chat
        await bot.delete_message(message.chat.id, message.message_id)
    typed = {**data["typed"], fields[index]: carrier_accounts.hold(message.text.strip()[:1000])}
    if index + 1 < len(fields):
        await state.update_data(index=index + 1, typed=typed)
        await message.answer(
            _ask(carrier, i18n.current_locale, index + 1, fields[index + 1], len(fields)),
            reply_markup=_back(shop_id),
        )
        return
    await state.clear()
    try:
        await carrier_accounts.save(shop_id, carrier, typed, user_id=user.id, held=True)
    except Refused as refusal:
        if refusal.code is not Reason.INVALID:
            raise
        await message.answer(
            _("Not saved: <b>{field}</b> is not right. Start again.").format(
                field=esc(refusal.params.get("field", ""))
            ),
            reply_markup=_back(shop_id),
        )
        return
    text, markup = await menu_screen(carrier_accounts, shop_id, user.id, i18n.current_locale)
    name = display_name(carrier, i18n.current_locale)
    await message.answer(
        _("✅ {carrier} is connected.").format(carrier=name) + "\n\n" + text, reply_markup=markup
    )


async def remove(
    query: CallbackQuery,
    callback_data: CarriersCB,
    user: Person,
    carrier_accounts: CarrierAccounts,
    callback_answer: CallbackAnswer,
    i18n: I18n,
) -> None:
    await carrier_accounts.remove(callback_data.shop, callback_data.carrier, user_id=user.id)
    callback_answer.text = _("Removed.")
    text, markup = await menu_screen(
        carrier_accounts, callback_data.shop, user.id, i18n.current_locale
    )
    await query.message.edit_text(text, reply_markup=markup)


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(show_menu, CarriersCB.filter(F.act == CarrierAct.MENU))
    router.callback_query.register(start_connect, CarriersCB.filter(F.act == CarrierAct.CONNECT))
    router.callback_query.register(remove, CarriersCB.filter(F.act == CarrierAct.REMOVE))
    router.message.register(field_typed, CarrierEdit.field, TYPED)
    return router
