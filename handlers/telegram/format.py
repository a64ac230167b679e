"""Formatting for people: money, times and names in the reader's language."""

from __future__ import annotations

import html
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from babel.dates import format_datetime
from babel.numbers import format_currency

from services.orders.money import exponent

LOCALES = {"ru": "ru_RU", "uk": "uk_UA", "en": "en_GB"}


def money(amount: int, currency: str, language: str) -> str:
    value = Decimal(amount).scaleb(-exponent(currency))
    return format_currency(value, currency, locale=LOCALES.get(language, "ru_RU"))


def when(instant: datetime, timezone: str, language: str) -> str:
    local = instant.astimezone(ZoneInfo(timezone))
    return format_datetime(local, "dd.MM.yyyy HH:mm", locale=LOCALES.get(language, "ru_RU"))


def title(titles: dict[str, str], language: str) -> str:
    """A workflow title in the reader's language (every title has all three)."""
    return titles.get(language) or titles.get("ru") or next(iter(titles.values()), "")


def esc(text: str | None) -> str:
    """User-supplied text inside our HTML messages."""
    return html.escape(text or "", quote=False)


def role_name(role: str) -> str:
    names = {
        "owner": _("owner"),
        "admin": _("admin"),
        "manager": _("manager"),
        "packer": _("packer"),
        "courier": _("courier"),
        "accountant": _("accountant"),
    }
    return names.get(role, role)
