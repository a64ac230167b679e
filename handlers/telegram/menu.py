"""The main menu: what a person can reach from /start, by their place in their shops."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.format import esc, role_name
from services.shops.users import Membership
from services.vocabulary import SUPERVISOR_ROLES


class MenuAct(StrEnum):
    ORDERS = "orders"  # handlers.telegram.order_list
    QUEUE = "queue"  # handlers.telegram.order_list
    NEW_ORDER = "new"  # handlers.telegram.manual_order
    SETTINGS = "settings"  # handlers.telegram.shop_settings
    STAFF = "staff"  # handlers.telegram.staff
    SHOPS = "shops"  # handlers.telegram.shop_settings: switch between shops
    CREATE_SHOP = "create"  # handlers.telegram.onboarding
    HOME = "home"  # this menu again


class MenuCB(CallbackData, prefix="m"):
    act: MenuAct


def menu_text(membership: Membership | None) -> str:
    if membership is None:
        return _(
            "Hello! I manage a shop's orders in Telegram: new-order pings, status buttons, "
            "the buyer's dialog. Create your shop to begin, or open the invite link your "
            "shop's owner sent you."
        )
    roles = ", ".join(role_name(role) for role in sorted(membership.roles))
    text = _("<b>{shop}</b>\nYour role: {roles}").format(
        shop=esc(membership.shop.name), roles=roles
    )
    if getattr(membership.shop, "suspended_at", None) is not None:
        text += "\n\n" + suspension_notice(membership.shop.suspension_reason)
    return text


def suspension_notice(reason: str | None) -> str:
    """What a suspended shop's staff read (services/shops/suspension.py: what it stops)."""
    return _(
        "⛔ <b>The shop is suspended</b> by the operator of this bot: {reason}\n"
        "Orders cannot be created or changed and the storefront API is closed until it is "
        "resumed. Buyers can still write to you, and nothing is lost."
    ).format(reason=esc(reason or "—"))


def menu_keyboard(membership: Membership | None, shop_count: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()

    def add(text: str, act: MenuAct) -> None:
        builder.button(text=text, callback_data=MenuCB(act=act).pack())

    if membership is not None:
        add(_("📦 Orders"), MenuAct.ORDERS)
        add(_("📥 My queue"), MenuAct.QUEUE)
        add(_("➕ New order"), MenuAct.NEW_ORDER)
        if membership.roles & SUPERVISOR_ROLES:
            add(_("⚙️ Settings"), MenuAct.SETTINGS)
            add(_("👥 Staff"), MenuAct.STAFF)
        if shop_count > 1:
            add(_("🔀 Switch shop"), MenuAct.SHOPS)
    # A packer or courier came to work in someone's shop, not to open one (/newshop still can).
    if membership is None or membership.is_supervisor:
        add(_("🏪 Create a shop"), MenuAct.CREATE_SHOP)
    builder.adjust(2)
    return builder.as_markup()
