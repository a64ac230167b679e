"""A new order taken by phone (A3): a short conversation, then the order's card and the link
the buyer follows to see it in Telegram.

The answers are kept in the conversation's data until "Create"; the order service checks
them all again, splits in-stock and made-to-order goods into two orders (000) and decides
whether this person may create orders for the shop at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from handlers.telegram.card_view import method_name
from handlers.telegram.format import esc, money, phone
from handlers.telegram.menu import MenuAct, MenuCB
from handlers.telegram.order_card import open_card
from services.messaging.cards import CardRegistry
from services.orders.actors import ActorRef
from services.orders.drafts import (
    MAX_PRICE,
    MAX_QUANTITY,
    BuyerDraft,
    ItemDraft,
    OrderDraft,
    normalize_phone,
)
from services.orders.money import to_minor
from services.orders.rows import delivery_price
from services.orders.service import OrderService
from services.products.catalog import ProductService
from services.refusals import OrderRefused, Problem
from services.shops.users import Person, UserService
from services.vocabulary import DELIVERY_METHODS, IN_STOCK, MADE_TO_ORDER, PAYMENT_METHODS

# A phone order is short: its goods, each with a button, keep every message and the order's
# card well under Telegram's 4096 characters and 100 buttons.
MAX_ITEMS = 20
MAX_NAME = 128
MAX_ITEM_NAME = 100
MAX_ADDRESS = 1000
PICKED = re.compile(r"^🛒 .* \((?P<sku>[^()]+)\)$", re.DOTALL)  # inline_search's message


class NewOrder(StatesGroup):
    name = State()  # the buyer's name
    phone = State()  # the buyer's phone, validated
    items = State()  # "name; quantity; price" lines until "Done"
    delivery = State()  # the delivery method (buttons)
    address = State()  # the delivery address (not for pickup)
    payment = State()  # the payment method (buttons)
    confirm = State()  # the summary: create or cancel
    creating = State()  # "Create" tapped: a second tap finds the form closed


# Where "Cancel" still means something: "Create" was not tapped yet.
FORM_STATES = frozenset(NewOrder.__all_states_names__) - {NewOrder.creating.state}


class ManualAct(StrEnum):
    CANCEL = "x"
    TOGGLE = "t"  # item `n`: in stock <-> made to order
    DONE = "d"  # no more items
    DELIVERY = "v"  # delivery method `arg`
    PAYMENT = "p"  # payment method `arg`
    CREATE = "c"


class ManualCB(CallbackData, prefix="mo"):
    act: ManualAct
    arg: Annotated[str, Field(max_length=24)] = ""  # a delivery or payment method
    n: Annotated[int, Field(ge=0, lt=MAX_ITEMS)] = 0  # an item's place in the form


# -- items typed as "name; quantity; price" (also used by handlers.telegram.order_edit) --


class ItemLineError(ValueError):
    """A typed item line that cannot be read; the text says why, in the reader's language."""


def parse_item_line(line: str, currency: str) -> tuple[str, int, int]:
    """'Chair; 2; 1500.50' -> ('Chair', 2, 150050): name, quantity, unit price in minor units."""
    parts = [part.strip() for part in line.split(";")]
    if len(parts) != 3:
        raise ItemLineError(_("Write it as: name; quantity; price"))
    name, quantity_text, price_text = parts
    if not name or len(name) > MAX_ITEM_NAME:
        raise ItemLineError(_("The name must be 1 to 100 characters."))
    if not quantity_text.isdigit() or not 1 <= int(quantity_text) <= MAX_QUANTITY:
        raise ItemLineError(_("The quantity must be a whole number from 1 to 100000."))
    try:
        price = parse_amount(price_text, currency)
    except ValueError:
        raise ItemLineError(_("The price must be a number like 1500 or 199.90.")) from None
    return name, int(quantity_text), price


def parse_amount(text: str, currency: str) -> int:
    """A typed amount ('1 500,50', '199.90') in minor units; ValueError when it is not one."""
    cleaned = text.replace(" ", "").replace("\u00a0", "").replace(",", ".")
    for sign in ("₽", "₴", "$", "€", currency):
        cleaned = cleaned.removesuffix(sign)
    amount = to_minor(cleaned, currency)
    if not 0 <= amount <= MAX_PRICE:
        raise ValueError(f"out of range: {text!r}")
    return amount


