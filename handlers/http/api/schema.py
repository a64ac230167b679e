"""The storefront's order request: its shape (pydantic, strict) and its turning into a draft.

Strict: a string is not a number, a number is not a string, `true` is not 1, and a field the
API does not know is refused rather than ignored (a misspelt "comment" must not vanish).
Money travels as a decimal string in the shop's currency ("199.90"), never as a JSON number,
so no float ever touches it; it becomes integer minor units here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.orders.drafts import MAX_ITEMS, MAX_QUANTITY, BuyerDraft, ItemDraft, OrderDraft
from services.orders.money import to_minor
from services.vocabulary import AVAILABILITIES, DELIVERY_METHODS, LANGUAGES, PAYMENT_METHODS

# At most 13 digits before the point and 3 after (KWD and friends have 3); the currency
# decides how many decimals it really has.
MONEY_PATTERN = r"^(0|[1-9][0-9]{0,12})(\.[0-9]{1,3})?$"
# Far above any real order and far below what a 64-bit column holds (200 lines at the largest
# price and quantity would overflow it).
MAX_ORDER_TOTAL = 10**15  # minor units
MONEY_HINT = 'a decimal string like "199.90": no sign, no exponent, at most 3 decimals'

# PostgreSQL text cannot hold NUL; no name or address needs one.
NO_NUL = r"^[^\x00]*$"


def text(max_length: int, min_length: int = 0, **extra: Any) -> Any:
    """A free-text field: any characters but NUL, within the lengths."""
    return Field(pattern=NO_NUL, min_length=min_length, max_length=max_length, **extra)


Money = Annotated[
    str,
    Field(
        pattern=MONEY_PATTERN,
        max_length=17,
        description='An amount in the shop\'s currency as a decimal string, e.g. "199.90".',
        examples=["199.90"],
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


M = TypeVar("M", bound=BaseModel)


class BuyerIn(_Strict):
    name: str = text(128, default="")
    phone: str | None = text(
        32, default=None, description="Any common notation; read with the shop's country."
    )
    email: str | None = text(254, default=None)
    language: Literal[LANGUAGES] | None = Field(
        None, description="The buyer's language for messages from the shop."
    )


class ItemIn(_Strict):
    sku: str = text(64, 1)
    name: str = text(256, 1)
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    unit_price: Money
    availability: Literal[AVAILABILITIES] = Field(
        "in_stock", description="In-stock and made-to-order goods become separate orders."
    )
    returnable: bool = False
    return_days: int = Field(0, ge=0, le=3650)


class DeliveryIn(_Strict):
    method: Literal[DELIVERY_METHODS]
    address: str = text(1000, default="")
    cost: Money | None = Field(None, description="Omitted or null: the shop's price for it.")


class PaymentIn(_Strict):
    method: Literal[PAYMENT_METHODS]


class OrderRequest(_Strict):
    """A new order from the storefront."""

    external_id: str = text(
        64,
        1,
        description="The storefront's own order id; one per shop (a second one is a 409).",
    )
    number: str = text(
        64,
        default="",
        description='The order\'s number as the storefront showed it to the buyer ("#1001"); '
        "printed beside ShopBot's own number in e-mails and documents.",
    )
    buyer: BuyerIn
    items: list[ItemIn] = Field(min_length=1, max_length=MAX_ITEMS)
    delivery: DeliveryIn
    payment: PaymentIn
    comment: str = text(2000, default="")


class RequestInvalid(Exception):
    """The request is not what the API takes; `field` names the place, as in
    `items[1].unit_price`."""

    def __init__(self, message: str, field: str | None):
        super().__init__(message)
        self.message = message
        self.field = field


def field_path(location: tuple[Any, ...]) -> str:
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _message(error: dict[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "this field is required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        return MONEY_HINT if error["ctx"]["pattern"] == MONEY_PATTERN else "NUL is not allowed"
    return str(error["msg"]).replace("Input should", "should")


def parse_model(model: type[M], data: Any) -> M:
    """`data` as `model`, or RequestInvalid naming the first field at fault."""
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        raise RequestInvalid(_message(first), field_path(first["loc"]) or None) from error


def parse_request(data: Any) -> OrderRequest:
    """The request, or RequestInvalid naming the first field at fault."""
    return parse_model(OrderRequest, data)


def to_minor_field(amount: str, currency: str, field: str) -> int:
    try:
        return to_minor(amount, currency)
    except ValueError as error:
        raise RequestInvalid(f"{currency} has fewer decimals than {amount!r}", field) from error


def to_draft(request: OrderRequest, currency: str) -> OrderDraft:
    """The order service's draft; amounts in the shop's currency's minor units."""
    items = [
        ItemDraft(
            sku=item.sku,
            name=item.name,
            quantity=item.quantity,
            unit_price=to_minor_field(item.unit_price, currency, f"items[{index}].unit_price"),
            availability=item.availability,
            returnable=item.returnable,
            return_days=item.return_days,
        )
        for index, item in enumerate(request.items)
    ]
    cost = request.delivery.cost
    delivery_cost = None if cost is None else to_minor_field(cost, currency, "delivery.cost")
    if sum(i.unit_price * i.quantity for i in items) + (delivery_cost or 0) > MAX_ORDER_TOTAL:
        raise RequestInvalid("the order's total is too large", "items")
    return OrderDraft(
        buyer=BuyerDraft(
            name=request.buyer.name,
            phone=request.buyer.phone,
            email=request.buyer.email,
            language=request.buyer.language,
        ),
        items=items,
        payment_method=request.payment.method,
        delivery_method=request.delivery.method,
        delivery_address=request.delivery.address,
        delivery_cost=delivery_cost,
        comment=request.comment,
        external_id=request.external_id,
        storefront_number=request.number or None,
    )
