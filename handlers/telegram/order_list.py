"""The order list (C4) and "my queue" (C2): pages of the current shop's orders.

A page's filters travel in its buttons (status code, problem, mine, page: short codes only).
The search text does not: a phone number is the buyer's personal data, so it stays in this
chat's conversation storage, under a destiny of its own that other conversations never clear.
"""

from __future__ import annotations

from dataclasses import replace

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.format import esc
from handlers.telegram.menu import MenuAct, MenuCB
from handlers.telegram.order_card import open_card
from handlers.telegram.order_list_view import (
    ListAct,
    ListCB,
    list_keyboard,
    list_text,
    nav_row,
    order_buttons,
    page_count,
    rows_text,
    statuses_keyboard,
)
from services.messaging.cards import CardRegistry
from services.orders.actors import ActorRef
from services.orders.queries import OrderPage, OrderQueries
from services.orders.service import OrderService
from services.refusals import Reason, Refused
from services.shops.users import Membership, Person, UserService

PAGE_SIZE = 10
MAX_SEARCH = 64
SEARCH_DESTINY = "order_list"  # the search text's own slot in the FSM storage


class ListSearch(StatesGroup):
    query = State()  # typing an order number or a phone


async def end_search(state: FSMContext) -> None:
    """Leave the search prompt; other conversations (a manual order...) go on."""
    if await state.get_state() == ListSearch.query.state:
        await state.clear()


def search_store(state: FSMContext) -> FSMContext:
    return FSMContext(storage=state.storage, key=replace(state.key, destiny=SEARCH_DESTINY))


async def shop_of(users: UserService, user: Person, message: Message) -> Membership | None:
    """The shop this person works in now; tells them when there is none."""
    membership = await users.current_shop(user.id)
    if membership is None:
        await message.answer(_("You are not staff of any shop yet. Send /start to create one."))
    return membership


# -- drawing -------------------------------------------------------------------------


async def draw_list(
    target: Message,
    cb: ListCB,
    *,
    membership: Membership,
    user: Person,
    order_queries: OrderQueries,
    state: FSMContext,
    language: str,
    edit: bool,
) -> None:
    cb = cb.model_copy(update={"act": ListAct.PAGE, "id": 0, "page": max(cb.page, 0)})
    search = None
    if cb.q:
        search = (await search_store(state).get_data()).get("search") or None
        if search is None:  # forgotten (a restart with in-memory storage): list without it
            cb = cb.model_copy(update={"q": False})
    shop = membership.shop

    async def read(page: int) -> OrderPage:
        return await order_queries.list_orders(
            shop.id,
            user.id,
            status=cb.st or None,
            problem=True if cb.pr else None,
            mine=cb.mi,
            search=search,
            page=page,
            page_size=PAGE_SIZE,
        )

    try:
        result = await read(cb.page)
    except Refused as refusal:
        if refusal.code is not Reason.INVALID or search is None:
            raise
        await target.answer(
            _(
                "«{query}» is neither an order number nor a phone. Search by a number like 12 "
                "or a phone like +79161234567."
            ).format(query=esc(search))
        )
        return
    if not result.rows and cb.page > 0 and result.total:
        # The list shrank under an old page button: show its last page instead.
        cb = cb.model_copy(update={"page": page_count(result.total, result.page_size) - 1})
        result = await read(cb.page)
    statuses = await order_queries.statuses(shop.id)
    text = list_text(result, cb, search, shop.name, shop.timezone, statuses, language)
    markup = list_keyboard(result, cb, statuses, language)
    if edit:
        await target.edit_text(text, reply_markup=markup)
    else:
        await target.answer(text, reply_markup=markup)


