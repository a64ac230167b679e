"""Shop settings (C1), responsible staff per status (C2) and switching between shops.

Every value goes to ShopSettingsService.update as the text for it; the service checks it and
refuses a bad one naming the problem, and the person is asked again. Callback data carries the
shop's id and closed-list codes only; the service decides whether the tapper may change them.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from handlers.telegram.api_tokens import api_tokens_button
from handlers.telegram.carrier_settings import carriers_button
from handlers.telegram.document_callbacks import DocAct, DocCB
from handlers.telegram.format import esc, money, title
from handlers.telegram.menu import MenuAct, MenuCB
from handlers.telegram.onboarding import (
    MAIN_COUNTRIES,
    TYPED,
    country_name,
    currencies_for,
    preset_lines,
    preset_title,
    zones_for,
)
from handlers.telegram.payment_settings import payments_button
from handlers.telegram.reviews import settings_button as reviews_button
from handlers.telegram.staff import role_name
from handlers.telegram.start import send_menu
from handlers.telegram.workflow_editor import entry_button as statuses_button
from services.messaging.email.invoice import attaches_invoice
from services.operations.personal_data import RETENTION_CHOICES, retention_days
from services.refusals import Reason, Refused
from services.shops.settings import FIELDS, ShopSettingsService, ShopView
from services.shops.users import Person, UserService
from services.time.clock import Clock
from services.vocabulary import LANGUAGES, STAFF_ROLES
from services.workflow.presets import PRESETS

NOBODY = "-"  # the role "nobody in particular" in callback data
CLEAR = "-"  # typed for a setting that may be empty: no e-mail, no days off
CLEARABLE = ("email", "days_off")
LANGUAGE_NAMES = {"ru": "Русский", "uk": "Українська", "en": "English"}


class SettingsAct(StrEnum):
    MENU = "m"  # the settings menu
    FIELD = "f"  # ask for a new value of field `arg`
    SET = "s"  # set field `arg` to the listed value `x`
    STATUSES = "r"  # the workflow's statuses with their responsible roles
    STATUS = "t"  # choose the responsible role of status `arg`
    ROLE = "o"  # status `arg` is now worked by role `x` (NOBODY: nobody)
    UNBIND = "u"  # stop the pings to the bound group
    DISCARD = "p"  # switch to preset `x`, discarding the shop's own workflow edits


class SettingsCB(CallbackData, prefix="st"):
    act: SettingsAct
    shop: int
    arg: str = ""
    x: str = ""


class ShopCB(CallbackData, prefix="sh"):
    shop: int  # switch to this shop


class SettingsEdit(StatesGroup):
    value = State()  # typing the new value of one setting


def field_name(field: str) -> str:
    names = {
        "name": _("Name"),
        "email": _("E-mail"),
        "timezone": _("Time zone"),
        "country": _("Country"),
        "currency": _("Currency"),
        "language": _("Language"),
        "working_hours": _("Working hours"),
        "days_off": _("Days off"),
        "preset": _("Workflow"),
        "sla_auto_cancel": _("Auto-cancel past the time limit"),
        "delivery_price": _("Delivery prices"),
        "commission_kind": _("What the platform keeps"),
        "commission_percent": _("Commission, %"),
        "late_cancel_fee": _("Fee on a late cancellation"),
        "personal_data_retention": _("Buyers' data kept"),
        "email_invoice_pdf": _("Invoice PDF attached to e-mails"),
    }
    return names.get(field, field)


def field_hint(field: str) -> str:
    """How to write a value, shown when asking for it and again after a bad one."""
    hints = {
        "name": _("Send the shop's new name (1 to 128 characters)."),
        "email": _("Send the shop's e-mail address, like shop@example.com, or «-» for none."),
        "timezone": _("Choose the time zone or send its name, like Europe/Moscow."),
        "country": _("Choose the country or send its two-letter ISO code, like DE."),
        "currency": _("Choose the currency or send its three-letter code, like EUR."),
        "language": _("Choose the language of the shop's e-mails and documents."),
        "working_hours": _(
            "Send the working hours by weekday, like «mon-fri 09:00-20:00, sat 10:00-16:00». "
            "Days not named are days off."
        ),
        "days_off": _(
            "Send the shop's own days off (besides public holidays) as dates, like "
            "«2026-12-31, 2027-01-02», or «-» for none."
        ),
        "preset": _(
            "Choose the workflow. Orders under way keep the one they started with; new orders "
            "follow the new one."
        ),
        "sla_auto_cancel": _(
            "Cancel orders automatically when their time limit has passed, or only flag them?"
        ),
        "delivery_price": _(
            "Send a delivery method and its price, like «courier 350.00». "
            "Methods: pickup, courier, post, carrier."
        ),
        "commission_kind": _(
            "Does the platform take a commission on each order, or does a distributor give "
            "you a discount? Either way your income is the goods minus that percentage."
        ),
        "commission_percent": _(
            "Send the percentage of the goods' price that is not your income, from 0 to 100, "
            "like «12.5»."
        ),
        "late_cancel_fee": _(
            "When the shop cancels an order past its time limit, charge the platform fee as "
            "if the order had been fulfilled?"
        ),
        "personal_data_retention": _(
            "How long after an order is closed to keep its buyer's personal data (name, "
            "phone, e-mail, address, the dialog). Then it is erased; the order's amounts and "
            "statuses stay. Keep it at least as long as returns and claims may come."
        ),
        "email_invoice_pdf": _(
            "Every e-mail to a buyer links to the order's invoice. Also attach the invoice "
            "PDF to the «awaiting payment» e-mail?"
        ),
    }
    return hints.get(field, "")


def value_text(view: ShopView, field: str, language: str) -> str:
    shop = view.shop
    none = _("not set")
    if field == "name":
        return esc(shop.name)
    if field == "email":
        return esc(shop.email) or none
    if field == "timezone":
        return esc(shop.timezone)
    if field == "country":
        return esc(f"{country_name(shop.country, language)} ({shop.country})")
    if field == "currency":
        return shop.currency
    if field == "language":
        return LANGUAGE_NAMES.get(shop.language, shop.language)
    if field == "working_hours":
        return esc(view.working_hours_text) or none
    if field == "days_off":
        return esc(", ".join(shop.days_off or [])) or _("none")
    if field == "preset":
        return _("{preset}, version {version}").format(
            preset=esc(title(view.workflow.title, language)), version=view.workflow_version
        )
    if field == "sla_auto_cancel":
        return _("on") if (shop.settings or {}).get("sla_auto_cancel") else _("off")
    if field == "delivery_price":
        prices = (shop.settings or {}).get("delivery_prices") or {}
        return (
            ", ".join(
                f"{method} {money(amount, shop.currency, language)}"
                for method, amount in sorted(prices.items())
            )
            or none
        )
    if field == "commission_kind":
        kind = (shop.settings or {}).get("commission_kind", "commission")
        return _("a distributor discount") if kind == "distributor_discount" else _("a commission")
    if field == "commission_percent":
        return esc(str((shop.settings or {}).get("commission_percent", "0"))) + " %"
    if field == "late_cancel_fee":
        return _("on") if (shop.settings or {}).get("late_cancel_fee") else _("off")
    if field == "personal_data_retention":
        return retention_name(retention_days(shop))
    if field == "email_invoice_pdf":
        return _("on") if attaches_invoice(shop) else _("off")
    return ""


def retention_name(days: int) -> str:
    names = {
        90: _("3 months after closing"),
        180: _("6 months after closing"),
        365: _("1 year after closing"),
        3 * 365: _("3 years after closing"),
        0: _("until the buyer asks to be forgotten"),
    }
    return names.get(days, str(days))


async def editable_view(shop_settings: ShopSettingsService, shop_id: int, user: Person) -> ShopView:
    """The settings, for the shop's owner and admins only (others are told they may not)."""
    view = await shop_settings.get(shop_id, user.id)
    if not view.can_edit:
        raise Refused(Reason.FORBIDDEN, "settings are for the owner and admins")
    return view


