"""What buyers read about paying (issue 17), and the providers' secrets kept sealed."""

from __future__ import annotations

from services.operations.reseal import sealed_columns
from services.payments.instructions import instructions_for, payment_text, with_instructions
from services.payments.settings import SEALED_KEYS
from storage.models import Base

BANK = {"recipient": "ООО Коты", "account": "40702810900000000001", "bank_name": "Сбербанк"}


def test_the_buyers_language_then_the_shops_then_any():
    settings = {"payment_instructions": {"ru": "Карта", "en": "Card"}}
    assert instructions_for(settings, "en", "ru") == "Card"
    assert instructions_for(settings, "uk", "ru") == "Карта"
    assert instructions_for({"payment_instructions": {"en": "Card"}}, "uk", "ru") == "Card"
    assert instructions_for({}, "ru", "ru") == ""


def test_the_old_single_text_counts_for_every_language_until_replaced():
    old = {"payment_instructions": "Card 4276"}
    assert instructions_for(old, "uk", "ru") == "Card 4276"
    new = with_instructions(old, "en", "Card 5555")
    assert new["payment_instructions"] == {"en": "Card 5555"}
    assert with_instructions(new, "en", "")["payment_instructions"] == {}


def test_the_bank_details_follow_the_words_with_the_slips_labels():
    text = payment_text({"payment_instructions": {"ru": "Карта"}, "bank": BANK}, "ru", "ru")
    assert text.splitlines() == [
        "Карта",
        "",
        "Получатель платежа: ООО Коты",
        "Р/с: 40702810900000000001 в Сбербанк",
    ]


def test_the_providers_secrets_are_moved_by_a_key_rotation():
    [shops] = [c for c in sealed_columns(Base.metadata) if c.name == "shops.settings"]
    assert set(shops.json_keys) == set(SEALED_KEYS)