async def draw_queue(
    target: Message,
    page: int,
    *,
    membership: Membership,
    user: Person,
    order_queries: OrderQueries,
    language: str,
    edit: bool,
) -> None:
    shop = membership.shop
    result = await order_queries.queue(shop.id, user.id, max(page, 0))
    if not result.rows and page > 0 and result.total:
        result = await order_queries.queue(
            shop.id, user.id, page_count(result.total, result.page_size) - 1
        )
    lines = [_("<b>My queue</b> · {shop}").format(shop=esc(shop.name))]
    if result.rows:
        lines += rows_text(result, shop.timezone, language)
    else:
        lines += ["", _("Nothing waits for you. 🎉")]
    builder = InlineKeyboardBuilder()
    order_buttons(builder, result.rows)
    nav = nav_row(
        ListCB(act=ListAct.QUEUE), result.page, page_count(result.total, result.page_size)
    )
    if nav:
        builder.row(*nav)
    builder.row(
        InlineKeyboardButton(
            text=_("🔄 Refresh"), callback_data=ListCB(act=ListAct.QUEUE, page=result.page).pack()
        ),
        InlineKeyboardButton(
            text=_("📦 All orders"), callback_data=ListCB(act=ListAct.PAGE).pack()
        ),
        InlineKeyboardButton(text=_("🏠 Menu"), callback_data=MenuCB(act=MenuAct.HOME).pack()),
    )
    text, markup = "\n".join(lines), builder.as_markup()
    if edit:
        await target.edit_text(text, reply_markup=markup)
    else:
        await target.answer(text, reply_markup=markup)


# -- the list ------------------------------------------------------------------------


async def orders_command(
    message: Message,
    command: CommandObject,
    users: UserService,
    user: Person,
    order_queries: OrderQueries,
    state: FSMContext,
    i18n: I18n,
) -> None:
    query = (command.args or "").strip()[:MAX_SEARCH]
    await _list_command(
        message,
        ListCB(act=ListAct.PAGE, q=bool(query)),
        query,
        users,
        user,
        order_queries,
        state,
        i18n,
    )


async def problems_command(
    message: Message,
    users: UserService,
    user: Person,
    order_queries: OrderQueries,
    state: FSMContext,
    i18n: I18n,
) -> None:
    """The orders flagged as problems: past their time limit (B2)."""
    await _list_command(
        message, ListCB(act=ListAct.PAGE, pr=True), "", users, user, order_queries, state, i18n
    )


async def _list_command(
    message: Message,
    cb: ListCB,
    query: str,
    users: UserService,
    user: Person,
    order_queries: OrderQueries,
    state: FSMContext,
    i18n: I18n,
) -> None:
    await end_search(state)
    membership = await shop_of(users, user, message)
    if membership is None:
        return
    await search_store(state).set_data({"search": query} if query else {})
    await draw_list(
        message,
        cb,
        membership=membership,
        user=user,
        order_queries=order_queries,
        state=state,
        language=i18n.current_locale,
        edit=False,
    )


async def orders_from_menu(
    query: CallbackQuery,
    users: UserService,
    user: Person,
    order_queries: OrderQueries,
    state: FSMContext,
    i18n: I18n,
) -> None:
    await end_search(state)
    membership = await shop_of(users, user, query.message)
    if membership is None:
        return
    await draw_list(
        query.message,
        ListCB(act=ListAct.PAGE),
        membership=membership,
        user=user,
        order_queries=order_queries,
        state=state,
        language=i18n.current_locale,
        edit=True,
    )


async def page(
    query: CallbackQuery,
    callback_data: ListCB,
    users: UserService,
    user: Person,
    order_queries: OrderQueries,
    state: FSMContext,
    i18n: I18n,
) -> None:
    await end_search(state)  # the search prompt's "cancel" is this button too
    membership = await shop_of(users, user, query.message)
    if membership is None:
        return
    if callback_data.act is ListAct.RESET:
        await search_store(state).set_data({})
        callback_data = ListCB(act=ListAct.PAGE)
    await draw_list(
        query.message,
        callback_data,
        membership=membership,
        user=user,
        order_queries=order_queries,
        state=state,
        language=i18n.current_locale,
        edit=True,
    )


async def choose_status(
    query: CallbackQuery,
    callback_data: ListCB,
    users: UserService,
    user: Person,
    order_queries: OrderQueries,
    i18n: I18n,
) -> None:
    membership = await shop_of(users, user, query.message)
    if membership is None:
        return
    statuses = await order_queries.statuses(membership.shop.id)
    await query.message.edit_reply_markup(
        reply_markup=statuses_keyboard(callback_data, statuses, i18n.current_locale)
    )


