"""The shop's storefront API tokens and webhook (G1), reached from /settings.

Owners and admins list the tokens, make one (shown once, here, never again) and revoke one
after a confirmation; they set the webhook URL and get its signing secret (shown once, and
made anew on request). Callback data carries the shop's and the token's ids only: the
services decide whether the tapper may do it.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.connectors import connectors_button
from handlers.telegram.format import esc
from handlers.telegram.onboarding import TYPED
from handlers.telegram.webhook_log import log_button
from services.refusals import Reason, Refused
from services.shops.users import Person
from services.storefront.tokens import ApiTokenService, TokenInfo
from services.storefront.webhook_settings import CLEAR, WebhookSettings


class TokensAct(StrEnum):
    MENU = "m"  # the tokens and the webhook
    NEW = "n"  # ask for a new token's name
    REVOKE = "r"  # ask to confirm revoking token `token`
    REVOKE_YES = "y"  # revoke token `token`
    URL = "u"  # ask for the webhook URL
    SECRET = "s"  # ask to confirm a new signing secret
    SECRET_YES = "z"  # make a new signing secret


class TokensCB(CallbackData, prefix="tk"):
    act: TokensAct
    shop: int
    token: int = 0


class TokensEdit(StatesGroup):
    name = State()  # typing a new token's name
    url = State()  # typing the webhook URL


def api_tokens_button(shop_id: int) -> InlineKeyboardButton:
    """The settings menu's way in."""
    return InlineKeyboardButton(
        text=_("🔑 API tokens and webhook"),
        callback_data=TokensCB(act=TokensAct.MENU, shop=shop_id).pack(),
    )


def _back(shop_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("↩️ Back"), callback_data=TokensCB(act=TokensAct.MENU, shop=shop_id).pack()
    )


def _settings_button(shop_id: int) -> InlineKeyboardButton:
    from handlers.telegram.shop_settings import SettingsAct, SettingsCB

    return InlineKeyboardButton(
        text=_("↩️ Settings"), callback_data=SettingsCB(act=SettingsAct.MENU, shop=shop_id).pack()
    )


def _token_line(info: TokenInfo) -> str:
    created = info.created_at.strftime("%Y-%m-%d")
    if info.active:
        return _("• <b>{name}</b>, made {date}").format(name=esc(info.name), date=created)
    return _("• <s>{name}</s>, revoked {date}").format(
        name=esc(info.name), date=info.revoked_at.strftime("%Y-%m-%d")
    )


async def tokens_screen(
    api_tokens: ApiTokenService, webhook_settings: WebhookSettings, shop_id: int, user_id: int
) -> tuple[str, InlineKeyboardMarkup]:
    tokens = await api_tokens.list(shop_id, user_id=user_id)
    webhook = await webhook_settings.get(shop_id, user_id)
    lines = [
        _("🔑 <b>Storefront API</b>"),
        _(
            "A storefront sends orders with a token: POST /api/v1/orders with the header "
            "«Authorization: Bearer &lt;token&gt;». The description is at /api/v1/openapi.json."
        ),
        "",
        _("<b>Tokens:</b>"),
    ]
    lines += [_token_line(info) for info in tokens] or [_("none")]
    lines += [
        "",
        _("<b>Webhook URL:</b> {url}").format(
            url=esc(webhook.url) if webhook.url else _("not set")
        ),
    ]
    if webhook.url:
        lines.append(
            _(
                "Every order's events (created, status changed, updated, cancelled) are sent "
                "there, signed with the secret (also as Standard Webhooks)."
            )
        )
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("➕ New token"), callback_data=TokensCB(act=TokensAct.NEW, shop=shop_id).pack()
    )
    for info in tokens:
        if info.active:
            builder.button(
                text=_("🚫 Revoke «{name}»").format(name=info.name),
                callback_data=TokensCB(act=TokensAct.REVOKE, shop=shop_id, token=info.id).pack(),
            )
    builder.button(
        text=_("🌐 Webhook URL"), callback_data=TokensCB(act=TokensAct.URL, shop=shop_id).pack()
    )
    if webhook.url:
        builder.button(
            text=_("🔁 New signing secret"),
            callback_data=TokensCB(act=TokensAct.SECRET, shop=shop_id).pack(),
        )
    builder.adjust(1)
    builder.row(log_button(shop_id))  # H4: what was sent, retry now
    builder.row(connectors_button(shop_id))  # H4: WooCommerce, Shopify, Tilda
    builder.row(_settings_button(shop_id))
    return "\n".join(lines), builder.as_markup()


