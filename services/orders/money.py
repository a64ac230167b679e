"""Order totals in integer minor units: no floats anywhere money is counted."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import get_currency_precision


def exponent(currency: str) -> int:
    """The currency's decimals as CLDR has them (XOF 0, TND 3, JOD 3; 2 for an unknown code)."""
    return get_currency_precision(currency.upper())


def to_minor(amount: str | Decimal, currency: str) -> int:
    """'199.90' RUB -> 19990. Refuses more precision than the currency has."""
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation as error:
        raise ValueError(f"not an amount: {amount!r}") from error
    if not value.is_finite():
        raise ValueError(f"not an amount: {amount!r}")
    scaled = value.scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more decimals than {currency} allows")
    return int(scaled.to_integral_value(rounding=ROUND_HALF_UP))


def format_minor(amount: int, currency: str) -> str:
    """19990, 'RUB' -> '199.90 RUB' (locale-aware formatting is the UI's job)."""
    places = exponent(currency)
    value = Decimal(amount).scaleb(-places)
    return f"{value:.{places}f} {currency}"


def order_total(items_total: int, discount: int, delivery_cost: int) -> int:
    return items_total - discount + delivery_cost