def settings_menu(view: ShopView, language: str) -> tuple[str, InlineKeyboardMarkup]:
    shop_id = view.shop.id
    lines = [_("⚙️ <b>Settings of {shop}</b>").format(shop=esc(view.shop.name)), ""]
    lines += [f"<b>{field_name(f)}:</b> {value_text(view, f, language)}" for f in FIELDS]
    lines.append(
        _("<b>Staff group:</b> {state}").format(
            state=_("bound") if view.shop.staff_chat_id else _("none (add me to a group, /bind)")
        )
    )
    builder = InlineKeyboardBuilder()
    for field in FIELDS:
        builder.button(
            text=field_name(field),
            callback_data=SettingsCB(act=SettingsAct.FIELD, shop=shop_id, arg=field).pack(),
        )
    builder.adjust(2)
    builder.row(
        InlineKeyboardButton(
            text=_("👤 Responsible staff per status"),
            callback_data=SettingsCB(act=SettingsAct.STATUSES, shop=shop_id).pack(),
        )
    )
    builder.row(statuses_button(shop_id))  # issue 16: the shop's own statuses and transitions
    builder.row(reviews_button(shop_id))  # F3: the shop's average rating
    builder.row(  # E1-E3: the document templates (handlers.telegram.documents)
        InlineKeyboardButton(
            text=_("📄 Documents"),
            callback_data=DocCB(act=DocAct.TEMPLATES, shop=shop_id).pack(),
        )
    )
    builder.row(payments_button(shop_id))  # issue 17: handlers.telegram.payment_settings
    builder.row(api_tokens_button(shop_id))  # G1: storefront API tokens and the webhook
    builder.row(carriers_button(shop_id))  # issue 18: carrier accounts, parcels followed
    if view.shop.staff_chat_id:
        builder.row(
            InlineKeyboardButton(
                text=_("🔕 Unbind the staff group"),
                callback_data=SettingsCB(act=SettingsAct.UNBIND, shop=shop_id).pack(),
            )
        )
    builder.row(home_button())
    return "\n".join(lines), builder.as_markup()


