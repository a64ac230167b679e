"""Creating a shop (C1): a short conversation, then the shop, its owner and its API token.

Name, e-mail (or skip), country, time zone, currency and workflow preset; every answer is
checked and a bad one asked again with what is wrong; "Cancel" or /cancel ends it at any step.
The country, time zone and currency choices here are shared with the settings menu.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import available_timezones

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel import Locale
from babel.numbers import get_territory_currencies

from handlers.telegram.format import LOCALES, esc, title
from handlers.telegram.menu import MenuAct, MenuCB
from handlers.telegram.start import send_menu
from services.shops.service import ShopService
from services.shops.settings import currencies_in_use, shop_countries
from services.shops.users import Person, UserService
from services.time.clock import Clock
from services.workflow.presets import PRESETS, load_preset

# The countries most shops come from get a button; any other is typed as an ISO code.
MAIN_COUNTRIES = ("RU", "UA", "KZ", "BY")
# Time zones worth a button for the main countries (the rest of a country's zones are typed).
MAIN_ZONES = {
    "RU": (
        "Europe/Kaliningrad",
        "Europe/Moscow",
        "Europe/Samara",
        "Asia/Yekaterinburg",
        "Asia/Omsk",
        "Asia/Novosibirsk",
        "Asia/Krasnoyarsk",
        "Asia/Irkutsk",
        "Asia/Yakutsk",
        "Asia/Vladivostok",
        "Asia/Magadan",
        "Asia/Kamchatka",
    ),
    "UA": ("Europe/Kyiv",),
    "KZ": ("Asia/Almaty", "Asia/Aqtobe", "Asia/Oral"),
    "BY": ("Europe/Minsk",),
}
MAX_ZONE_BUTTONS = 12
EXTRA_CURRENCIES = ("USD", "EUR")  # offered beside the country's own currency
EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")  # as the settings
MAX_NAME = 128
# What a person typed, not a command: commands go to their own handlers even mid-conversation.
TYPED = F.text & ~F.text.startswith("/")


class Onboarding(StatesGroup):
    name = State()
    email = State()
    country = State()
    timezone = State()
    currency = State()
    preset = State()
    confirm = State()  # the summary with "Create" / "Cancel"


class OnboardAct(StrEnum):
    SKIP_EMAIL = "e"
    COUNTRY = "c"  # arg: an ISO country code
    ZONE = "z"  # arg: the zone's number in the list offered for the chosen country
    CURRENCY = "m"  # arg: an ISO currency code
    PRESET = "p"  # arg: a preset code
    CREATE = "y"
    CANCEL = "x"


class OnboardCB(CallbackData, prefix="ob"):
    act: OnboardAct
    arg: str = ""


# -- choices shared with the settings menu ----------------------------------------------------


def country_name(code: str, language: str) -> str:
    return Locale.parse(LOCALES.get(language, "ru_RU")).territories.get(code, code)


def parse_country(text: str) -> str | None:
    """A two-letter ISO 3166 code ('ru' -> 'RU') of a country we know the holidays of."""
    code = text.strip().upper()
    return code if code in shop_countries() else None


@cache
def _zone_table() -> dict[str, tuple[str, ...]]:
    """Time zones per country, from the IANA table shipped with tzdata."""
    zones: dict[str, list[str]] = {}
    text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split("\t")
        zones.setdefault(fields[0], []).append(fields[2])
    return {country: tuple(names) for country, names in zones.items()}


def zones_for(country: str) -> tuple[str, ...]:
    """The zones offered as buttons for a country (sensible first, at most a dozen)."""
    zones = MAIN_ZONES.get(country) or _zone_table().get(country, ())
    return zones[:MAX_ZONE_BUTTONS] or ("UTC",)


@cache
def _zone_names() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def parse_timezone(text: str) -> str | None:
    """An IANA time zone name, in its canonical spelling ('europe/moscow' -> 'Europe/Moscow')."""
    return _zone_names().get(text.strip().lower())


def currencies_for(country: str, today: date) -> list[str]:
    own = get_territory_currencies(country, start_date=today, tender=True)
    return list(dict.fromkeys([*own, *EXTRA_CURRENCIES]))


def parse_currency(text: str, today: date) -> str | None:
    """An ISO 4217 code in use today ('eur' -> 'EUR'), as the settings accept it."""
    code = text.strip().upper()
    return code if code in currencies_in_use(today) else None


def parse_email(text: str) -> str | None:
    address = text.strip()
    return address if len(address) <= 254 and EMAIL.match(address) else None


def preset_lines(language: str) -> str:
    """One line per preset: its name and what it is for."""
    descriptions = {
        "marketplace": _(
            "confirmation, payment within 3 days, shipping with a track code, "
            "the buyer confirms receipt"
        ),
        "stages": _("stages that depend on payment and delivery, time limits per stage, documents"),
        "platform": _(
            "processing rules: time limits in business hours, packing, pickup, cancellation reasons"
        ),
        "reseller": _("statuses tied to money: income reserved on payment, credited on receipt"),
    }
    return "\n".join(
        f"• <b>{esc(preset_title(code, language))}</b>: {descriptions[code]}" for code in PRESETS
    )


def preset_title(code: str, language: str) -> str:
    return title(load_preset(code).title, language)


# -- the conversation ---------------------------------------------------------------------


def cancel_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("✖️ Cancel"), callback_data=OnboardCB(act=OnboardAct.CANCEL).pack()
    )


def cancel_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[cancel_button()]])


def choices_keyboard(act: OnboardAct, options: list[tuple[str, str]], width: int = 2):
    """Buttons (text, arg) for one question, then "Cancel" on a row of its own."""
    builder = InlineKeyboardBuilder()
    for text, arg in options:
        builder.button(text=text, callback_data=OnboardCB(act=act, arg=arg).pack())
    builder.adjust(width)
    builder.row(cancel_button())
    return builder.as_markup()


async def begin(message: Message, state: FSMContext) -> None:
    await state.clear()
    await state.set_state(Onboarding.name)
    await message.answer(
        _(
            "Let's create your shop: six short questions, you can cancel at any step.\n\n"
            "<b>1/6.</b> What is the shop called? Send its name."
        ),
        reply_markup=cancel_keyboard(),
    )


async def newshop_command(message: Message, state: FSMContext) -> None:
    if message.chat.type != "private":
        await message.answer(_("Create a shop in a private chat with me."))
        return
    await begin(message, state)


async def newshop_button(query: CallbackQuery, state: FSMContext) -> None:
    await begin(query.message, state)


async def cancel_command(
    message: Message, state: FSMContext, users: UserService, user: Person
) -> None:
    await state.clear()
    await message.answer(_("Cancelled: no shop was created."))
    await send_menu(message, users, user)


async def cancel_button_tapped(
    query: CallbackQuery,
    state: FSMContext,
    users: UserService,
    user: Person,
    callback_answer: CallbackAnswer,
) -> None:
    await state.clear()
    callback_answer.text = _("Cancelled.")
    await query.message.edit_text(_("Cancelled: no shop was created."))
    await send_menu(query.message, users, user)


async def name_given(message: Message, state: FSMContext) -> None:
    name = " ".join(message.text.split())
    if not name or len(name) > MAX_NAME:
        await message.answer(
            _("A shop's name is 1 to {max} characters. Send the name again.").format(max=MAX_NAME),
            reply_markup=cancel_keyboard(),
        )
        return
    await state.update_data(name=name)
    await ask_email(message, state)


async def ask_email(message: Message, state: FSMContext) -> None:
    await state.set_state(Onboarding.email)
    await message.answer(
        _(
            "<b>2/6.</b> The shop's e-mail: new orders are announced there too. "
            "Send the address, or skip."
        ),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=_("Skip"), callback_data=OnboardCB(act=OnboardAct.SKIP_EMAIL).pack()
                    )
                ],
                [cancel_button()],
            ]
        ),
    )


async def email_given(message: Message, state: FSMContext, i18n: I18n) -> None:
    email = parse_email(message.text)
    if email is None:
        await message.answer(
            _("That is not an e-mail address (like shop@example.com). Send it again or skip."),
            reply_markup=InlineKeyboardMarkup(
                inline_keyboard=[
                    [
                        InlineKeyboardButton(
                            text=_("Skip"),
                            callback_data=OnboardCB(act=OnboardAct.SKIP_EMAIL).pack(),
                        )
                    ],
                    [cancel_button()],
                ]
            ),
        )
        return
    await state.update_data(email=email)
    await ask_country(message, state, i18n.current_locale)


async def email_skipped(query: CallbackQuery, state: FSMContext, i18n: I18n) -> None:
    await state.update_data(email=None)
    await query.message.edit_reply_markup(reply_markup=None)
    await ask_country(query.message, state, i18n.current_locale)


def country_keyboard(language: str) -> InlineKeyboardMarkup:
    return choices_keyboard(
        OnboardAct.COUNTRY,
        [(country_name(code, language), code) for code in MAIN_COUNTRIES],
    )


async def ask_country(message: Message, state: FSMContext, language: str) -> None:
    await state.set_state(Onboarding.country)
    await message.answer(
        _(
            "<b>3/6.</b> The shop's country (for public holidays and phone numbers). "
            "Choose, or send another country's two-letter ISO code, like DE or UZ."
        ),
        reply_markup=country_keyboard(language),
    )


async def country_typed(message: Message, state: FSMContext, i18n: I18n) -> None:
    country = parse_country(message.text)
    if country is None:
        await message.answer(
            _("«{text}» is not a country code: send two latin letters, like DE or UZ.").format(
                text=esc(message.text[:40])
            ),
            reply_markup=country_keyboard(i18n.current_locale),
        )
        return
    await country_chosen(message, state, country, i18n.current_locale)


async def country_tapped(
    query: CallbackQuery, callback_data: OnboardCB, state: FSMContext, i18n: I18n
) -> None:
    country = parse_country(callback_data.arg)
    if country is None:
        await query.message.answer(_("Choose a country with a button or send its code."))
        return
    await query.message.edit_reply_markup(reply_markup=None)
    await country_chosen(query.message, state, country, i18n.current_locale)


async def country_chosen(message: Message, state: FSMContext, country: str, language: str):
    await state.update_data(country=country)
    await state.set_state(Onboarding.timezone)
    await message.answer(
        _(
            "Country: {country}.\n\n<b>4/6.</b> The shop's time zone: working hours and "
            "deadlines are counted in it. Choose, or send its name, like Europe/Berlin."
        ).format(country=esc(country_name(country, language))),
        reply_markup=zone_keyboard(country),
    )


def zone_keyboard(country: str) -> InlineKeyboardMarkup:
    zones = zones_for(country)
    return choices_keyboard(
        OnboardAct.ZONE, [(zone, str(index)) for index, zone in enumerate(zones)]
    )


async def zone_typed(message: Message, state: FSMContext, clock: Clock) -> None:
    zone = parse_timezone(message.text)
    if zone is None:
        data = await state.get_data()
        await message.answer(
            _(
                "«{text}» is not a time zone. Send a name from the IANA list, "
                "like Europe/Moscow or Asia/Almaty, or choose a button."
            ).format(text=esc(message.text[:60])),
            reply_markup=zone_keyboard(data["country"]),
        )
        return
    await zone_chosen(message, state, zone, clock.now().date())


async def zone_tapped(
    query: CallbackQuery, callback_data: OnboardCB, state: FSMContext, clock: Clock
) -> None:
    zones = zones_for((await state.get_data())["country"])
    if not callback_data.arg.isdigit() or int(callback_data.arg) >= len(zones):
        await query.message.answer(_("Choose a time zone with a button or send its name."))
        return
    await query.message.edit_reply_markup(reply_markup=None)
    await zone_chosen(query.message, state, zones[int(callback_data.arg)], clock.now().date())


async def zone_chosen(message: Message, state: FSMContext, zone: str, today: date) -> None:
    await state.update_data(timezone=zone)
    await state.set_state(Onboarding.currency)
    data = await state.get_data()
    await message.answer(
        _(
            "Time zone: {zone}.\n\n<b>5/6.</b> The currency of the shop's prices. "
            "Choose, or send its three-letter code, like GEL."
        ).format(zone=esc(zone)),
        reply_markup=currency_keyboard(data["country"], today),
    )


def currency_keyboard(country: str, today: date) -> InlineKeyboardMarkup:
    return choices_keyboard(
        OnboardAct.CURRENCY, [(code, code) for code in currencies_for(country, today)], width=3
    )


async def currency_typed(message: Message, state: FSMContext, i18n: I18n, clock: Clock) -> None:
    today = clock.now().date()
    currency = parse_currency(message.text, today)
    if currency is None:
        data = await state.get_data()
        await message.answer(
            _("«{text}» is not a currency code in use: send three latin letters, like EUR.").format(
                text=esc(message.text[:40])
            ),
            reply_markup=currency_keyboard(data["country"], today),
        )
        return
    await currency_chosen(message, state, currency, i18n.current_locale)


async def currency_tapped(
    query: CallbackQuery, callback_data: OnboardCB, state: FSMContext, i18n: I18n, clock: Clock
) -> None:
    currency = parse_currency(callback_data.arg, clock.now().date())
    if currency is None:
        await query.message.answer(_("Choose a currency with a button or send its code."))
        return
    await query.message.edit_reply_markup(reply_markup=None)
    await currency_chosen(query.message, state, currency, i18n.current_locale)


def preset_keyboard(language: str) -> InlineKeyboardMarkup:
    return choices_keyboard(
        OnboardAct.PRESET, [(preset_title(code, language), code) for code in PRESETS]
    )


async def currency_chosen(message: Message, state: FSMContext, currency: str, language: str):
    await state.update_data(currency=currency)
    await state.set_state(Onboarding.preset)
    await message.answer(
        _(
            "Currency: {currency}.\n\n<b>6/6.</b> How are orders processed? Choose a workflow; "
            "you can change it and its statuses later.\n\n{presets}"
        ).format(currency=currency, presets=preset_lines(language)),
        reply_markup=preset_keyboard(language),
    )


async def preset_typed(message: Message, i18n: I18n) -> None:
    await message.answer(
        _("Choose the workflow with one of the buttons."),
        reply_markup=preset_keyboard(i18n.current_locale),
    )


async def preset_tapped(
    query: CallbackQuery, callback_data: OnboardCB, state: FSMContext, i18n: I18n
) -> None:
    if callback_data.arg not in PRESETS:
        await query.message.answer(_("Choose the workflow with one of the buttons."))
        return
    await query.message.edit_reply_markup(reply_markup=None)
    await state.update_data(preset=callback_data.arg)
    await state.set_state(Onboarding.confirm)
    await query.message.answer(
        summary(await state.get_data(), i18n.current_locale),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=_("✅ Create"), callback_data=OnboardCB(act=OnboardAct.CREATE).pack()
                    ),
                    cancel_button(),
                ]
            ]
        ),
    )


def summary(data: dict[str, Any], language: str) -> str:
    return _(
        "Check your new shop:\n\n"
        "<b>Name:</b> {name}\n"
        "<b>E-mail:</b> {email}\n"
        "<b>Country:</b> {country}\n"
        "<b>Time zone:</b> {zone}\n"
        "<b>Currency:</b> {currency}\n"
        "<b>Workflow:</b> {preset}\n\n"
        "Working hours start as Mon–Fri 09:00–20:00; change them in the settings."
    ).format(
        name=esc(data["name"]),
        email=esc(data.get("email")) or _("none"),
        country=esc(country_name(data["country"], language)),
        zone=esc(data["timezone"]),
        currency=data["currency"],
        preset=esc(preset_title(data["preset"], language)),
    )


async def confirm_typed(message: Message) -> None:
    await message.answer(_("Tap «Create» to create the shop, or «Cancel»."))


async def create(
    query: CallbackQuery,
    state: FSMContext,
    shops: ShopService,
    users: UserService,
    user: Person,
    i18n: I18n,
    callback_answer: CallbackAnswer,
) -> None:
    data = await state.get_data()
    # Cleared first: a second tap on "Create" finds no conversation and creates nothing.
    await state.clear()
    await query.message.edit_reply_markup(reply_markup=None)
    try:
        created = await shops.create_shop(
            name=data["name"],
            owner_telegram_id=user.telegram_id,
            owner_name=user.name,
            preset=data["preset"],
            email=data.get("email"),
            timezone=data["timezone"],
            country=data["country"],
            currency=data["currency"],
            language=i18n.current_locale,
        )
    except ValueError:
        await query.message.answer(
            _("The shop could not be created with these answers. Start again: /newshop")
        )
        return
    await users.switch_shop(user.id, created.shop.id)
    callback_answer.text = _("Shop created")
    await query.message.answer(
        _(
            "🎉 The shop <b>{name}</b> is ready, and you are its owner.\n\n"
            "Your storefront's API token:\n<code>{token}</code>\n\n"
            "It is shown only this once: copy it into your storefront's settings and keep it "
            "secret: anyone who has it can create orders in your shop."
        ).format(name=esc(created.shop.name), token=created.api_token)
    )
    await send_menu(query.message, users, user)


async def stale_button(query: CallbackQuery, callback_answer: CallbackAnswer) -> None:
    """A button of a finished or abandoned conversation."""
    callback_answer.text, callback_answer.show_alert = (
        _("This conversation is over. Start again: /newshop"),
        True,
    )


def router() -> Router:
    router = Router(name=__name__)
    router.message.register(newshop_command, Command("newshop"))
    router.callback_query.register(newshop_button, MenuCB.filter(F.act == MenuAct.CREATE_SHOP))
    router.message.register(cancel_command, StateFilter(Onboarding), Command("cancel"))
    router.callback_query.register(
        cancel_button_tapped, StateFilter(Onboarding), OnboardCB.filter(F.act == OnboardAct.CANCEL)
    )
    router.message.register(name_given, Onboarding.name, TYPED)
    router.message.register(email_given, Onboarding.email, TYPED)
    router.callback_query.register(
        email_skipped, Onboarding.email, OnboardCB.filter(F.act == OnboardAct.SKIP_EMAIL)
    )
    router.message.register(country_typed, Onboarding.country, TYPED)
    router.callback_query.register(
        country_tapped, Onboarding.country, OnboardCB.filter(F.act == OnboardAct.COUNTRY)
    )
    router.message.register(zone_typed, Onboarding.timezone, TYPED)
    router.callback_query.register(
        zone_tapped, Onboarding.timezone, OnboardCB.filter(F.act == OnboardAct.ZONE)
    )
    router.message.register(currency_typed, Onboarding.currency, TYPED)
    router.callback_query.register(
        currency_tapped, Onboarding.currency, OnboardCB.filter(F.act == OnboardAct.CURRENCY)
    )
    router.message.register(preset_typed, Onboarding.preset, TYPED)
    router.callback_query.register(
        preset_tapped, Onboarding.preset, OnboardCB.filter(F.act == OnboardAct.PRESET)
    )
    router.message.register(confirm_typed, Onboarding.confirm, TYPED)
    router.callback_query.register(
        create, Onboarding.confirm, OnboardCB.filter(F.act == OnboardAct.CREATE)
    )
    router.callback_query.register(stale_button, OnboardCB.filter())
    return router
