"""INN/KPP/VAT checks, the amount in words and the VAT line of the invoice (issue 22)."""

from __future__ import annotations

import pytest

from services.documents.requisites import (
    amount_in_words,
    check_inn,
    check_kpp,
    check_vat,
    vat_line,
)
from services.messaging.email.formatting import money


def test_inn_check_digits_are_verified() -> None:
    assert check_inn("7707083893") == "7707083893"  # a company: 10 digits
    assert check_inn("500100732259") == "500100732259"  # a sole trader: 12 digits
    for bad in ("7701234567", "123", "77070838931"):
        with pytest.raises(ValueError, match="not a valid INN"):
            check_inn(bad)


def test_kpp_and_vat() -> None:
    assert check_kpp("7701AB001") == "7701AB001"
    with pytest.raises(ValueError, match="not a KPP"):
        check_kpp("77010100")
    assert [check_vat(v) for v in ("", "none", "None", "22", "22 %", "0")] == [
        "",
        "none",
        "none",
        "22",
        "22",
        "0",
    ]
    with pytest.raises(ValueError):
        check_vat("ten")
    with pytest.raises(ValueError):
        check_vat("45")


def test_the_amount_in_words_in_each_language() -> None:
    assert amount_in_words(330150, "RUB", "ru") == "Три тысячи триста один рубль, пятьдесят копеек"
    assert amount_in_words(200, "UAH", "uk") == "Дві гривні, нуль копійок"
    assert amount_in_words(100, "USD", "en") == "One dollar, zero cents"
    assert amount_in_words(1500, "XOF", "en") == "One thousand, five hundred XOF"


def test_the_vat_line() -> None:
    def rub(minor: int) -> str:
        return money(minor, "RUB", "ru")

    assert vat_line(90_000, "none", rub, "ru") == "Без НДС"
    assert vat_line(90_000, "", rub, "ru") == ""
    assert vat_line(122_000, "22", rub, "ru") == "В том числе НДС 22 %: 220,00\xa0₽"
    assert vat_line(122_000, "22", rub, "uk") == "У тому числі ПДВ 22 %: 220,00\xa0₽"
