"""/products (issue 19): the shop's goods, searched, counted and priced from Telegram.

`/products` lists them, `/products words` searches SKU and titles; a product's card shows
its price and stock (on hand, reserved for open orders, available) and the latest movements,
with buttons to set the price or the count (a count asks for the reason, kept in the log).
The service decides who may see and change what; callback data carries ids only.
"""

from __future__ import annotations

import io
from enum import StrEnum

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardMarkup,
    InlineQuery,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.format import esc, money
from handlers.telegram.manual_order import parse_amount
from handlers.telegram.stock_counts import refused_count
from services.products import transfer
from services.products.catalog import ProductService
from services.products.stock import ACCEPT_MADE_TO_ORDER, REFUSE
from services.refusals import Reason, Refused
from services.shops.users import Person, UserService
from storage.models import Product

TYPED = F.text & ~F.text.startswith("/")
PAGE = 10


class ProductAct(StrEnum):
    SHOW = "s"  # the product's card
    PRICE = "p"  # ask for a new price
    STOCK = "c"  # ask for a new count and its reason
    BEYOND = "b"  # the shop's choice for orders beyond the stock: toggle
    IMPORT = "i"  # ask for a CSV or XLSX file
    GOOD_ROWS = "g"  # the file had bad rows: write the good ones
    EXPORT = "e"  # send every product as an XLSX file


class ProductCB(CallbackData, prefix="pr"):
    act: ProductAct
    id: int = 0


class ProductEdit(StatesGroup):
    price = State()
    stock = State()
    file = State()  # waiting for the file to import
    bad_rows = State()  # the file had bad rows: write the good ones?


MAX_FILE = 5 * 1024 * 1024
REPORT_LINES = 20


def movement_name(kind: str) -> str:
    names = {
        "reserve": _("reserved by order"),
        "release": _("released: order cancelled"),
        "write_off": _("written off: shipped"),
        "return": _("returned"),
        "correction": _("corrected"),
        "out_of_stock": _("out of stock: zeroed"),
        "import": _("imported"),
    }
    return names.get(kind, kind)


def list_text(products: list[Product], query: str, beyond: str) -> str:
    head = (
        _("📦 <b>Products</b> matching «{query}»").format(query=esc(query))
        if query
        else _("📦 <b>Products</b>")
    )
    lines = [head]
    if not products:
        lines.append(_("None found. Send /products and a word of the title or the SKU."))
    for product in products:
        lines.append(
            _("• {title} · {sku} · {available} for sale").format(
                title=esc(product.title), sku=esc(product.sku), available=product.available
            )
        )
    lines += [
        "",
        _("Search: /products and words of the title or the SKU."),
        _("Beyond the stock, orders are: {choice}").format(choice=beyond_name(beyond)),
    ]
    return "\n".join(lines)


def beyond_name(choice: str) -> str:
    return _("taken as made to order") if choice == ACCEPT_MADE_TO_ORDER else _("refused")


