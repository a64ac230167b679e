"""A new order as it arrives (from staff in the bot or the storefront API), and its checks.

Every check names the field at fault, so the API can answer `items[2].quantity` and the
bot can ask for that one field again.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers

from services.refusals import OrderRefused, Problem
from services.vocabulary import AVAILABILITIES, DELIVERY_METHODS, LANGUAGES, PAYMENT_METHODS

MAX_ITEMS = 200
MAX_QUANTITY = 100_000
MAX_PRICE = 10**12  # minor units; far above any real order, far below BigInteger's limit
_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")


@dataclass
class BuyerDraft:
    name: str = ""
    phone: str | None = None
    email: str | None = None
    language: str | None = None
    telegram_id: int | None = None


@dataclass
class ItemDraft:
    sku: str
    name: str
    quantity: int
    unit_price: int  # minor units
    availability: str = "in_stock"
    discount: int = 0  # on the whole line, minor units
    returnable: bool = False
    return_days: int = 0

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity - self.discount


@dataclass
class OrderDraft:
    buyer: BuyerDraft
    items: list[ItemDraft]
    payment_method: str
    delivery_method: str
    delivery_address: str = ""
    delivery_cost: int | None = None  # None: the shop's price for the method
    comment: str = ""
    external_id: str | None = None
    discount: int = 0  # on the whole order
    storefront_number: str | None = None  # the storefront's own number, as its buyer saw it


def invalid(field_name: str, message: str) -> OrderRefused:
    return OrderRefused(Problem.INVALID, message, {"field": field_name})


def normalize_phone(raw: str, country: str) -> str:
    """A phone as E.164, read with the shop's country as the default region (003)."""
    try:
        number = phonenumbers.parse(raw, country.upper())
    except phonenumbers.NumberParseException as error:
        raise invalid("buyer.phone", f"not a phone number: {raw!r}") from error
    if not phonenumbers.is_valid_number(number):
        raise invalid("buyer.phone", f"not a valid phone number: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def check_buyer(buyer: BuyerDraft, country: str) -> BuyerDraft:
    name = (buyer.name or "").strip()
    if len(name) > 128:
        raise invalid("buyer.name", "the name is longer than 128 characters")
    phone = normalize_phone(buyer.phone, country) if buyer.phone else None
    email = (buyer.email or "").strip() or None
    if email is not None and (len(email) > 254 or not _EMAIL.match(email)):
        raise invalid("buyer.email", f"not an e-mail address: {email!r}")
    if buyer.language is not None and buyer.language not in LANGUAGES:
        raise invalid("buyer.language", f"use one of {', '.join(LANGUAGES)}")
    if not (phone or email or buyer.telegram_id):
        raise invalid("buyer", "a buyer needs a phone, an e-mail or a Telegram account")
    return BuyerDraft(name, phone, email, buyer.language, buyer.telegram_id)


def check_items(items: list[ItemDraft], prefix: str = "items") -> None:
    if not items:
        raise invalid(prefix, "an order needs at least one item")
    if len(items) > MAX_ITEMS:
        raise invalid(prefix, f"at most {MAX_ITEMS} items in one order")
    for index, item in enumerate(items):
        where = f"{prefix}[{index}]"
        if not item.sku or len(item.sku) > 64:
            raise invalid(f"{where}.sku", "a SKU of 1 to 64 characters is needed")
        if not item.name or not item.name.strip() or len(item.name) > 256:
            raise invalid(f"{where}.name", "a name of 1 to 256 characters is needed")
        if not isinstance(item.quantity, int) or not 1 <= item.quantity <= MAX_QUANTITY:
            raise invalid(f"{where}.quantity", f"a whole number from 1 to {MAX_QUANTITY}")
        if not isinstance(item.unit_price, int) or not 0 <= item.unit_price <= MAX_PRICE:
            raise invalid(f"{where}.unit_price", "a price of zero or more is needed")
        if item.availability not in AVAILABILITIES:
            raise invalid(f"{where}.availability", f"use one of {', '.join(AVAILABILITIES)}")
        if not 0 <= item.discount <= item.unit_price * item.quantity:
            raise invalid(f"{where}.discount", "a discount from zero to the line's price")
        if not 0 <= item.return_days <= 3650:
            raise invalid(f"{where}.return_days", "from 0 to 3650 days")


def check_methods(payment_method: str, delivery_method: str) -> None:
    if payment_method not in PAYMENT_METHODS:
        raise invalid("payment.method", f"use one of {', '.join(PAYMENT_METHODS)}")
    if delivery_method not in DELIVERY_METHODS:
        raise invalid("delivery.method", f"use one of {', '.join(DELIVERY_METHODS)}")


def check_money(amount: int, field_name: str) -> None:
    if not isinstance(amount, int) or not 0 <= amount <= MAX_PRICE:
        raise invalid(field_name, "an amount of zero or more is needed")


def check_draft(draft: OrderDraft, country: str) -> OrderDraft:
    buyer = check_buyer(draft.buyer, country)
    check_items(draft.items)
    check_methods(draft.payment_method, draft.delivery_method)
    if draft.delivery_cost is not None:
        check_money(draft.delivery_cost, "delivery.cost")
    check_money(draft.discount, "discount")
    if len(draft.delivery_address) > 1000:
        raise invalid("delivery.address", "the address is longer than 1000 characters")
    if len(draft.comment) > 2000:
        raise invalid("comment", "the comment is longer than 2000 characters")
    if draft.external_id is not None and not 1 <= len(draft.external_id) <= 64:
        raise invalid("external_id", "from 1 to 64 characters")
    number = (draft.storefront_number or "").strip() or None
    if number is not None and len(number) > 64:
        raise invalid("number", "at most 64 characters")
    return OrderDraft(
        buyer=buyer,
        items=draft.items,
        payment_method=draft.payment_method,
        delivery_method=draft.delivery_method,
        delivery_address=draft.delivery_address.strip(),
        delivery_cost=draft.delivery_cost,
        comment=draft.comment.strip(),
        external_id=draft.external_id,
        discount=draft.discount,
        storefront_number=number,
    )
