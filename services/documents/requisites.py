"""What makes an invoice usable in Russia: checked INN/KPP, the amount in words, the VAT line.

A Russian accountant pays an invoice ("счёт на оплату") only with the supplier's legal name,
INN (and KPP for a company), the bank details, the total in words and a VAT line ("Без НДС"
or the VAT included at its rate). The bank details are the shop's setting "bank"
(services.documents.service.parse_bank_details checks them here).
"""

from __future__ import annotations

import re
from decimal import Decimal

from num2words import num2words
from stdnum.exceptions import ValidationError
from stdnum.ru import inn as russian_inn

from services.orders.money import exponent

# КПП: 4 digits (the tax office), 2 digits or capital Latin letters (the reason), 3 digits.
KPP = re.compile(r"\d{4}[\dA-Z]{2}\d{3}")
# Rates a shop may state; "none": not a VAT payer (the simplified tax system).
NO_VAT = "none"
MAX_VAT_RATE = 30

# The words of "no VAT" and "VAT included" per language of the document.
VAT_WORDS = {
    "ru": ("Без НДС", "В том числе НДС {rate} %"),
    "uk": ("Без ПДВ", "У тому числі ПДВ {rate} %"),
    "en": ("No VAT", "VAT included at {rate} %"),
}
# num2words writes these currencies' names (other currencies: the number in words, the code).
WORDS_CURRENCIES = frozenset({"RUB", "UAH", "USD", "EUR", "KZT", "BYN"})


def check_inn(value: str) -> str:
    """The INN with its check digits right (10 digits: a company, 12: a sole trader)."""
    try:
        return russian_inn.validate(value)
    except ValidationError as error:
        raise ValueError(f"{value} is not a valid INN ({error.message})") from error


def check_kpp(value: str) -> str:
    if not KPP.fullmatch(value):
        raise ValueError(f"{value} is not a KPP: 9 characters, like 770101001")
    return value


def check_vat(value: str) -> str:
    """ "" or "none": not a VAT payer; else the rate in whole percent ("22")."""
    value = value.strip().lower().removesuffix("%").strip()
    if value in ("", NO_VAT):
        return NO_VAT if value else ""
    if not value.isdigit() or int(value) > MAX_VAT_RATE:
        raise ValueError(f"VAT is 'none' or a rate in percent from 0 to {MAX_VAT_RATE}")
    return str(int(value))


def amount_in_words(minor: int, currency: str, language: str) -> str:
    """11050 RUB, "ru" -> "Сто десять рублей, пятьдесят копеек" (capitalised, as written)."""
    lang = language if language in VAT_WORDS else "en"
    value = Decimal(minor).scaleb(-exponent(currency))
    try:
        if currency in WORDS_CURRENCIES:
            words = num2words(value, lang=lang, to="currency", currency=currency)
        else:
            words = f"{num2words(value, lang=lang)} {currency}"
    except NotImplementedError:
        words = f"{num2words(value, lang='en')} {currency}"
    return words[:1].upper() + words[1:]


def vat_line(total_minor: int, vat: str, money, language: str) -> str:
    """The invoice's VAT line: "Без НДС", or the VAT included in the total at the rate
    ("В том числе НДС 22 %: 595,08 ₽"); "" when the shop has not said (no claim made)."""
    none, included = VAT_WORDS.get(language, VAT_WORDS["en"])
    if vat == NO_VAT:
        return none
    if not vat:
        return ""
    rate = int(vat)
    tax = (Decimal(total_minor) * rate / (100 + rate)).quantize(Decimal(1))
    return included.format(rate=rate) + ": " + money(int(tax))