def list_keyboard(products: list[Product]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for product in products:
        builder.button(
            text=f"{product.title} · {product.available}"[:60],
            callback_data=ProductCB(act=ProductAct.SHOW, id=product.id).pack(),
        )
    builder.button(text=_("🔁 Beyond the stock"), callback_data=ProductCB(act=ProductAct.BEYOND))
    builder.button(text=_("📥 Import a file"), callback_data=ProductCB(act=ProductAct.IMPORT))
    builder.button(text=_("📤 Export"), callback_data=ProductCB(act=ProductAct.EXPORT))
    builder.adjust(1)
    return builder.as_markup()


def card_text(product: Product, movements: list, language: str) -> str:
    lines = [
        f"📦 <b>{esc(product.title)}</b>"
        + (f" ({esc(product.variant)})" if product.variant else ""),
        _("SKU: <code>{sku}</code>").format(sku=esc(product.sku)),
        _("Price: {price}").format(price=money(product.price, product.currency, language)),
        _("On hand: {on_hand} · reserved: {reserved} · for sale: {available}").format(
            on_hand=product.on_hand, reserved=product.reserved, available=product.available
        ),
    ]
    if product.availability == "made_to_order":
        lines.append(_("Made to order: orders reserve no stock."))
    if product.returnable:
        lines.append(
            ngettext(
                "Returnable within {days} day.",
                "Returnable within {days} days.",
                product.return_days,
            ).format(days=product.return_days)
        )
    if product.archived:
        lines.append(_("Archived: not sold."))
    if movements:
        lines += ["", _("<b>Latest movements:</b>")]
        for movement in movements:
            delta = movement.on_hand_delta or movement.reserved_delta
            reason = f" ({esc(movement.reason)})" if movement.reason else ""
            lines.append(f"{delta:+d} · {movement_name(movement.kind)}{reason}")
    return "\n".join(lines)


def card_keyboard(product: Product) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("💲 Price"), callback_data=ProductCB(act=ProductAct.PRICE, id=product.id))
    builder.button(text=_("📦 Stock"), callback_data=ProductCB(act=ProductAct.STOCK, id=product.id))
    return builder.as_markup()


async def _shop_id(users: UserService, user: Person) -> int:
    membership = await users.current_shop(user.id)
    if membership is None:
        raise Refused(Reason.NOT_FOUND, "not staff of any shop")
    return membership.shop.id


async def products_command(
    message: Message,
    command: CommandObject,
    users: UserService,
    user: Person,
    products: ProductService,
    state: FSMContext,
) -> None:
    await state.clear()
    membership = await users.current_shop(user.id)
    if membership is None:
        await message.answer(_("You are not staff of any shop yet. Send /start to create one."))
        return
    query = (command.args or "").strip()[:100]
    found = await products.search(membership.shop.id, user.id, query, limit=PAGE)
    beyond = await products.beyond_stock(membership.shop.id)
    await message.answer(list_text(found, query, beyond), reply_markup=list_keyboard(found))


async def show_product(
    query: CallbackQuery,
    callback_data: ProductCB,
    user: Person,
    products: ProductService,
    i18n: I18n,
    state: FSMContext,
) -> None:
    await state.clear()
    product = await products.by_id(callback_data.id, user.id)
    await _send_card(query.message, products, product, user, i18n.current_locale)


async def _send_card(
    message: Message, products: ProductService, product: Product, user: Person, language: str
) -> None:
    log = await products.movements(product.shop_id, user.id, product.sku, limit=5)
    await message.answer(card_text(product, log, language), reply_markup=card_keyboard(product))


async def toggle_beyond(
    query: CallbackQuery,
    users: UserService,
    user: Person,
    products: ProductService,
    callback_answer: CallbackAnswer,
) -> None:
    shop_id = await _shop_id(users, user)
    current = await products.beyond_stock(shop_id)
    choice = REFUSE if current == ACCEPT_MADE_TO_ORDER else ACCEPT_MADE_TO_ORDER
    await products.set_beyond_stock(shop_id, user.id, choice)
    callback_answer.text = _("Beyond the stock, orders are now: {choice}").format(
        choice=beyond_name(choice)
    )


async def ask_price(
    query: CallbackQuery,
    callback_data: ProductCB,
    user: Person,
    products: ProductService,
    state: FSMContext,
) -> None:
    product = await products.by_id(callback_data.id, user.id)
    await state.set_state(ProductEdit.price)
    await state.update_data(product_id=product.id)
    await query.message.answer(
        _("Send the new price of {title}, e.g. 1490 or 1490.50.").format(title=esc(product.title))
    )


async def price_typed(
    message: Message,
    user: Person,
    products: ProductService,
    i18n: I18n,
    state: FSMContext,
) -> None:
    product = await products.by_id(int((await state.get_data())["product_id"]), user.id)
    try:
        price = parse_amount(message.text, product.currency)
    except ValueError:
        await message.answer(_("Not a price: send a number, e.g. 1490 or 1490.50."))
        return
    await state.clear()
    product = await products.set_price(product.shop_id, user.id, product.sku, price)
    await _send_card(message, products, product, user, i18n.current_locale)


