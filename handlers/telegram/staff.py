"""Staff (C2): the list with roles, invite links that carry a role, removing people, and
binding a group chat for the shop's pings (the bot is added to a group, then /bind there).

Callback data carries the shop's and the person's ids only; StaffService and
ShopSettingsService decide whether the tapper may see or change anything.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from aiogram import Bot, F, Router
from aiogram.filters import JOIN_TRANSITION, ChatMemberUpdatedFilter, Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.command_menus import show_menu_for
from handlers.telegram.format import esc, role_name
from handlers.telegram.menu import MenuAct, MenuCB
from handlers.telegram.start import INVITE_PREFIX
from services.refusals import Reason, Refused
from services.shops.settings import ShopSettingsService
from services.shops.staff import INVITABLE_ROLES, StaffService
from services.shops.users import Person, UserService, pick_language
from services.vocabulary import SUPERVISOR_ROLES

INVITE_TTL = timedelta(hours=48)
GROUPS = {"group", "supergroup"}


class StaffAct(StrEnum):
    LIST = "l"
    INVITE = "i"  # choose the role of a new invite
    ROLE = "r"  # role `role` chosen: make the link
    REMOVE = "d"  # remove `member`: ask to confirm
    SURE = "y"  # removal of `member` confirmed


class StaffCB(CallbackData, prefix="sf"):
    act: StaffAct
    shop: int
    member: int = 0  # a user id
    role: str = ""


def person(user: Person) -> str:
    name = esc(user.name) or _("(no name)")
    return f"{name} (@{esc(user.username)})" if user.username else name


def back_to_list(shop_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("↩️ Back"), callback_data=StaffCB(act=StaffAct.LIST, shop=shop_id).pack()
    )


async def current_shop_id(users: UserService, user: Person) -> int | None:
    membership = await users.current_shop(user.id)
    return membership.shop.id if membership is not None else None


async def require_supervisor(staff: StaffService, shop_id: int, user: Person) -> None:
    """Whether to offer the invite and remove steps at all; the service decides each change."""
    roles = await staff.roles(shop_id, user.id)
    if not roles:
        raise Refused(Reason.NOT_FOUND, "not staff of this shop")
    if not roles & SUPERVISOR_ROLES:
        raise Refused(Reason.FORBIDDEN, "not an owner or admin")


async def render_list(
    staff: StaffService, shop_id: int, user: Person
) -> tuple[str, InlineKeyboardMarkup]:
    entries = await staff.list(shop_id, user.id)
    manages = bool(await staff.roles(shop_id, user.id) & SUPERVISOR_ROLES)
    lines = [_("<b>Staff</b>")]
    builder = InlineKeyboardBuilder()
    if manages:
        builder.row(
            InlineKeyboardButton(
                text=_("➕ Invite"),
                callback_data=StaffCB(act=StaffAct.INVITE, shop=shop_id).pack(),
            )
        )
    for entry in entries:
        roles = ", ".join(role_name(role) for role in sorted(entry.roles))
        lines.append(f"• {person(entry.user)}: {roles}")
        if not manages:
            continue
        builder.row(
            InlineKeyboardButton(
                text=_("✖️ Remove {name}").format(name=entry.user.name or entry.user.id),
                callback_data=StaffCB(
                    act=StaffAct.REMOVE, shop=shop_id, member=entry.user.id
                ).pack(),
            )
        )
    builder.row(
        InlineKeyboardButton(text=_("🏠 Menu"), callback_data=MenuCB(act=MenuAct.HOME).pack())
    )
    return "\n".join(lines), builder.as_markup()


async def staff_command(
    message: Message, staff: StaffService, users: UserService, user: Person
) -> None:
    shop_id = await current_shop_id(users, user)
    if shop_id is None:
        await message.answer(_("You are not staff in any shop yet: create one with /newshop."))
        return
    text, markup = await render_list(staff, shop_id, user)
    await message.answer(text, reply_markup=markup)


async def staff_button(
    query: CallbackQuery, staff: StaffService, users: UserService, user: Person
) -> None:
    shop_id = await current_shop_id(users, user)
    if shop_id is None:
        raise Refused(Reason.NOT_FOUND, "no shop")
    text, markup = await render_list(staff, shop_id, user)
    await query.message.edit_text(text, reply_markup=markup)


async def show_list(
    query: CallbackQuery, callback_data: StaffCB, staff: StaffService, user: Person
) -> None:
    text, markup = await render_list(staff, callback_data.shop, user)
    await query.message.edit_text(text, reply_markup=markup)


async def choose_role(
    query: CallbackQuery, callback_data: StaffCB, staff: StaffService, user: Person
) -> None:
    await require_supervisor(staff, callback_data.shop, user)
    builder = InlineKeyboardBuilder()
    for role in INVITABLE_ROLES:
        builder.button(
            text=role_name(role),
            callback_data=StaffCB(act=StaffAct.ROLE, shop=callback_data.shop, role=role).pack(),
        )
    builder.adjust(2)
    builder.row(back_to_list(callback_data.shop))
    await query.message.edit_text(
        _("Which role will the new person have?"), reply_markup=builder.as_markup()
    )


async def make_invite(
    query: CallbackQuery, callback_data: StaffCB, staff: StaffService, user: Person, bot: Bot
) -> None:
    token = await staff.invite(callback_data.shop, user.id, callback_data.role, INVITE_TTL)
    me = await bot.me()
    link = f"https://t.me/{me.username}?start={INVITE_PREFIX}{token}"
    await query.message.edit_text(
        _(
            "Send this link to your new {role}:\n{link}\n\nIt works once and expires in 48 hours."
        ).format(role=role_name(callback_data.role), link=esc(link)),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[back_to_list(callback_data.shop)]]),
    )


async def confirm_removal(
    query: CallbackQuery, callback_data: StaffCB, staff: StaffService, user: Person
) -> None:
    await require_supervisor(staff, callback_data.shop, user)
    entries = await staff.list(callback_data.shop, user.id)
    entry = next((e for e in entries if e.user.id == callback_data.member), None)
    if entry is None:
        raise Refused(Reason.NOT_FOUND, "not staff here")
    await query.message.edit_text(
        _("Remove {person} ({roles}) from the staff? They will stop getting orders.").format(
            person=person(entry.user),
            roles=", ".join(role_name(role) for role in sorted(entry.roles)),
        ),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=_("✅ Yes, remove"),
                        callback_data=StaffCB(
                            act=StaffAct.SURE, shop=callback_data.shop, member=entry.user.id
                        ).pack(),
                    ),
                    back_to_list(callback_data.shop),
                ]
            ]
        ),
    )


async def remove(
    query: CallbackQuery,
    callback_data: StaffCB,
    staff: StaffService,
    users: UserService,
    user: Person,
    callback_answer: CallbackAnswer,
    i18n: I18n,
) -> None:
    await staff.remove(callback_data.shop, user.id, callback_data.member)
    callback_answer.text = _("Removed.")
    # Their "/" menu loses what they may no longer use (the buyer's, when no shop is left).
    member = await users.get(callback_data.member)
    if member.telegram_id is not None:
        current = await users.current_shop(member.id)
        roles = current.roles if current is not None else frozenset()
        language = pick_language(member.language, member.telegram_language)
        await show_menu_for(query.bot, member.telegram_id, roles, i18n, language)
    if callback_data.member == user.id:
        await query.message.edit_text(_("You are no longer staff in this shop."))
        return
    text, markup = await render_list(staff, callback_data.shop, user)
    await query.message.edit_text(text, reply_markup=markup)


# -- the staff group chat ------------------------------------------------------------------


async def added_to_group(event: ChatMemberUpdated, bot: Bot) -> None:
    if event.chat.type not in GROUPS:
        return
    await bot.send_message(
        event.chat.id,
        _(
            "Hello! I can post this shop's new orders and status changes here.\n"
            "An owner or admin of the shop: send /bind in this group to connect it "
            "(/unbind to stop)."
        ),
    )


async def bind_in_private(message: Message) -> None:
    await message.answer(
        _("Add me to your staff group, then send /bind there (or /unbind to stop the pings).")
    )


async def bind(
    message: Message, users: UserService, user: Person, shop_settings: ShopSettingsService
) -> None:
    membership = await users.current_shop(user.id)
    try:
        if membership is None:
            raise Refused(Reason.FORBIDDEN, "no shop")
        await shop_settings.bind_staff_chat(membership.shop.id, user.id, message.chat.id)
    except Refused as refusal:
        if refusal.code is not Reason.FORBIDDEN:
            raise
        await message.answer(
            _("Only a shop's owner or admin can bind a group; this group is not bound.")
        )
        return
    await message.answer(
        _("Done: this group now gets the order pings of <b>{shop}</b>.").format(
            shop=esc(membership.shop.name)
        )
    )


async def unbind(
    message: Message, users: UserService, user: Person, shop_settings: ShopSettingsService
) -> None:
    membership = await users.current_shop(user.id)
    if membership is not None and membership.shop.staff_chat_id != message.chat.id:
        # Another group (or none) gets this shop's pings: unbinding here would stop those.
        await message.answer(
            _("This group does not get the order pings of <b>{shop}</b>.").format(
                shop=esc(membership.shop.name)
            )
        )
        return
    try:
        if membership is None:
            raise Refused(Reason.FORBIDDEN, "no shop")
        await shop_settings.unbind_staff_chat(membership.shop.id, user.id)
    except Refused as refusal:
        if refusal.code is not Reason.FORBIDDEN:
            raise
        await message.answer(_("Only a shop's owner or admin can unbind a group."))
        return
    await message.answer(
        _("Done: <b>{shop}</b> no longer sends order pings to a group.").format(
            shop=esc(membership.shop.name)
        )
    )


def router() -> Router:
    router = Router(name=__name__)
    router.message.register(staff_command, Command("staff"), F.chat.type == "private")
    router.callback_query.register(staff_button, MenuCB.filter(F.act == MenuAct.STAFF))
    router.callback_query.register(show_list, StaffCB.filter(F.act == StaffAct.LIST))
    router.callback_query.register(choose_role, StaffCB.filter(F.act == StaffAct.INVITE))
    router.callback_query.register(make_invite, StaffCB.filter(F.act == StaffAct.ROLE))
    router.callback_query.register(confirm_removal, StaffCB.filter(F.act == StaffAct.REMOVE))
    router.callback_query.register(remove, StaffCB.filter(F.act == StaffAct.SURE))
    router.my_chat_member.register(
        added_to_group, ChatMemberUpdatedFilter(member_status_changed=JOIN_TRANSITION)
    )
    router.message.register(bind_in_private, Command("bind", "unbind"), F.chat.type == "private")
    router.message.register(bind, Command("bind"), F.chat.type.in_(GROUPS))
    router.message.register(unbind, Command("unbind"), F.chat.type.in_(GROUPS))
    return router