def parse_item_lines(text: str, currency: str) -> list[tuple[str, int, int]]:
    """Every non-empty line of a message is an item; one bad line rejects the message."""
    lines = [line for line in text.splitlines() if line.strip()]
    parsed = []
    for number, line in enumerate(lines, 1):
        try:
            parsed.append(parse_item_line(line, currency))
        except ItemLineError as error:
            if len(lines) == 1:
                raise
            raise ItemLineError(
                _("Line {number}: {problem}").format(number=number, problem=error)
            ) from None
    return parsed


def availability_name(availability: str) -> str:
    return _("made to order") if availability == MADE_TO_ORDER else _("in stock")


# -- keyboards and texts ---------------------------------------------------------------


def cancel_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("✖️ Cancel"), callback_data=ManualCB(act=ManualAct.CANCEL).pack()
    )


def cancel_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[cancel_button()]])


def item_line(index: int, item: dict[str, Any], currency: str, language: str) -> str:
    total = money(item["price"] * item["quantity"], currency, language)
    availability = availability_name(item["availability"])
    return f"{index}. {esc(item['name'])} × {item['quantity']} — {total} ({availability})"


def items_text(data: dict[str, Any], language: str) -> str:
    currency = data["currency"]
    lines = [_("<b>Goods so far</b>")]
    lines += [
        item_line(index, item, currency, language) for index, item in enumerate(data["items"], 1)
    ]
    lines += [
        "",
        _(
            "Send more as «name; quantity; price», or tap «Done». Goods are in stock unless "
            "you mark them «made to order» with their button."
        ),
    ]
    return "\n".join(lines)


def find_button() -> InlineKeyboardButton:
    """Starts `@bot ` in the chat's input: the products found are answered in inline mode
    (handlers.telegram.products.inline_search); the one tapped is sent as a message."""
    return InlineKeyboardButton(text=_("🔎 Find a product"), switch_inline_query_current_chat="")


def first_goods_keyboard(catalog: bool) -> InlineKeyboardMarkup:
    rows = [[find_button()]] if catalog else []
    return InlineKeyboardMarkup(inline_keyboard=[*rows, [cancel_button()]])


def items_keyboard(data: dict[str, Any]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for index, item in enumerate(data["items"]):
        mark = "🛠" if item["availability"] == MADE_TO_ORDER else "📦"
        name = item["name"] if len(item["name"]) <= 24 else item["name"][:23] + "…"
        builder.row(
            InlineKeyboardButton(
                text=f"{mark} {index + 1}. {name}: {availability_name(item['availability'])}",
                callback_data=ManualCB(act=ManualAct.TOGGLE, n=index).pack(),
            )
        )
    if data.get("catalog"):
        builder.row(find_button())
    builder.row(
        InlineKeyboardButton(text=_("✅ Done"), callback_data=ManualCB(act=ManualAct.DONE).pack()),
        cancel_button(),
    )
    return builder.as_markup()


def methods_keyboard(
    act: ManualAct, methods: Sequence[str], labels: dict[str, str] | None = None
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for method in methods:
        text = (labels or {}).get(method) or method_name(method)
        builder.button(text=text, callback_data=ManualCB(act=act, arg=method).pack())
    builder.adjust(2)
    builder.row(cancel_button())
    return builder.as_markup()


def delivery_cost(data: dict[str, Any]) -> int:
    return int(data["prices"].get(data["delivery"], 0))


def summary_text(data: dict[str, Any], language: str) -> str:
    currency = data["currency"]
    goods = sum(item["price"] * item["quantity"] for item in data["items"])
    cost = delivery_cost(data)
    lines = [
        _("<b>New order: check it</b>"),
        _("Buyer: {name}, {phone}").format(name=esc(data["name"]), phone=phone(data["phone"])),
        "",
    ]
    lines += [
        item_line(index, item, currency, language) for index, item in enumerate(data["items"], 1)
    ]
    lines += [
        "",
        _("Delivery: {method}, {cost}").format(
            method=method_name(data["delivery"]), cost=money(cost, currency, language)
        ),
    ]
    if data.get("address"):
        lines.append(_("Address: {address}").format(address=esc(data["address"])))
    lines.append(_("Payment: {method}").format(method=method_name(data["payment"])))
    lines.append(_("<b>Total: {total}</b>").format(total=money(goods + cost, currency, language)))
    if len({item["availability"] for item in data["items"]}) > 1:
        lines += [
            "",
            _(
                "⚠️ In-stock and made-to-order goods go in separate orders: this makes two "
                "orders, the delivery cost stays with the first."
            ),
        ]
    return "\n".join(lines)


def summary_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("✅ Create"), callback_data=ManualCB(act=ManualAct.CREATE).pack()
                ),
                cancel_button(),
            ]
        ]
    )