async def show_tokens(
    query: CallbackQuery,
    callback_data: TokensCB,
    user: Person,
    api_tokens: ApiTokenService,
    webhook_settings: WebhookSettings,
    state: FSMContext,
) -> None:
    await state.clear()
    text, markup = await tokens_screen(api_tokens, webhook_settings, callback_data.shop, user.id)
    await query.message.edit_text(text, reply_markup=markup)


# -- a new token -----------------------------------------------------------------------------


async def ask_name(
    query: CallbackQuery,
    callback_data: TokensCB,
    user: Person,
    api_tokens: ApiTokenService,
    state: FSMContext,
) -> None:
    await api_tokens.list(callback_data.shop, user_id=user.id)  # owners and admins only
    await state.set_state(TokensEdit.name)
    await state.update_data(shop_id=callback_data.shop)
    await query.message.edit_text(
        _("Send a name for the new token: what it is for, like «website» (up to 64 characters)."),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[_back(callback_data.shop)]]),
    )


async def name_typed(
    message: Message,
    user: Person,
    api_tokens: ApiTokenService,
    webhook_settings: WebhookSettings,
    state: FSMContext,
) -> None:
    shop_id = (await state.get_data())["shop_id"]
    try:
        made = await api_tokens.create(shop_id, message.text, user_id=user.id)
    except Refused as refusal:
        if refusal.code is not Reason.INVALID:
            await state.clear()
            raise
        await message.answer(_("Not saved: a name of 1 to 64 characters is needed."))
        return
    await state.clear()
    await message.answer(
        _(
            "🔑 The token «{name}»:\n<code>{token}</code>\n\n"
            "Copy it into the storefront now: it is shown only this once. Keep it secret."
        ).format(name=esc(made.info.name), token=made.token)
    )
    text, markup = await tokens_screen(api_tokens, webhook_settings, shop_id, user.id)
    await message.answer(text, reply_markup=markup)


# -- revoking ----------------------------------------------------------------------------------


async def confirm_revoke(
    query: CallbackQuery, callback_data: TokensCB, user: Person, api_tokens: ApiTokenService
) -> None:
    tokens = await api_tokens.list(callback_data.shop, user_id=user.id)
    info = next((t for t in tokens if t.id == callback_data.token and t.active), None)
    if info is None:
        raise Refused(Reason.NOT_FOUND, "no such active token")
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("🚫 Yes, revoke"),
        callback_data=TokensCB(
            act=TokensAct.REVOKE_YES, shop=callback_data.shop, token=info.id
        ).pack(),
    )
    builder.row(_back(callback_data.shop))
    await query.message.edit_text(
        _(
            "Revoke the token «{name}»? A storefront using it is refused from this moment on."
        ).format(name=esc(info.name)),
        reply_markup=builder.as_markup(),
    )


async def revoke(
    query: CallbackQuery,
    callback_data: TokensCB,
    user: Person,
    api_tokens: ApiTokenService,
    webhook_settings: WebhookSettings,
    callback_answer: CallbackAnswer,
) -> None:
    info = await api_tokens.revoke(callback_data.shop, callback_data.token, user_id=user.id)
    callback_answer.text = _("The token «{name}» is revoked.").format(name=info.name)
    text, markup = await tokens_screen(api_tokens, webhook_settings, callback_data.shop, user.id)
    await query.message.edit_text(text, reply_markup=markup)


# -- the webhook -----------------------------------------------------------------------------


