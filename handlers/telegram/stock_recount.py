"""After an out-of-stock cancellation (issue 19, seed 003): the `fix_stock` effect set the
order's products to none for sale; the staff member who cancelled is asked, per product, how
many are really left. The count is set through the stock service with its reason; "0 — none
left" (or no answer) leaves zero."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.format import esc
from handlers.telegram.stock_counts import refused_count
from services.products.catalog import ProductService

if TYPE_CHECKING:
    from services.shops.users import Person  # what the identity middleware gives

TYPED = F.text & ~F.text.startswith("/")


class RecountAct(StrEnum):
    ASK = "a"  # ask for the real count
    ZERO = "z"  # none left indeed


class RecountCB(CallbackData, prefix="rc"):
    act: RecountAct
    id: int  # the product


class Recount(StatesGroup):
    count = State()


async def ask_real_counts(
    message: Message, products: ProductService, user_id: int, order_id: int, number: int
) -> None:
    """One question per product the cancelled order's lines name."""
    for product in await products.of_order(order_id, user_id):
        builder = InlineKeyboardBuilder()
        builder.button(
            text=_("✏️ Send the real count"),
            callback_data=RecountCB(act=RecountAct.ASK, id=product.id),
        )
        builder.button(
            text=_("0 — none left"), callback_data=RecountCB(act=RecountAct.ZERO, id=product.id)
        )
        await message.answer(
            _(
                "📦 Order #{number} was cancelled as out of stock, so {title} ({sku}) is no "
                "longer for sale. How many {sku} are really left?"
            ).format(number=number, title=esc(product.title), sku=esc(product.sku)),
            reply_markup=builder.as_markup(),
        )


async def ask_count(
    query: CallbackQuery,
    callback_data: RecountCB,
    user: Person,
    products: ProductService,
    state: FSMContext,
) -> None:
    product = await products.by_id(callback_data.id, user.id)
    await state.set_state(Recount.count)
    await state.update_data(product_id=product.id)
    await query.message.answer(
        _("Send how many {sku} are really left, e.g. 4. {reserved} are held for open orders.")
        .replace("{sku}", esc(product.sku))
        .replace("{reserved}", str(product.reserved))
    )


async def count_typed(
    message: Message, user: Person, products: ProductService, state: FSMContext
) -> None:
    product = await products.by_id(int((await state.get_data())["product_id"]), user.id)
    count = message.text.strip()
    if await refused_count(message, product, count):
        return
    await state.clear()
    product = await products.set_stock(
        product.shop_id, user.id, product.sku, int(count), _("recount after out of stock")
    )
    await message.answer(
        _("✅ {sku}: {on_hand} on hand, {available} for sale.").format(
            sku=esc(product.sku), on_hand=product.on_hand, available=product.available
        )
    )


async def keep_zero(
    query: CallbackQuery,
    callback_data: RecountCB,
    user: Person,
    products: ProductService,
    state: FSMContext,
    callback_answer: CallbackAnswer,
) -> None:
    await products.by_id(callback_data.id, user.id)  # its shop's staff only
    if await state.get_state() == Recount.count.state:
        await state.clear()
    callback_answer.text = _("Left at zero: correct it in /products at any time.")
    await query.message.edit_reply_markup(reply_markup=None)


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(ask_count, RecountCB.filter(F.act == RecountAct.ASK))
    router.callback_query.register(keep_zero, RecountCB.filter(F.act == RecountAct.ZERO))
    router.message.register(count_typed, Recount.count, TYPED)
    return router
