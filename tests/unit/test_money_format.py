"""Money, currency precision and phone numbers as people read them (issue 22)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.numbers import format_currency, get_currency_symbol

from services.messaging.email.formatting import LOCALES, money, phone
from services.orders.money import exponent, to_minor

NBSP = "\xa0"


@pytest.mark.parametrize(
    ("currency", "places"),
    [("RUB", 2), ("USD", 2), ("JPY", 0), ("XOF", 0), ("TND", 3), ("JOD", 3), ("KWD", 3)],
)
def test_currency_precision_comes_from_cldr(currency: str, places: int) -> None:
    assert exponent(currency) == places


def test_an_amount_with_more_decimals_than_the_currency_has_is_refused() -> None:
    assert to_minor("1.234", "TND") == 1234
    assert to_minor("1500", "XOF") == 1500
    with pytest.raises(ValueError, match="more decimals"):
        to_minor("1500.5", "XOF")


def test_money_is_written_as_each_language_writes_it() -> None:
    assert money(330100, "RUB", "ru") == f"3{NBSP}301,00{NBSP}₽"
    assert money(330100, "UAH", "uk") == f"3{NBSP}301,00{NBSP}₴"
    assert money(330100, "USD", "en") == "US$3,301.00"
    # no sign of its own for roubles in English: the code after the amount, not "RUB3,301.00"
    assert money(330100, "RUB", "en") == f"3,301.00{NBSP}RUB"
    assert money(1234, "TND", "en") == f"1.234{NBSP}TND"
    assert money(1500, "XOF", "ru").startswith(f"1{NBSP}500{NBSP}")


@pytest.mark.parametrize("currency", ["RUB", "UAH", "USD", "EUR", "GBP", "JPY", "TND", "XOF"])
@pytest.mark.parametrize("language", ["ru", "uk", "en", "de", None])
def test_money_with_the_cached_format_is_what_babel_writes(currency, language) -> None:
    # the format looked up once per currency and locale (issue 15) writes what babel's
    # format_currency, asked each time, wrote
    locale = LOCALES.get(language, "ru_RU")
    for amount in (0, 1, 99, 100, 150_000, 499_000, -2_500, 123_456_789_012):
        value = Decimal(amount).scaleb(-exponent(currency))
        if get_currency_symbol(currency, locale) == currency:
            expected = format_currency(value, currency, format=f"#,##0.00{NBSP}¤", locale=locale)
        else:
            expected = format_currency(value, currency, locale=locale)
        assert money(amount, currency, language) == expected


def test_phone_numbers_are_shown_formatted() -> None:
    assert phone("+79161234567") == "+7 916 123-45-67"
    assert phone("+380441234567") == "+380 44 123 4567"
    assert phone(None) == ""
    assert phone("not a number") == "not a number"
