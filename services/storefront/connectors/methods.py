"""The platforms' names for delivery and payment, read onto ShopBot's vocabulary.

Platforms name shipping methods and payment gateways freely (plugins and apps add their
own, shops retitle them), so a delivery method is read from the words in its id and title,
in English, Russian and Ukrainian, and a payment gateway from the ids the platforms
document. What is not recognised falls to the safest reading: a shipping line we cannot
place is a carrier's (the goods travel; the shop can correct it), an unknown gateway is an
online payment (it took the buyer's money before the order existed).
"""

from __future__ import annotations

import re

from services.vocabulary import DELIVERY_METHODS, PAYMENT_METHODS

# Checked in this order: a carrier's own pickup point ("CDEK pickup point") is a carrier's
# delivery, so carriers come before the word "pickup". Latin words stand alone ("ups" is
# not the end of "pickups"); Cyrillic ones are stems, to match every case ending
# ("Курьером", "Почтой России").
_LATIN = "(?<![a-z]){}(?![a-z])"
_DELIVERY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (method, re.compile("|".join(patterns)))
    for method, patterns in (
        (
            "carrier",
            (
                _LATIN.format("cdek"),
                "сдэк",
                "boxberry",
                "pickpoint",
                "nova[ _]?poshta",
                "нова пошта",
                "новая почта",
                "meest",
                _LATIN.format("dpd"),
                _LATIN.format("dhl"),
                "fedex",
                _LATIN.format("ups"),
                _LATIN.format("gls"),
                "yandex",
                "яндекс",
                "dostavista",
                "достависта",
            ),
        ),
        (
            "pickup",
            ("pick[-_ ]?up", "самовывоз", "самовивіз", "click (?:and|&) collect", "in[- ]store"),
        ),
        ("courier", ("courier", "курьер", "кур['’]?єр", "local[_ ]delivery")),
        (
            "post",
            (
                _LATIN.format("post"),
                _LATIN.format("postal"),
                "почт",
                "пошт",
                "usps",
                "royal[_ ]mail",
                "pochta",
                "ukrposhta",
                _LATIN.format("mail"),
            ),
        ),
    )
)


def delivery_method(*words: str) -> str:
    """The delivery method named by a shipping line's id and title ("local_pickup",
    "Самовывоз", "СДЭК до пункта выдачи")."""
    text = " ".join(word.lower() for word in words if word)
    for method, pattern in _DELIVERY_PATTERNS:
        if pattern.search(text):
            return method
    return "carrier"


# Gateways that take a bank card on the platform's checkout; other online gateways (PayPal,
# wallets, instalments) are "online". Both are paid before shipping (services/vocabulary).
_CARD_MARKERS = (
    "card",
    "stripe",
    "woocommerce_payments",
    "shopify_payments",
    "square",
    "braintree",
    "tinkoff",
    "tbank",
    "cloudpayments",
    "sberbank",
    "alfabank",
    "yookassa",
    "yakassa",
    "robokassa",
    "payture",
    "liqpay",
    "wayforpay",
)


def payment_method(gateway: str, *, cash: tuple[str, ...], bank: tuple[str, ...]) -> str:
    """Our payment method for a platform's gateway id; `cash` and `bank` are the platform's
    own ids for cash on delivery and bank transfer."""
    name = gateway.strip().lower()
    if name in cash:
        return "cash_on_delivery"
    if name in bank:
        return "bank_transfer"
    if any(marker in name for marker in _CARD_MARKERS):
        return "card"
    return "online"


assert {method for method, _ in _DELIVERY_PATTERNS} <= set(DELIVERY_METHODS)
assert {"cash_on_delivery", "bank_transfer", "card", "online"} <= set(PAYMENT_METHODS)