def home_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(text=_("🏠 Menu"), callback_data=MenuCB(act=MenuAct.HOME).pack())


def back_button(shop_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("↩️ Back"), callback_data=SettingsCB(act=SettingsAct.MENU, shop=shop_id).pack()
    )


async def current_shop_id(users: UserService, user: Person) -> int:
    membership = await users.current_shop(user.id)
    if membership is None:
        raise Refused(Reason.NOT_FOUND, "no shop")
    return membership.shop.id


async def settings_command(
    message: Message,
    users: UserService,
    user: Person,
    shop_settings: ShopSettingsService,
    state: FSMContext,
    i18n: I18n,
) -> None:
    await state.clear()
    membership = await users.current_shop(user.id)
    if membership is None:
        await message.answer(_("You have no shop yet: create one with /newshop."))
        return
    view = await editable_view(shop_settings, membership.shop.id, user)
    text, markup = settings_menu(view, i18n.current_locale)
    await message.answer(text, reply_markup=markup)


async def settings_button(
    query: CallbackQuery,
    users: UserService,
    user: Person,
    shop_settings: ShopSettingsService,
    state: FSMContext,
    i18n: I18n,
) -> None:
    await state.clear()
    view = await editable_view(shop_settings, await current_shop_id(users, user), user)
    text, markup = settings_menu(view, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


async def menu_again(
    query: CallbackQuery,
    callback_data: SettingsCB,
    user: Person,
    shop_settings: ShopSettingsService,
    state: FSMContext,
    i18n: I18n,
) -> None:
    await state.clear()
    view = await editable_view(shop_settings, callback_data.shop, user)
    text, markup = settings_menu(view, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


# -- one setting ---------------------------------------------------------------------------


def choices(view: ShopView, field: str, language: str, today: date) -> list[tuple[str, str]]:
    """(button text, value) for the settings whose values are a list to choose from."""
    if field == "preset":
        return [(preset_title(code, language), code) for code in PRESETS]
    if field == "language":
        return [(LANGUAGE_NAMES[code], code) for code in LANGUAGES]
    if field == "country":
        return [(country_name(code, language), code) for code in MAIN_COUNTRIES]
    if field == "sla_auto_cancel":
        return [(_("Cancel automatically"), "on"), (_("Only flag and alert"), "off")]
    if field == "commission_kind":
        return [
            (_("Platform commission"), "commission"),
            (_("Distributor discount"), "distributor_discount"),
        ]
    if field == "late_cancel_fee":
        return [(_("Charge the fee"), "on"), (_("Do not charge"), "off")]
    if field == "personal_data_retention":
        return [(retention_name(days), str(days)) for days in RETENTION_CHOICES]
    if field == "email_invoice_pdf":
        return [(_("Attach the PDF"), "on"), (_("Only the link"), "off")]
    if field == "timezone":
        return [(zone, zone) for zone in zones_for(view.shop.country)]
    if field == "currency":
        return [(code, code) for code in currencies_for(view.shop.country, today)]
    return []


TYPED_FIELDS = frozenset(FIELDS) - {
    "preset",
    "language",
    "sla_auto_cancel",
    "commission_kind",
    "late_cancel_fee",
    "personal_data_retention",
    "email_invoice_pdf",
}


async def ask_value(
    query: CallbackQuery,
    callback_data: SettingsCB,
    user: Person,
    shop_settings: ShopSettingsService,
    state: FSMContext,
    i18n: I18n,
    clock: Clock,
) -> None:
    field, shop_id = callback_data.arg, callback_data.shop
    if field not in FIELDS:
        raise Refused(Reason.INVALID, "no such setting", {"field": field})
    view = await editable_view(shop_settings, shop_id, user)
    language = i18n.current_locale
    builder = InlineKeyboardBuilder()
    for text, value in choices(view, field, language, clock.now().date()):
        builder.button(
            text=text,
            callback_data=SettingsCB(act=SettingsAct.SET, shop=shop_id, arg=field, x=value).pack(),
        )
    builder.adjust(2)
    builder.row(back_button(shop_id))
    text = _("<b>{field}</b> now: {value}\n\n{hint}").format(
        field=field_name(field), value=value_text(view, field, language), hint=field_hint(field)
    )
    if field == "preset":
        text += "\n\n" + preset_lines(language)
    if field in TYPED_FIELDS:
        await state.set_state(SettingsEdit.value)
        await state.update_data(shop_id=shop_id, field=field)
    else:
        await state.clear()
    await query.message.edit_text(text, reply_markup=builder.as_markup())


async def value_chosen(
    query: CallbackQuery,
    callback_data: SettingsCB,
    user: Person,
    shop_settings: ShopSettingsService,
    state: FSMContext,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    await state.clear()
    try:
        await shop_settings.update(callback_data.shop, user.id, callback_data.arg, callback_data.x)
    except Refused as refusal:
        if not refusal.params.get("edits"):
            raise
        # The shop shaped its own workflow: a preset would replace it, so ask first.
        await query.message.edit_text(
            _(
                "Your workflow has your own changes (statuses, names, roles, limits). "
                "Switching to a preset discards them for new orders. Switch anyway?"
            ),
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[
                    [
                        InlineKeyboardButton(
                            text=_("Discard my changes and switch"),
                            callback_data=SettingsCB(
                                act=SettingsAct.DISCARD, shop=callback_data.shop, x=callback_data.x
                            ).pack(),
                        )
                    ],
                    [
                        InlineKeyboardButton(
                            text=_("Keep my workflow"),
                            callback_data=SettingsCB(
                                act=SettingsAct.MENU, shop=callback_data.shop
                            ).pack(),
                        )
                    ],
                ]
            ),
        )
        return
    callback_answer.text = _("Saved.")
    view = await editable_view(shop_settings, callback_data.shop, user)
    text, markup = settings_menu(view, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


async def preset_over_edits(
    query: CallbackQuery,
    callback_data: SettingsCB,
    user: Person,
    shop_settings: ShopSettingsService,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    shop_id, preset = callback_data.shop, callback_data.x
    await shop_settings.switch_preset(shop_id, user.id, preset, discard_edits=True)
    callback_answer.text = _("Saved.")
    view = await editable_view(shop_settings, callback_data.shop, user)
    text, markup = settings_menu(view, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


async def value_typed(
    message: Message,
    user: Person,
    shop_settings: ShopSettingsService,
    state: FSMContext,
    i18n: I18n,
) -> None:
    data = await state.get_data()
    shop_id, field = data["shop_id"], data["field"]
    value = message.text.strip()
    if field in CLEARABLE and value == CLEAR:
        value = ""
    try:
        await shop_settings.update(shop_id, user.id, field, value)
    except Refused as refusal:
        if refusal.code is not Reason.INVALID:
            await state.clear()
            raise
        # Asked again, with what was wrong: the service names the problem exactly.
        await message.answer(
            _("Not saved: {problem}.\n\n{hint}").format(
                # The service explains in English; other readers get the translated gist.
                problem=esc(refusal.message)
                if i18n.current_locale == "en"
                else _("That value is not valid."),
                hint=field_hint(field),
            ),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[back_button(shop_id)]]),
        )
        return
    await state.clear()
    view = await editable_view(shop_settings, shop_id, user)
    text, markup = settings_menu(view, i18n.current_locale)
    await message.answer(_("Saved: {field}.").format(field=field_name(field)))
    await message.answer(text, reply_markup=markup)


async def unbind_group(
    query: CallbackQuery,
    callback_data: SettingsCB,
    user: Person,
    shop_settings: ShopSettingsService,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    await shop_settings.unbind_staff_chat(callback_data.shop, user.id)
    callback_answer.text = _("The group no longer gets order pings.")
    view = await editable_view(shop_settings, callback_data.shop, user)
    text, markup = settings_menu(view, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


# -- responsible staff per status --------------------------------------------------------------


def statuses_screen(view: ShopView, language: str) -> tuple[str, InlineKeyboardMarkup]:
    lines = [
        _(
            "👤 <b>Responsible staff per status</b> (workflow version {version}).\n"
            "They get a ping when an order reaches the status and find it in «My queue». "
            "Tap a status to change its role."
        ).format(version=view.workflow_version),
        "",
    ]
    builder = InlineKeyboardBuilder()
    for status in view.workflow.statuses:
        if status.is_final:
            continue  # nobody works a closed order
        name = title(status.title, language)
        role = role_name(status.responsible) if status.responsible else _("nobody")
        lines.append(f"• {esc(name)}: <b>{role}</b>")
        builder.row(
            InlineKeyboardButton(
                text=f"{name}: {role}",
                callback_data=SettingsCB(
                    act=SettingsAct.STATUS, shop=view.shop.id, arg=status.code
                ).pack(),
            )
        )
    builder.row(back_button(view.shop.id))
    return "\n".join(lines), builder.as_markup()


async def show_statuses(
    query: CallbackQuery,
    callback_data: SettingsCB,
    user: Person,
    shop_settings: ShopSettingsService,
    state: FSMContext,
    i18n: I18n,
) -> None:
    await state.clear()
    view = await editable_view(shop_settings, callback_data.shop, user)
    text, markup = statuses_screen(view, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


async def choose_responsible(
    query: CallbackQuery,
    callback_data: SettingsCB,
    user: Person,
    shop_settings: ShopSettingsService,
    i18n: I18n,
) -> None:
    view = await editable_view(shop_settings, callback_data.shop, user)
    status = next((s for s in view.workflow.statuses if s.code == callback_data.arg), None)
    if status is None:
        raise Refused(Reason.INVALID, "no such status", {"field": "status"})
    builder = InlineKeyboardBuilder()
    for role in (*STAFF_ROLES, NOBODY):
        builder.button(
            text=role_name(role) if role != NOBODY else _("nobody"),
            callback_data=SettingsCB(
                act=SettingsAct.ROLE, shop=view.shop.id, arg=status.code, x=role
            ).pack(),
        )
    builder.adjust(2)
    builder.row(
        InlineKeyboardButton(
            text=_("↩️ Back"),
            callback_data=SettingsCB(act=SettingsAct.STATUSES, shop=view.shop.id).pack(),
        )
    )
    await query.message.edit_text(
        _("Who works orders in «{status}»?").format(
            status=esc(title(status.title, i18n.current_locale))
        ),
        reply_markup=builder.as_markup(),
    )


async def responsible_chosen(
    query: CallbackQuery,
    callback_data: SettingsCB,
    user: Person,
    shop_settings: ShopSettingsService,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    role = None if callback_data.x == NOBODY else callback_data.x
    await shop_settings.set_responsible(callback_data.shop, user.id, callback_data.arg, role)
    callback_answer.text = _("Saved. Orders already under way keep their previous setting.")
    view = await editable_view(shop_settings, callback_data.shop, user)
    text, markup = statuses_screen(view, i18n.current_locale)
    await query.message.edit_text(text, reply_markup=markup)


# -- switching shops ---------------------------------------------------------------------------


async def shops_screen(users: UserService, user: Person) -> tuple[str, InlineKeyboardMarkup]:
    memberships = await users.memberships(user.id)
    current = await users.current_shop(user.id)
    builder = InlineKeyboardBuilder()
    for membership in memberships:
        mark = "✅ " if current is not None and membership.shop.id == current.shop.id else ""
        roles = ", ".join(role_name(role) for role in sorted(membership.roles))
        builder.row(
            InlineKeyboardButton(
                text=f"{mark}{membership.shop.name} ({roles})",
                callback_data=ShopCB(shop=membership.shop.id).pack(),
            )
        )
    builder.row(home_button())
    if not memberships:
        return _("You are not staff in any shop yet: create one with /newshop."), (
            builder.as_markup()
        )
    return _("Which shop do you work in now?"), builder.as_markup()


async def shops_command(message: Message, users: UserService, user: Person) -> None:
    text, markup = await shops_screen(users, user)
    await message.answer(text, reply_markup=markup)


async def shops_button(query: CallbackQuery, users: UserService, user: Person) -> None:
    text, markup = await shops_screen(users, user)
    await query.message.edit_text(text, reply_markup=markup)


async def switch_shop(
    query: CallbackQuery,
    callback_data: ShopCB,
    users: UserService,
    user: Person,
    state: FSMContext,
    callback_answer: CallbackAnswer,
) -> None:
    await state.clear()
    membership = await users.switch_shop(user.id, callback_data.shop)
    callback_answer.text = _("Now working in {shop}").format(shop=membership.shop.name)
    await send_menu(query.message, users, user, edit=True)


def router() -> Router:
    router = Router(name=__name__)
    router.message.register(settings_command, Command("settings"), F.chat.type == "private")
    router.callback_query.register(settings_button, MenuCB.filter(F.act == MenuAct.SETTINGS))
    router.callback_query.register(menu_again, SettingsCB.filter(F.act == SettingsAct.MENU))
    router.callback_query.register(ask_value, SettingsCB.filter(F.act == SettingsAct.FIELD))
    router.callback_query.register(value_chosen, SettingsCB.filter(F.act == SettingsAct.SET))
    router.callback_query.register(
        preset_over_edits, SettingsCB.filter(F.act == SettingsAct.DISCARD)
    )
    router.message.register(value_typed, SettingsEdit.value, TYPED)
    router.callback_query.register(unbind_group, SettingsCB.filter(F.act == SettingsAct.UNBIND))
    router.callback_query.register(show_statuses, SettingsCB.filter(F.act == SettingsAct.STATUSES))
    router.callback_query.register(
        choose_responsible, SettingsCB.filter(F.act == SettingsAct.STATUS)
    )
    router.callback_query.register(responsible_chosen, SettingsCB.filter(F.act == SettingsAct.ROLE))
    router.message.register(shops_command, Command("shops"), F.chat.type == "private")
    router.callback_query.register(shops_button, MenuCB.filter(F.act == MenuAct.SHOPS))
    router.callback_query.register(switch_shop, ShopCB.filter())
    return router
