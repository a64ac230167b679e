"""/start with and without a deep link, /help and the main menu.

Deep links: `inv_<token>` is a staff invite (C2); any other payload is an order's buyer link
(C5), handled by handlers.telegram.buyer.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n.context import get_i18n

from handlers.telegram.buyer import open_by_link
from handlers.telegram.command_menus import show_menu_for
from handlers.telegram.format import esc, role_name
from handlers.telegram.menu import MenuAct, MenuCB, menu_keyboard, menu_text
from services.buyers.service import BuyerService
from services.messaging.cards import CardRegistry
from services.orders.actors import ActorRef
from services.orders.service import OrderService
from services.shops.staff import StaffService
from services.shops.users import Person, UserService

INVITE_PREFIX = "inv_"  # /start inv_<token>: a staff invite (C2)


async def send_menu(
    message: Message, users: UserService, user: Person, *, edit: bool = False
) -> None:
    membership = await users.current_shop(user.id)
    shops = await users.memberships(user.id)
    text, markup = menu_text(membership), menu_keyboard(membership, len(shops))
    if edit:
        await message.edit_text(text, reply_markup=markup)
    else:
        await message.answer(text, reply_markup=markup)
    if message.chat.type == "private":
        i18n = get_i18n()
        roles = membership.roles if membership is not None else frozenset()
        await show_menu_for(message.bot, message.chat.id, roles, i18n, i18n.current_locale)


async def accept_invite(
    message: Message,
    command: CommandObject,
    staff: StaffService,
    users: UserService,
    user: Person,
    state: FSMContext,
) -> None:
    await state.clear()
    joined = await staff.accept(command.args.removeprefix(INVITE_PREFIX), user.id)
    await message.answer(
        _("Welcome to {shop}! Your role: {role}.").format(
            shop=esc(joined.shop.name), role=role_name(joined.role)
        )
    )
    await users.switch_shop(user.id, joined.shop.id)
    await send_menu(message, users, user)


async def buyer_link(
    message: Message,
    command: CommandObject,
    buyers: BuyerService,
    orders: OrderService,
    actor: ActorRef,
    user: Person,
    state: FSMContext,
    i18n: I18n,
    cards: CardRegistry,
) -> None:
    await state.clear()
    await open_by_link(
        message, command.args, buyers, orders, actor, user, i18n.current_locale, cards
    )


async def start(message: Message, users: UserService, user: Person, state: FSMContext) -> None:
    await state.clear()
    await send_menu(message, users, user)


async def help_command(message: Message) -> None:
    await message.answer(
        _(
            "/start — main menu\n"
            "/orders — orders, with filters and search\n"
            "/queue — orders waiting for you\n"
            "/problems — orders past their time limit\n"
            "/order 12 — open order #12\n"
            "/new — a new order taken by phone\n"
            "/settings — shop settings\n"
            "/staff — staff and invite links\n"
            "/bind — in a group: send the shop's order pings here\n"
            "/my — the orders you bought\n"
            "/language — your language"
        )
    )


async def home(query: CallbackQuery, users: UserService, user: Person, state: FSMContext) -> None:
    await state.clear()
    await send_menu(query.message, users, user, edit=True)


def router() -> Router:
    router = Router(name=__name__)
    router.message.register(
        accept_invite, CommandStart(deep_link=True), F.text.contains(" " + INVITE_PREFIX)
    )
    router.message.register(buyer_link, CommandStart(deep_link=True), F.chat.type == "private")
    router.message.register(start, CommandStart())
    router.message.register(help_command, Command("help"))
    router.callback_query.register(home, MenuCB.filter(F.act == MenuAct.HOME))
    return router
