"""Payment and delivery methods on the card, in the person's language."""

from __future__ import annotations

import pytest

from bot.i18n import build_i18n
from handlers.telegram.card_view import method_name


@pytest.mark.parametrize(
    ("language", "method", "shown"),
    [
        ("ru", "card", "карта"),
        ("ru", "cash_on_delivery", "наложенный платёж"),
        ("ru", "post", "почта"),
        ("en", "bank_transfer", "bank transfer"),
        ("en", "pickup", "pickup"),
        ("uk", "courier", "кур'єр"),
        ("ru", "sbp_qr", "sbp_qr"),  # a storefront's own method: as it came
    ],
)
def test_a_method_is_named_in_the_persons_language(language, method, shown):
    i18n = build_i18n()
    with i18n.context(), i18n.use_locale(language):
        assert method_name(method) == shown