async def ask_url(
    query: CallbackQuery,
    callback_data: TokensCB,
    user: Person,
    webhook_settings: WebhookSettings,
    state: FSMContext,
) -> None:
    await webhook_settings.get(callback_data.shop, user.id)  # owners and admins only
    await state.set_state(TokensEdit.url)
    await state.update_data(shop_id=callback_data.shop)
    await query.message.edit_text(
        _(
            "Send the storefront's webhook URL, like https://shop.example.com/hooks/shopbot, "
            "or «{clear}» to stop the webhooks."
        ).format(clear=CLEAR),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[_back(callback_data.shop)]]),
    )


async def url_typed(
    message: Message,
    user: Person,
    api_tokens: ApiTokenService,
    webhook_settings: WebhookSettings,
    state: FSMContext,
) -> None:
    shop_id = (await state.get_data())["shop_id"]
    try:
        secret = await webhook_settings.set_url(shop_id, message.text, user_id=user.id)
    except Refused as refusal:
        if refusal.code is not Reason.INVALID:
            await state.clear()
            raise
        if refusal.params.get("inward"):
            await message.answer(_("Not saved: a public address is needed, not a local one."))
        else:
            await message.answer(_("Not saved: an http:// or https:// URL is needed."))
        return
    await state.clear()
    if secret is not None:
        await message.answer(_secret_text(secret))
    else:
        await message.answer(_("Saved."))
    text, markup = await tokens_screen(api_tokens, webhook_settings, shop_id, user.id)
    await message.answer(text, reply_markup=markup)


async def confirm_secret(
    query: CallbackQuery, callback_data: TokensCB, user: Person, webhook_settings: WebhookSettings
) -> None:
    await webhook_settings.get(callback_data.shop, user.id)  # owners and admins only
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("🔁 Yes, a new secret"),
        callback_data=TokensCB(act=TokensAct.SECRET_YES, shop=callback_data.shop).pack(),
    )
    builder.row(_back(callback_data.shop))
    await query.message.edit_text(
        _(
            "Make a new signing secret? Webhooks are signed with it from now on; the old one "
            "stops working."
        ),
        reply_markup=builder.as_markup(),
    )


async def new_secret(
    query: CallbackQuery,
    callback_data: TokensCB,
    user: Person,
    api_tokens: ApiTokenService,
    webhook_settings: WebhookSettings,
) -> None:
    secret = await webhook_settings.regenerate_secret(callback_data.shop, user_id=user.id)
    await query.message.edit_text(_secret_text(secret))
    text, markup = await tokens_screen(api_tokens, webhook_settings, callback_data.shop, user.id)
    await query.message.answer(text, reply_markup=markup)


def _secret_text(secret: str) -> str:
    return _(
        "🔏 The webhook signing secret:\n<code>{secret}</code>\n\n"
        "Copy it into the storefront now: it is shown only this once. Each webhook carries "
        "«X-ShopBot-Signature: t=&lt;time&gt;,v1=&lt;HMAC-SHA256 of "
        "«&lt;time&gt;.&lt;body&gt;»&gt;», and the Standard Webhooks headers "
        "(webhook-id, webhook-timestamp, webhook-signature) that its libraries check with "
        "this secret."
    ).format(secret=secret)


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(show_tokens, TokensCB.filter(F.act == TokensAct.MENU))
    router.callback_query.register(ask_name, TokensCB.filter(F.act == TokensAct.NEW))
    router.message.register(name_typed, TokensEdit.name, TYPED)
    router.callback_query.register(confirm_revoke, TokensCB.filter(F.act == TokensAct.REVOKE))
    router.callback_query.register(revoke, TokensCB.filter(F.act == TokensAct.REVOKE_YES))
    router.callback_query.register(ask_url, TokensCB.filter(F.act == TokensAct.URL))
    router.message.register(url_typed, TokensEdit.url, TYPED)
    router.callback_query.register(confirm_secret, TokensCB.filter(F.act == TokensAct.SECRET))
    router.callback_query.register(new_secret, TokensCB.filter(F.act == TokensAct.SECRET_YES))
    return router