async def ask_stock(
    query: CallbackQuery,
    callback_data: ProductCB,
    user: Person,
    products: ProductService,
    state: FSMContext,
) -> None:
    product = await products.by_id(callback_data.id, user.id)
    await state.set_state(ProductEdit.stock)
    await state.update_data(product_id=product.id)
    await query.message.answer(
        _(
            "Send how many of {title} you have and why, e.g. «12 recount». "
            "{reserved} are held for open orders."
        ).format(title=esc(product.title), reserved=product.reserved)
    )


async def stock_typed(
    message: Message,
    user: Person,
    products: ProductService,
    i18n: I18n,
    state: FSMContext,
) -> None:
    product = await products.by_id(int((await state.get_data())["product_id"]), user.id)
    count, _space, reason = message.text.strip().partition(" ")
    if not reason.strip():
        await message.answer(_("Send a count and a reason, e.g. «12 recount»."))
        return
    if await refused_count(message, product, count):
        return
    await state.clear()
    product = await products.set_stock(
        product.shop_id, user.id, product.sku, int(count), reason.strip()
    )
    await _send_card(message, products, product, user, i18n.current_locale)


# -- files ---------------------------------------------------------------------------------


async def ask_file(
    query: CallbackQuery, users: UserService, user: Person, state: FSMContext
) -> None:
    await state.set_state(ProductEdit.file)
    await state.update_data(shop_id=await _shop_id(users, user))
    await query.message.answer(
        _(
            "Send a CSV (UTF-8) or XLSX file, one product per row, with the columns of the "
            "export: sku, title, price, on_hand, returnable, return_days... "
            "If any row is wrong, nothing is written and you get the list of what to fix."
        )
    )


async def file_sent(
    message: Message,
    bot: Bot,
    users: UserService,
    user: Person,
    products: ProductService,
    state: FSMContext,
) -> None:
    document = message.document
    if (document.file_size or 0) > MAX_FILE:
        await message.answer(_("Not imported: the file is larger than 5 MB."))
        return
    shop_id = (await state.get_data())["shop_id"]
    report = await _import(
        bot,
        users,
        user,
        products,
        shop_id,
        document.file_id,
        document.file_name or "",
        message,
        good_rows_only=False,
    )
    if report is None:
        return
    if not report.errors:
        await state.clear()
        await message.answer(_("✅ Imported: {count} products.").format(count=report.saved))
        return
    await state.set_state(ProductEdit.bad_rows)
    await state.update_data(file_id=document.file_id, file_name=document.file_name or "")
    lines = [
        _("Nothing imported: {bad} of {rows} rows are wrong.").format(
            bad=report.bad_rows, rows=report.rows
        )
    ]
    lines += [
        _("Row {row}, {column}: {message}").format(
            row=error.row, column=esc(error.column), message=esc(error.message)
        )
        for error in report.errors[:REPORT_LINES]
    ]
    if len(report.errors) > REPORT_LINES:
        lines.append(_("…and {count} more.").format(count=len(report.errors) - REPORT_LINES))
    lines.append(_("Fix the file and send it again, or write only the good rows."))
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("✅ Write the {count} good rows").format(count=report.rows - report.bad_rows),
        callback_data=ProductCB(act=ProductAct.GOOD_ROWS),
    )
    await message.answer("\n".join(lines), reply_markup=builder.as_markup())


async def write_good_rows(
    query: CallbackQuery,
    bot: Bot,
    users: UserService,
    user: Person,
    products: ProductService,
    state: FSMContext,
    callback_answer: CallbackAnswer,
) -> None:
    data = await state.get_data()
    if await state.get_state() != ProductEdit.bad_rows or "file_id" not in data:
        callback_answer.text = _("This report is out of date: send the file again.")
        return
    await state.clear()
    report = await _import(
        bot,
        users,
        user,
        products,
        data["shop_id"],
        data["file_id"],
        data["file_name"],
        query.message,
        good_rows_only=True,
    )
    if report is not None:
        await query.message.answer(_("✅ Imported: {count} products.").format(count=report.saved))


