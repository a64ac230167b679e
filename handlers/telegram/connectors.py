"""A shop's platforms in /settings (H4): connect WooCommerce, Shopify or Tilda, see what they
sent (and what could not be taken), disconnect.

Connecting asks for each credential the platform needs, one message at a time; a message
carrying a secret is deleted from the chat as soon as it is read, and no secret is ever
shown back (services.storefront.connections.service seals them). The end shows the address
to paste into the platform's webhook settings. Owners and admins only; callback data carries
the shop's id and the platform's name only.
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
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from handlers.telegram.format import esc
from handlers.telegram.onboarding import TYPED
from services.refusals import Reason, Refused
from services.storefront.connections.registry import PLATFORMS, TITLES
from services.storefront.connections.service import ConnectionInfo, ConnectionService
from services.storefront.connectors.tilda import KEY_NAME

if TYPE_CHECKING:
    from bot.settings import Settings
    from services.shops.users import Person  # what the identity middleware gives

Platform = Annotated[str, Field(max_length=16)]


class ConnAct(StrEnum):
    MENU = "m"  # the platforms, connected or not
    CONNECT = "c"  # start connecting `platform`
    DISCONNECT = "d"  # ask to confirm disconnecting `platform`
    DISCONNECT_YES = "y"
    RECEIVED = "r"  # what the platforms sent lately


class ConnectorsCB(CallbackData, prefix="cn"):
    act: ConnAct
    shop: int
    platform: Platform = ""


class ConnectorEdit(StatesGroup):
    field = State()  # typing the credential `index` of `platform`


def connectors_button(shop_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("🔌 Platforms: WooCommerce, Shopify, Tilda"),
        callback_data=ConnectorsCB(act=ConnAct.MENU, shop=shop_id).pack(),
    )


def _button(text: str, act: ConnAct, shop_id: int, platform: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=text, callback_data=ConnectorsCB(act=act, shop=shop_id, platform=platform).pack()
    )


def inbound_url(public_url: str, info: ConnectionInfo) -> str:
    return f"{public_url.rstrip('/')}/connectors/{info.platform}/{info.path_token}"


async def menu_screen(
    connections: ConnectionService, shop_id: int, user_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    connected = {info.platform: info for info in await connections.list(shop_id, user_id=user_id)}
    lines = [
        _("🔌 <b>Platforms</b>"),
        _(
            "Connect the shop's store: its orders come in by themselves, and WooCommerce and "
            "Shopify hear back when an order is shipped, completed or cancelled."
        ),
        "",
    ]
    builder = InlineKeyboardBuilder()
    for platform in PLATFORMS:
        info = connected.get(platform)
        if info is None:
            lines.append(_("• {platform}: not connected").format(platform=TITLES[platform]))
            builder.button(
                text=_("➕ Connect {platform}").format(platform=TITLES[platform]),
                callback_data=ConnectorsCB(act=ConnAct.CONNECT, shop=shop_id, platform=platform),
            )
            continue
        where = ", ".join(esc(value) for value in info.shown.values())
        lines.append(
            _("• {platform}: connected {where}").format(platform=TITLES[platform], where=where)
        )
        builder.button(
            text=_("🔁 Connect {platform} again").format(platform=TITLES[platform]),
            callback_data=ConnectorsCB(act=ConnAct.CONNECT, shop=shop_id, platform=platform),
        )
        builder.button(
            text=_("🗑 Disconnect {platform}").format(platform=TITLES[platform]),
            callback_data=ConnectorsCB(act=ConnAct.DISCONNECT, shop=shop_id, platform=platform),
        )
    builder.button(
        text=_("📥 What the platforms sent"),
        callback_data=ConnectorsCB(act=ConnAct.RECEIVED, shop=shop_id),
    )
    from handlers.telegram.api_tokens import TokensAct, TokensCB

    builder.button(
        text=_("↩️ Back"), callback_data=TokensCB(act=TokensAct.MENU, shop=shop_id).pack()
    )
    builder.adjust(1)
    return "\n".join(lines), builder.as_markup()


async def show_menu(
    query: CallbackQuery,
    callback_data: ConnectorsCB,
    user: Person,
    connections: ConnectionService,
    state: FSMContext,
) -> None:
    await state.clear()
    text, markup = await menu_screen(connections, callback_data.shop, user.id)
    await query.message.edit_text(text, reply_markup=markup)


# -- connecting ------------------------------------------------------------------------------


def _back(shop_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[_button(_("↩️ Back"), ConnAct.MENU, shop_id)]])


async def start_connect(
    query: CallbackQuery,
    callback_data: ConnectorsCB,
    user: Person,
    connections: ConnectionService,
    settings: Settings,
    state: FSMContext,
) -> None:
    platform, shop_id = callback_data.platform, callback_data.shop
    if platform not in PLATFORMS:
        raise Refused(Reason.NOT_FOUND, "no such platform")
    await connections.list(shop_id, user_id=user.id)  # owners and admins only
    fields = connections.asked(platform)
    if not fields:  # Tilda: the key is ours to make
        made = await connections.connect(shop_id, platform, {}, user_id=user.id)
        await query.message.edit_text(
            _connected_text(made.info, made.made_secret, settings.public_url),
            reply_markup=_back(shop_id),
        )
        return
    await state.set_state(ConnectorEdit.field)
    await state.update_data(shop_id=shop_id, platform=platform, index=0, typed={})
    await query.message.edit_text(
        _ask(platform, 0, fields[0].title, len(fields)), reply_markup=_back(shop_id)
    )


def _ask(platform: str, index: int, title: str, count: int) -> str:
    return _(
        "{platform}, {n} of {count}: send the <b>{field}</b>. A message with a secret is "
        "deleted as soon as it is read."
    ).format(platform=TITLES[platform], n=index + 1, count=count, field=esc(title))


async def field_typed(
    message: Message,
    user: Person,
    connections: ConnectionService,
    settings: Settings,
    state: FSMContext,
    bot: Bot,
) -> None:
    data = await state.get_data()
    platform, shop_id, index = data["platform"], data["shop_id"], data["index"]
    fields = connections.asked(platform)
    field = fields[index]
    if field.secret:
        with contextlib.suppress(TelegramAPIError):
            await bot.delete_message(message.chat.id, message.message_id)
    typed = {**data["typed"], field.name: connections.hold(message.text.strip()[:1000])}
    if index + 1 < len(fields):
        await state.update_data(index=index + 1, typed=typed)
        await message.answer(
            _ask(platform, index + 1, fields[index + 1].title, len(fields)),
            reply_markup=_back(shop_id),
        )
        return
    await state.clear()
    try:
        made = await connections.connect(shop_id, platform, typed, user_id=user.id, held=True)
    except Refused as refusal:
        if refusal.code is not Reason.INVALID:
            raise
        wrong = next(
            (f.title for f in fields if f.name == refusal.params.get("field")),
            refusal.params.get("field", ""),
        )
        await message.answer(
            _("Not connected: «{field}» is not right ({problem}). Start again.").format(
                field=esc(wrong), problem=esc(refusal.message)
            ),
            reply_markup=_back(shop_id),
        )
        return
    await message.answer(
        _connected_text(made.info, made.made_secret, settings.public_url),
        reply_markup=_back(shop_id),
    )


def _connected_text(info: ConnectionInfo, made_secret: str | None, public_url: str) -> str:
    url = inbound_url(public_url, info)
    head = _("✅ {platform} is connected.").format(platform=TITLES[info.platform])
    if info.platform == "woocommerce":
        how = _(
            "In WordPress: WooCommerce → Settings → Advanced → Webhooks → Add webhook, twice: "
            "topic «Order created», then «Order updated»; delivery URL:\n<code>{url}</code>\n"
            "Secret: the webhook secret you sent here. Statuses go back through the REST API "
            "keys you sent."
        ).format(url=url)
    elif info.platform == "shopify":
        how = _(
            "In Shopify: your custom app (or Settings → Notifications → Webhooks) → create "
            "webhooks for «Order creation» and «Order update», format JSON, URL:\n"
            "<code>{url}</code>\nThey are signed with the API secret key you sent here. "
            "Shipments go back as fulfilments with the track code."
        ).format(url=url)
    else:
        how = _(
            "In Tilda: Site settings → Forms → Webhook, URL:\n<code>{url}</code>\n"
            "Add an API key: name <code>{name}</code>, value (shown only this once):\n"
            "<code>{key}</code>\nAttach the webhook to the cart's form. A form without a "
            "cart becomes a call-back request."
        ).format(url=url, name=KEY_NAME, key=esc(made_secret or ""))
    return f"{head}\n\n{how}"


# -- disconnecting ---------------------------------------------------------------------------


async def confirm_disconnect(
    query: CallbackQuery, callback_data: ConnectorsCB, user: Person, connections: ConnectionService
) -> None:
    await connections.list(callback_data.shop, user_id=user.id)  # owners and admins only
    platform = TITLES.get(callback_data.platform, "?")
    builder = InlineKeyboardBuilder()
    builder.row(
        _button(
            _("🗑 Yes, disconnect"),
            ConnAct.DISCONNECT_YES,
            callback_data.shop,
            callback_data.platform,
        )
    )
    builder.row(_button(_("↩️ Back"), ConnAct.MENU, callback_data.shop))
    await query.message.edit_text(
        _(
            "Disconnect {platform}? Its credentials are forgotten and what it sends from now "
            "on is refused. Orders already taken stay."
        ).format(platform=platform),
        reply_markup=builder.as_markup(),
    )


async def disconnect(
    query: CallbackQuery,
    callback_data: ConnectorsCB,
    user: Person,
    connections: ConnectionService,
    callback_answer: CallbackAnswer,
) -> None:
    await connections.disconnect(callback_data.shop, callback_data.platform, user_id=user.id)
    callback_answer.text = _("Disconnected.")
    text, markup = await menu_screen(connections, callback_data.shop, user.id)
    await query.message.edit_text(text, reply_markup=markup)


# -- what the platforms sent -----------------------------------------------------------------


def _outcome(outcome: str) -> str:
    return {
        "created": _("✅ order created"),
        "duplicate": _("↩️ taken before"),
        "ignored": _("· nothing to take"),
        "callback": _("📞 call-back request"),
        "refused": _("⚠️ refused"),
        "unverified": _("⛔ not verified"),
    }.get(outcome, outcome)


async def received(
    query: CallbackQuery, callback_data: ConnectorsCB, user: Person, connections: ConnectionService
) -> None:
    lines = [_("📥 <b>What the platforms sent</b>, newest first (UTC)")]
    for line in await connections.deliveries(callback_data.shop, user_id=user.id):
        text = (
            f"• {line.created_at.strftime('%m-%d %H:%M')} {TITLES.get(line.platform, '?')}"
            f"{' ' + esc(line.platform_order_id) if line.platform_order_id else ''}: "
            f"{_outcome(line.outcome)}"
        )
        if line.order_numbers:
            text += " " + ", ".join(f"#{n}" for n in line.order_numbers)
        if line.reason:
            text += f"\n   {esc(line.reason[:300])}"
        lines.append(text)
    if len(lines) == 1:
        lines.append(_("Nothing yet."))
    await query.message.edit_text("\n".join(lines)[:4000], reply_markup=_back(callback_data.shop))


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(show_menu, ConnectorsCB.filter(F.act == ConnAct.MENU))
    router.callback_query.register(start_connect, ConnectorsCB.filter(F.act == ConnAct.CONNECT))
    router.message.register(field_typed, ConnectorEdit.field, TYPED)
    router.callback_query.register(
        confirm_disconnect, ConnectorsCB.filter(F.act == ConnAct.DISCONNECT)
    )
    router.callback_query.register(disconnect, ConnectorsCB.filter(F.act == ConnAct.DISCONNECT_YES))
    router.callback_query.register(received, ConnectorsCB.filter(F.act == ConnAct.RECEIVED))
    return router
