"""The variables a document template sees, built from an order (docs/documents.md lists them).

Plain dicts, lists, strings and numbers only: the sandbox gives templates nothing with
methods worth walking, and the database objects never reach a template. Amounts come twice:
formatted for the document's language (`total`) and in minor units (`total_minor`), for a
template that counts or prints them its own way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from babel.dates import format_date

from services.documents.codes import code128_png, data_uri, payment_payload, qr_png
from services.documents.requisites import amount_in_words, vat_line
from services.messaging.email.formatting import LOCALES, money, phone, when
from storage.models import Buyer, Order, OrderItem, Shop

# The shop's bank details (for the payment slip and its QR) live in shop.settings["bank"].
BANK_SETTING = "bank"
# "recipient" is the supplier's legal name ("ООО «Ромашка»", "ИП Иванов И. И."); "vat" is
# "none" (not a VAT payer) or the rate in percent (services.documents.requisites).
BANK_KEYS = ("recipient", "inn", "kpp", "account", "bank_name", "bic", "corr_account", "vat")
# Without these a payment slip would be a form nobody can pay by: it is not offered.
PAYABLE_KEYS = ("recipient", "account", "bic")
# Other shop details a document prints, from shop.settings when the shop has written them.
SHOP_DETAIL_KEYS = ("address", "phone", "website")
PAYMENT_DAYS = 3  # "awaiting payment" lasts 3 days in the marketplace preset (A4)

METHOD_TITLES = {
    "ru": {
        "cash": "наличные",
        "cash_on_delivery": "наложенный платёж",
        "card": "банковская карта",
        "bank_transfer": "банковский перевод",
        "online": "онлайн-оплата",
        "pickup": "самовывоз",
        "courier": "курьер",
        "post": "почта",
        "carrier": "транспортная компания",
    },
    "uk": {
        "cash": "готівка",
        "cash_on_delivery": "накладений платіж",
        "card": "банківська картка",
        "bank_transfer": "банківський переказ",
        "online": "онлайн-оплата",
        "pickup": "самовивіз",
        "courier": "кур'єр",
        "post": "пошта",
        "carrier": "транспортна компанія",
    },
    "en": {
        "cash": "cash",
        "cash_on_delivery": "cash on delivery",
        "card": "card",
        "bank_transfer": "bank transfer",
        "online": "online payment",
        "pickup": "pickup",
        "courier": "courier",
        "post": "post",
        "carrier": "carrier",
    },
}
PURPOSES = {
    "ru": "Оплата заказа №{number}",
    "uk": "Оплата замовлення №{number}",
    "en": "Payment for order #{number}",
}

# The names a template may use at its top level (validation refuses any other).
TOP_LEVEL = frozenset(
    {
        "shop",
        "buyer",
        "order",
        "items",
        "totals",
        "discounts",
        "delivery",
        "dates",
        "barcode",
        "payment",
        "lang",
    }
)


def bank_of(shop: Shop) -> dict[str, str]:
    bank = (shop.settings or {}).get(BANK_SETTING) or {}
    return {key: str(bank.get(key) or "") for key in BANK_KEYS}


def has_bank_details(shop: Shop) -> bool:
    """Whether the shop wrote the bank details a payment slip needs (recipient, account, BIC)."""
    bank = bank_of(shop)
    return all(bank[key] for key in PAYABLE_KEYS)


def method_title(code: str, language: str) -> str:
    return METHOD_TITLES.get(language, METHOD_TITLES["en"]).get(code, code)


def document_variables(
    order: Order, shop: Shop, language: str, now: datetime, status_title: str = ""
) -> dict[str, Any]:
    """Every variable of every document, for `order` (with its items and buyer loaded)."""
    currency = order.currency

    def amount(value: int) -> str:
        return money(value, currency, language)

    settings = shop.settings or {}
    bank = bank_of(shop)
    details = {key: str(settings.get(key) or "") for key in SHOP_DETAIL_KEYS}
    buyer: Buyer = order.buyer
    items = [_item(index, item, amount) for index, item in enumerate(order.items, 1)]
    line_discounts = sum(item.discount for item in order.items)
    number = str(order.number)
    purpose = PURPOSES.get(language, PURPOSES["en"]).format(number=order.number)
    payload = payment_payload(bank, order.total, purpose) if currency == "RUB" else None
    tz = shop.timezone or "UTC"
    locale = LOCALES.get(language, "en_GB")
    return {
        "lang": language,
        "shop": {
            "name": shop.name,
            "legal_name": bank["recipient"] or shop.name,
            "email": shop.email or "",
            **details,
            "bank": bank,
        },
        "buyer": {"name": buyer.name, "phone": phone(buyer.phone), "email": buyer.email or ""},
        "order": {
            "number": order.number,
            "storefront_number": order.storefront_number or "",
            "status": order.status,
            "status_title": status_title or order.status,
            "currency": currency,
            "payment_method": order.payment_method,
            "payment_method_title": method_title(order.payment_method, language),
            "comment": order.buyer_comment or "",
            "created": when(order.created_at, tz, language),
        },
        "items": items,
        "totals": {
            "goods": amount(order.items_total),
            "goods_minor": order.items_total,
            "before_discounts": amount(order.items_total + line_discounts),
            "discount": amount(order.discount + line_discounts),
            "delivery": amount(order.delivery_cost),
            "total": amount(order.total),
            "total_minor": order.total,
            "in_words": amount_in_words(order.total, currency, language),
            "vat": vat_line(order.total, bank["vat"], amount, language),
            "quantity": sum(item.quantity for item in order.items),
            "lines": len(items),
        },
        "discounts": {
            "order": amount(order.discount),
            "order_minor": order.discount,
            "lines": amount(line_discounts),
            "lines_minor": line_discounts,
            "any": bool(order.discount or line_discounts),
        },
        "delivery": {
            "method": order.delivery_method,
            "method_title": method_title(order.delivery_method, language),
            "cost": amount(order.delivery_cost),
            "cost_minor": order.delivery_cost,
            "address": order.delivery_address or "",
            "carrier": order.carrier or "",
            "track_code": order.track_code or "",
        },
        "dates": {
            "today": format_date(now.astimezone(_zone(tz)).date(), "long", locale=locale),
            "created": format_date(
                order.created_at.astimezone(_zone(tz)).date(), "long", locale=locale
            ),
            "pay_until": format_date(
                (now + timedelta(days=PAYMENT_DAYS)).astimezone(_zone(tz)).date(),
                "long",
                locale=locale,
            ),
        },
        "barcode": {"text": number, "image": data_uri(code128_png(number))},
        "payment": {
            "purpose": purpose,
            "amount": amount(order.total),
            "amount_minor": order.total,
            "qr_text": payload or "",
            "qr": data_uri(qr_png(payload)) if payload else "",
        },
    }


def _item(index: int, item: OrderItem, amount) -> dict[str, Any]:
    return {
        "position": index,
        "sku": item.sku,
        "name": item.name,
        "quantity": item.quantity,
        "unit_price": amount(item.unit_price),
        "unit_price_minor": item.unit_price,
        "discount": amount(item.discount) if item.discount else "",
        "discount_minor": item.discount,
        "amount": amount(item.line_total),
        "amount_minor": item.line_total,
    }


def _zone(name: str):
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return UTC


def sample_order(shop: Shop, now: datetime) -> Order:
    """A made-up order of the shop's for previews: every variable filled, nothing stored."""
    buyer = Buyer(
        id=0,
        shop_id=shop.id,
        name="Иван Петров",
        phone="+79001234567",
        email="buyer@example.com",
        language=shop.language,
    )
    lines = [
        ("TEA-01", "Чай зелёный, 100 г", 2, 45000, 0),
        ("CUP-02", "Кружка керамическая", 1, 89000, 10000),
        ("HNY-03", "Мёд липовый, 500 г", 3, 62000, 0),
    ]
    items = [
        OrderItem(
            position=i,
            sku=sku,
            name=name,
            quantity=qty,
            unit_price=price,
            discount=disc,
            availability="in_stock",
        )
        for i, (sku, name, qty, price, disc) in enumerate(lines, 1)
    ]
    items_total = sum(item.line_total for item in items)
    discount, delivery = 5000, 35000
    order = Order(
        id=0,
        shop_id=shop.id,
        number=1042,
        status="awaiting_payment",
        status_changed_at=now,
        availability="in_stock",
        payment_method="bank_transfer",
        delivery_method="courier",
        delivery_address="Москва, ул. Примерная, д. 1, кв. 2",
        currency=shop.currency or "RUB",
        items_total=items_total,
        discount=discount,
        delivery_cost=delivery,
        total=items_total - discount + delivery,
        source="api",
        storefront_number="#1001",
        buyer_token="",
        buyer_comment="Позвоните за час до доставки",
        created_at=now,
        updated_at=now,
    )
    order.items = items
    order.buyer = buyer
    return order