async def _import(
    bot: Bot,
    users: UserService,
    user: Person,
    products: ProductService,
    shop_id: int,
    file_id: str,
    file_name: str,
    message: Message,
    *,
    good_rows_only: bool,
) -> transfer.ImportReport | None:
    membership = await users.current_shop(user.id)
    if membership is None or membership.shop.id != shop_id:
        raise Refused(Reason.NOT_FOUND, "not the current shop")
    buffer = io.BytesIO()
    await bot.download(file_id, destination=buffer)
    try:
        return await transfer.import_file(
            products,
            shop_id,
            user.id,
            buffer.getvalue(),
            file_name,
            membership.shop.currency,
            good_rows_only=good_rows_only,
        )
    except transfer.FileRefused as refused:
        await message.answer(_("Not imported: {problem}").format(problem=esc(str(refused))))
        return None


async def export_products(
    query: CallbackQuery, users: UserService, user: Person, products: ProductService
) -> None:
    shop_id = await _shop_id(users, user)
    found = await products.all(shop_id, user.id)
    name = "products.xlsx"
    await query.message.answer_document(
        BufferedInputFile(transfer.export_file(found, name), filename=name),
        caption=_(
            "{count} products. Edit the file and send it back with «📥 Import a file»."
        ).format(count=len(found)),
    )


# -- inline mode: the manual order's product search ------------------------------------------


async def inline_search(
    inline_query: InlineQuery,
    users: UserService,
    user: Person,
    products: ProductService,
    i18n: I18n,
) -> None:
    """`@bot words` in a chat: the current shop's products, for its staff only; the one
    tapped sends «🛒 title (SKU)», which the manual order (/new) takes as that product."""
    membership = await users.current_shop(user.id)
    found: list[Product] = []
    if membership is not None:
        try:
            found = await products.search(
                membership.shop.id, user.id, inline_query.query[:100], limit=20
            )
        except Refused:
            found = []
    language = i18n.current_locale
    results = [
        InlineQueryResultArticle(
            id=str(product.id),
            title=product.title + (f" ({product.variant})" if product.variant else ""),
            description=_("{sku} · {price} · {available} for sale").format(
                sku=product.sku,
                price=money(product.price, product.currency, language),
                available=product.available,
            ),
            input_message_content=InputTextMessageContent(
                message_text=f"🛒 {product.title} ({product.sku})", parse_mode=None
            ),
        )
        for product in found
    ]
    await inline_query.answer(results, cache_time=0, is_personal=True)


def router() -> Router:
    router = Router(name=__name__)
    router.message.register(products_command, Command("products"), F.chat.type == "private")
    router.callback_query.register(show_product, ProductCB.filter(F.act == ProductAct.SHOW))
    router.callback_query.register(toggle_beyond, ProductCB.filter(F.act == ProductAct.BEYOND))
    router.callback_query.register(ask_price, ProductCB.filter(F.act == ProductAct.PRICE))
    router.callback_query.register(ask_stock, ProductCB.filter(F.act == ProductAct.STOCK))
    router.message.register(price_typed, ProductEdit.price, TYPED)
    router.message.register(stock_typed, ProductEdit.stock, TYPED)
    router.callback_query.register(ask_file, ProductCB.filter(F.act == ProductAct.IMPORT))
    router.message.register(
        file_sent, StateFilter(ProductEdit.file, ProductEdit.bad_rows), F.document
    )
    router.callback_query.register(write_good_rows, ProductCB.filter(F.act == ProductAct.GOOD_ROWS))
    router.callback_query.register(export_products, ProductCB.filter(F.act == ProductAct.EXPORT))
    router.inline_query.register(inline_search)
    return router