async def ask_search(query: CallbackQuery, callback_data: ListCB, state: FSMContext) -> None:
    await state.set_state(ListSearch.query)
    back = callback_data.model_copy(update={"act": ListAct.PAGE})
    await state.update_data(filters=back.pack())
    await query.message.answer(
        _("Send the order's number or the buyer's phone."),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text=_("✖️ Cancel"), callback_data=back.pack())]]
        ),
    )


async def search_typed(
    message: Message,
    users: UserService,
    user: Person,
    order_queries: OrderQueries,
    state: FSMContext,
    i18n: I18n,
) -> None:
    text = message.text.strip()
    if not text or len(text) > MAX_SEARCH:
        await message.answer(_("Send a number like 12 or a phone like +79161234567."))
        return
    data = await state.get_data()
    await end_search(state)
    membership = await shop_of(users, user, message)
    if membership is None:
        return
    try:
        cb = ListCB.unpack(data.get("filters", ""))
    except (TypeError, ValueError):
        cb = ListCB(act=ListAct.PAGE)
    await search_store(state).set_data({"search": text})
    await draw_list(
        message,
        cb.model_copy(update={"q": True, "page": 0}),
        membership=membership,
        user=user,
        order_queries=order_queries,
        state=state,
        language=i18n.current_locale,
        edit=False,
    )


async def open_order(
    query: CallbackQuery,
    callback_data: ListCB,
    orders: OrderService,
    actor: ActorRef,
    i18n: I18n,
    cards: CardRegistry,
) -> None:
    # The service decides whether this person may see the order: an id from another shop's
    # list, or a forged one, is "not found" and opens nothing.
    await open_card(query.message, orders, actor, callback_data.id, i18n.current_locale, cards)


async def page_counter(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    callback_answer.text = _("Use ◀️ and ▶️ to turn pages.")


# -- my queue ------------------------------------------------------------------------


async def queue_command(
    message: Message,
    users: UserService,
    user: Person,
    order_queries: OrderQueries,
    state: FSMContext,
    i18n: I18n,
) -> None:
    await end_search(state)
    membership = await shop_of(users, user, message)
    if membership is None:
        return
    await draw_queue(
        message,
        0,
        membership=membership,
        user=user,
        order_queries=order_queries,
        language=i18n.current_locale,
        edit=False,
    )


async def queue_from_menu(
    query: CallbackQuery,
    users: UserService,
    user: Person,
    order_queries: OrderQueries,
    state: FSMContext,
    i18n: I18n,
) -> None:
    await end_search(state)
    membership = await shop_of(users, user, query.message)
    if membership is None:
        return
    await draw_queue(
        query.message,
        0,
        membership=membership,
        user=user,
        order_queries=order_queries,
        language=i18n.current_locale,
        edit=True,
    )


async def queue_page(
    query: CallbackQuery,
    callback_data: ListCB,
    users: UserService,
    user: Person,
    order_queries: OrderQueries,
    i18n: I18n,
) -> None:
    membership = await shop_of(users, user, query.message)
    if membership is None:
        return
    await draw_queue(
        query.message,
        callback_data.page,
        membership=membership,
        user=user,
        order_queries=order_queries,
        language=i18n.current_locale,
        edit=True,
    )


def router() -> Router:
    router = Router(name=__name__)
    router.message.register(orders_command, Command("orders"))
    router.message.register(problems_command, Command("problems"))
    router.callback_query.register(orders_from_menu, MenuCB.filter(F.act == MenuAct.ORDERS))
    router.callback_query.register(page, ListCB.filter(F.act.in_({ListAct.PAGE, ListAct.RESET})))
    router.callback_query.register(choose_status, ListCB.filter(F.act == ListAct.STATUSES))
    router.callback_query.register(ask_search, ListCB.filter(F.act == ListAct.SEARCH))
    router.message.register(search_typed, ListSearch.query, F.text, ~F.text.startswith("/"))
    router.callback_query.register(open_order, ListCB.filter(F.act == ListAct.OPEN))
    router.callback_query.register(page_counter, ListCB.filter(F.act == ListAct.NOOP))
    router.message.register(queue_command, Command("queue"))
    router.callback_query.register(queue_from_menu, MenuCB.filter(F.act == MenuAct.QUEUE))
    router.callback_query.register(queue_page, ListCB.filter(F.act == ListAct.QUEUE))
    return router
