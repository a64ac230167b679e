"""Money and dates in an e-mail's language (as the Telegram front-end shows them), without aiogram.

The Babel formats the Telegram front-end uses too (handlers.telegram.format imports them), so a
buyer reads the same amounts in a mail and in the bot.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from babel import Locale
from babel.numbers import NumberPattern, get_currency_symbol, parse_pattern

from services.orders.money import exponent

LOCALES = {"ru": "ru_RU", "uk": "uk_UA", "en": "en_GB"}
DEFAULT_LOCALE = "ru_RU"

# C0 and C1 control characters, DEL, line/paragraph separators, bidi embedding and isolate
# controls (they reorder what a mail client shows), the zero-width no-break space.
CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)
_SPACES = re.compile(r" {2,}")  # after CONTROL: tabs and line breaks are spaces already


def one_line(text: str | None, limit: int) -> str:
    """Control characters (line breaks and tabs among them) become spaces, runs of spaces one;
    cut to `limit` with "…". What a name or a subject from shops and buyers may be in a header
    or a heading. No-break spaces stay (money: "996,90\u00a0₽")."""
    text = _SPACES.sub(" ", CONTROL.sub(" ", str(text or ""))).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@lru_cache(maxsize=4096)
def money(amount: int, currency: str, language: str) -> str:
    """19990, "RUB", "ru" -> "199,90 ₽" (minor units, the currency's own decimals).

    A language with no sign of its own for the currency (English for roubles) writes its code
    after the amount, "3,301.00 RUB", not glued in front of it ("RUB3,301.00").

    Kept per (amount, currency, language): a mail shows each of its amounts, and the same
    prices and totals come back mail after mail (babel's formatting was a fifth of a mail's
    context, issue 15)."""
    value = Decimal(amount).scaleb(-exponent(currency))
    locale, pattern = _currency_format(currency, LOCALES.get(language, DEFAULT_LOCALE))
    return pattern.apply(value, locale, currency=currency)


@lru_cache(maxsize=256)
def _currency_format(currency: str, locale_name: str) -> tuple[Locale, NumberPattern]:
    """What babel's format_currency looks up on every call (the locale's data, the symbol,
    the pattern), once per currency and locale: it was most of an e-mail's template context
    (issue 15)."""
    locale = Locale.parse(locale_name)
    if get_currency_symbol(currency, locale) == currency:
        # The locale's separators; the currency's own decimals (currency_digits overrides ".00").
        return locale, parse_pattern("#,##0.00\xa0¤")
    return locale, locale.currency_formats["standard"]


def phone(number: str | None) -> str:
    """ "+79161234567" -> "+7 916 123-45-67" (stored in E.164, shown as people write it);
    anything that does not parse is shown as it is."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    if not phonenumbers.is_possible_number(parsed):
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def when(instant: datetime, timezone: str, language: str) -> str:
    """A moment in the shop's time zone: "24.11.2026 10:00", the same in every language
    (Babel's "dd.MM.yyyy HH:mm" in ru, uk and en, all of them in Latin digits; written here
    without Babel's pattern machinery, six times cheaper on every card: issue 15)."""
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    local = instant.astimezone(zone)
    return f"{local.day:02}.{local.month:02}.{local.year:04} {local.hour:02}:{local.minute:02}"