# -- the conversation ------------------------------------------------------------------


async def begin(message: Message, users: UserService, user: Person, state: FSMContext) -> None:
    await state.clear()
    membership = await users.current_shop(user.id)
    if membership is None:
        await message.answer(_("You are not staff of any shop yet. Send /start to create one."))
        return
    shop = membership.shop
    await state.set_state(NewOrder.name)
    await state.set_data(
        {
            "shop_id": shop.id,
            "currency": shop.currency,
            "country": shop.country,
            "prices": {method: delivery_price(shop, method) for method in DELIVERY_METHODS},
            "items": [],
        }
    )
    await message.answer(
        _("<b>New order for {shop}</b>, taken by phone.\nWhat is the buyer's name?").format(
            shop=esc(shop.name)
        ),
        reply_markup=cancel_keyboard(),
    )


async def new_command(
    message: Message, users: UserService, user: Person, state: FSMContext
) -> None:
    await begin(message, users, user, state)


async def new_from_menu(
    query: CallbackQuery, users: UserService, user: Person, state: FSMContext
) -> None:
    await begin(query.message, users, user, state)


async def cancel_command(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Cancelled: no order was created."))


async def cancel_button_tapped(
    query: CallbackQuery, state: FSMContext, callback_answer: CallbackAnswer
) -> None:
    if await state.get_state() not in FORM_STATES:
        # The form was created or left already: an old message's button changes nothing.
        await step_over(query, callback_answer)
        return
    await state.clear()
    callback_answer.text = _("Cancelled.")
    await query.message.edit_text(_("Cancelled: no order was created."))


TYPED = (F.text, ~F.text.startswith("/"))


async def name_typed(message: Message, state: FSMContext) -> None:
    name = " ".join(message.text.split())
    if not 1 <= len(name) <= MAX_NAME:
        await message.answer(
            _("A name is 1 to 128 characters. What is the buyer's name?"),
            reply_markup=cancel_keyboard(),
        )
        return
    await state.update_data(name=name)
    await state.set_state(NewOrder.phone)
    await message.answer(
        _("The buyer's phone number?"),
        reply_markup=cancel_keyboard(),
    )


async def phone_typed(
    message: Message, state: FSMContext, products: ProductService, user: Person
) -> None:
    data = await state.get_data()
    try:
        phone = normalize_phone(message.text.strip()[:40], data["country"])
    except OrderRefused:
        await message.answer(
            _(
                "«{phone}» is not a valid phone number. Send it with the country code, "
                "like +7 916 123-45-67."
            ).format(phone=esc(message.text.strip()[:40])),
            reply_markup=cancel_keyboard(),
        )
        return
    # A shop with products picks them by search (inline mode, issue 19); typing stays.
    catalog = bool(await products.search(data["shop_id"], user.id, "", limit=1))
    await state.update_data(phone=phone, catalog=catalog)
    await state.set_state(NewOrder.items)
    text = _(
        "Phone: {phone}.\nNow the goods, one per line: <b>name; quantity; price</b>, "
        "for example:\n<code>Oak chair; 2; 1500</code>\nSend «Done» when that is all."
    ).format(phone=phone)
    if catalog:
        text += "\n" + _("Or tap «🔎 Find a product» and pick it from the shop's products.")
    await message.answer(text, reply_markup=first_goods_keyboard(catalog))


async def items_typed(message: Message, state: FSMContext, i18n: I18n) -> None:
    data = await state.get_data()
    if message.text.strip().lower() in {"done", _("Done").lower()}:
        await items_done(message, state, data, i18n.current_locale)
        return
    try:
        parsed = parse_item_lines(message.text, data["currency"])
    except ItemLineError as error:
        await message.answer(
            _("{problem}\nFor example: <code>Oak chair; 2; 1500</code>").format(
                problem=esc(str(error))
            ),
            reply_markup=cancel_keyboard(),
        )
        return
    items = data["items"]
    if len(items) + len(parsed) > MAX_ITEMS:
        await message.answer(
            _("A phone order holds at most {count} goods.").format(count=MAX_ITEMS),
            reply_markup=items_keyboard(data),
        )
        return
    items += [
        {"name": name, "quantity": quantity, "price": price, "availability": IN_STOCK}
        for name, quantity, price in parsed
    ]
    await state.update_data(items=items)
    data["items"] = items
    await message.answer(items_text(data, i18n.current_locale), reply_markup=items_keyboard(data))


async def product_picked(
    message: Message,
    bot: Bot,
    state: FSMContext,
    products: ProductService,
    user: Person,
    i18n: I18n,
) -> None:
    """A product chosen from the inline search: one more unit of it (its price, its rules)."""
    picked = PICKED.match(message.text or "")
    if message.via_bot is None or message.via_bot.id != bot.id or picked is None:
        await items_typed(message, state, i18n)
        return
    data = await state.get_data()
    product = await products.get(data["shop_id"], user.id, picked.group("sku"))
    items = data["items"]
    same = next((i for i in items if i.get("sku") == product.sku), None)
    if same is not None:
        same["quantity"] = min(same["quantity"] + 1, MAX_QUANTITY)
    elif len(items) >= MAX_ITEMS:
        await message.answer(
            _("A phone order holds at most {count} goods.").format(count=MAX_ITEMS),
            reply_markup=items_keyboard(data),
        )
        return
    else:
        name = f"{product.title} ({product.variant})" if product.variant else product.title
        items.append(
            {
                "name": name[:MAX_ITEM_NAME],
                "quantity": 1,
                "price": product.price,
                "availability": product.availability,
                "sku": product.sku,
            }
        )
    await state.update_data(items=items)
    data["items"] = items
    await message.answer(items_text(data, i18n.current_locale), reply_markup=items_keyboard(data))


async def toggle_availability(
    query: CallbackQuery, callback_data: ManualCB, state: FSMContext, i18n: I18n
) -> None:
    data = await state.get_data()
    items = data["items"]
    if not 0 <= callback_data.n < len(items):
        await query.message.edit_text(
            items_text(data, i18n.current_locale), reply_markup=items_keyboard(data)
        )
        return
    item = items[callback_data.n]
    item["availability"] = MADE_TO_ORDER if item["availability"] == IN_STOCK else IN_STOCK
    await state.update_data(items=items)
    await query.message.edit_text(
        items_text(data, i18n.current_locale), reply_markup=items_keyboard(data)
    )


async def done_tapped(
    query: CallbackQuery, state: FSMContext, callback_answer: CallbackAnswer, i18n: I18n
) -> None:
    data = await state.get_data()
    if not data["items"]:
        callback_answer.text, callback_answer.show_alert = _("Add at least one item first."), True
        return
    await query.message.edit_reply_markup(reply_markup=None)
    await items_done(query.message, state, data, i18n.current_locale)


async def items_done(
    message: Message, state: FSMContext, data: dict[str, Any], language: str
) -> None:
    if not data["items"]:
        await message.answer(
            _("Add at least one item first: name; quantity; price."),
            reply_markup=cancel_keyboard(),
        )
        return
    await state.set_state(NewOrder.delivery)
    labels = {}
    for method in DELIVERY_METHODS:
        price = data["prices"].get(method, 0)
        cost = money(price, data["currency"], language) if price else _("free")
        labels[method] = f"{method_name(method)} · {cost}"
    await message.answer(
        _("How will the goods reach the buyer?"),
        reply_markup=methods_keyboard(ManualAct.DELIVERY, DELIVERY_METHODS, labels),
    )


async def delivery_chosen(query: CallbackQuery, callback_data: ManualCB, state: FSMContext):
    method = callback_data.arg
    if method not in DELIVERY_METHODS:
        raise OrderRefused(Problem.INVALID, "no such delivery method", {"field": "delivery.method"})
    await state.update_data(delivery=method)
    await query.message.edit_text(
        _("Delivery: {method}.").format(method=method_name(method)), reply_markup=None
    )
    if method == "pickup":
        await state.update_data(address="")
        await ask_payment(query.message, state)
        return
    await state.set_state(NewOrder.address)
    await query.message.answer(_("The delivery address?"), reply_markup=cancel_keyboard())


async def address_typed(message: Message, state: FSMContext) -> None:
    address = message.text.strip()
    if not 1 <= len(address) <= MAX_ADDRESS:
        await message.answer(
            _("An address is 1 to 1000 characters. The delivery address?"),
            reply_markup=cancel_keyboard(),
        )
        return
    await state.update_data(address=address)
    await ask_payment(message, state)


async def ask_payment(message: Message, state: FSMContext) -> None:
    await state.set_state(NewOrder.payment)
    await message.answer(
        _("How will the buyer pay?"),
        reply_markup=methods_keyboard(ManualAct.PAYMENT, PAYMENT_METHODS),
    )


async def payment_chosen(
    query: CallbackQuery, callback_data: ManualCB, state: FSMContext, i18n: I18n
) -> None:
    if callback_data.arg not in PAYMENT_METHODS:
        raise OrderRefused(Problem.INVALID, "no such payment method", {"field": "payment.method"})
    await state.update_data(payment=callback_data.arg)
    await state.set_state(NewOrder.confirm)
    data = await state.get_data()
    await query.message.edit_text(
        summary_text(data, i18n.current_locale), reply_markup=summary_keyboard()
    )


async def create(
    query: CallbackQuery,
    state: FSMContext,
    orders: OrderService,
    actor: ActorRef,
    bot: Bot,
    i18n: I18n,
    callback_answer: CallbackAnswer,
    cards: CardRegistry,
) -> None:
    language = i18n.current_locale
    data = await state.get_data()
    await state.set_state(NewOrder.creating)  # a second tap now finds the form closed
    draft = OrderDraft(
        buyer=BuyerDraft(name=data["name"], phone=data["phone"]),
        items=[
            ItemDraft(
                # A picked product's SKU: the order reserves it and takes its rules.
                sku=item.get("sku") or f"manual-{index}",
                name=item["name"],
                quantity=item["quantity"],
                unit_price=item["price"],
                availability=item["availability"],
            )
            for index, item in enumerate(data["items"], 1)
        ],
        payment_method=data["payment"],
        delivery_method=data["delivery"],
        delivery_address=data.get("address", ""),
    )
    try:
        created = await orders.create_orders(data["shop_id"], draft, actor, source="manual")
    except OrderRefused:
        await state.set_state(NewOrder.confirm)
        raise
    await state.clear()
    numbers = ", ".join(f"#{order.number}" for order in created)
    callback_answer.text = _("Created: {numbers}").format(numbers=numbers)
    await query.message.edit_text(
        summary_text(data, language)
        + "\n\n"
        + _("✅ Created: order {numbers}.").format(numbers=numbers),
        reply_markup=None,
    )
    for order in created:
        await open_card(query.message, orders, actor, order.id, language, cards)
    me = await bot.me()
    links = [
        _("Order #{number}: {link}").format(
            number=order.number, link=f"https://t.me/{me.username}?start={order.buyer_token}"
        )
        for order in created
    ]
    await query.message.answer(
        _(
            "Send the buyer this link: they will see the order and can write to the shop "
            "in Telegram.\n{links}"
        ).format(links="\n".join(links)),
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )


async def step_over(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    # A button of a step already answered, or of a form cancelled or created: change nothing.
    callback_answer.text = _("This step of the order form is over. Send /new to start again.")
    callback_answer.show_alert = True


def router() -> Router:
    router = Router(name=__name__)
    router.message.register(new_command, Command("new"))
    router.callback_query.register(new_from_menu, MenuCB.filter(F.act == MenuAct.NEW_ORDER))
    router.message.register(cancel_command, StateFilter(*FORM_STATES), Command("cancel"))
    router.callback_query.register(cancel_button_tapped, ManualCB.filter(F.act == ManualAct.CANCEL))
    router.message.register(name_typed, NewOrder.name, *TYPED)
    router.message.register(phone_typed, NewOrder.phone, *TYPED)
    router.message.register(product_picked, NewOrder.items, F.via_bot, F.text)
    router.message.register(items_typed, NewOrder.items, *TYPED)
    router.callback_query.register(
        toggle_availability, NewOrder.items, ManualCB.filter(F.act == ManualAct.TOGGLE)
    )
    router.callback_query.register(
        done_tapped, NewOrder.items, ManualCB.filter(F.act == ManualAct.DONE)
    )
    router.callback_query.register(
        delivery_chosen, NewOrder.delivery, ManualCB.filter(F.act == ManualAct.DELIVERY)
    )
    router.message.register(address_typed, NewOrder.address, *TYPED)
    router.callback_query.register(
        payment_chosen, NewOrder.payment, ManualCB.filter(F.act == ManualAct.PAYMENT)
    )
    router.callback_query.register(
        create, NewOrder.confirm, ManualCB.filter(F.act == ManualAct.CREATE)
    )
    router.callback_query.register(step_over, ManualCB.filter())
    return router
