"""The storefront's requests beside order creation (H4): cancel, ship, edit an order, and a
one-click-buy callback request. Strict as the order request is (handlers/http/api/schema.py):
unknown fields refused, no type coercion, money as a decimal string."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from handlers.http.api.schema import Money, RequestInvalid, _Strict, text, to_minor_field
from services.storefront.callbacks import CallbackDraft
from services.storefront.changes import OrderPatch
from services.vocabulary import DELIVERY_METHODS, PAYMENT_METHODS


class CancelRequest(_Strict):
    """Cancel the order with a reason from the shop's workflow."""

    reason: str = text(
        40, 1, description="A cancellation reason code of the shop's workflow, e.g. out_of_stock."
    )
    comment: str = text(1000, default="", description="Required by some reasons ('other').")


class PaymentRequest(_Strict):
    """The storefront's own checkout took the money: the order is paid by it once per
    reference; an amount that is not what is due flags the order for the shop instead."""

    amount: Money
    reference: str = Field(
        pattern=r"^[A-Za-z0-9._:-]{1,64}$",
        description="The payment's id at the storefront's payment provider.",
    )


class ShipmentRequest(_Strict):
    """The goods went to a carrier: the workflow's shipping action, with its inputs."""

    carrier: str = text(64, 1, description="The carrier's name, e.g. CDEK.")
    track_code: str = text(
        40, 1, description="3 to 40 latin letters, digits or dashes (spaces are dropped)."
    )
    comment: str = text(1000, default="")


class ContactPatch(_Strict):
    """The buyer's contact for this order; a field given as null is cleared."""

    name: str | None = text(128, default=None)
    phone: str | None = text(32, default=None, description="Read with the shop's country.")
    email: str | None = text(254, default=None)


class DeliveryPatch(_Strict):
    method: Literal[DELIVERY_METHODS] | None = None
    address: str | None = text(1000, default=None)
    cost: Money | None = Field(
        None,
        description="Omitted: the order keeps its cost, or gets the shop's price for a new method.",
    )


class PaymentPatch(_Strict):
    method: Literal[PAYMENT_METHODS]


class OrderPatchRequest(_Strict):
    """What to change; what is left out stays as it is. Each part only while the shop's
    workflow allows its edit in the order's status (contact and comment go with delivery)."""

    model_config = _Strict.model_config | {"json_schema_extra": {"minProperties": 1}}

    contact: ContactPatch | None = None
    delivery: DeliveryPatch | None = None
    payment: PaymentPatch | None = None
    comment: str | None = text(2000, default=None, description="The buyer's comment.")

    @model_validator(mode="after")
    def _something(self) -> OrderPatchRequest:
        if not self.model_fields_set:
            raise ValueError("nothing to change: give contact, delivery, payment or comment")
        return self


class ProductIn(_Strict):
    sku: str = text(64, default="")
    name: str = text(256, 1)
    price: Money | None = Field(None, description="Its price, to prefill the order.")


class CallbackRequestIn(_Strict):
    """One-click buy: the buyer asks the shop to call back about a product."""

    phone: str = text(32, 1, description="Read with the shop's country.")
    name: str = text(128, default="")
    product: ProductIn
    comment: str = text(2000, default="")


def to_patch(request: OrderPatchRequest, currency: str) -> OrderPatch:
    contact = None
    if request.contact is not None:
        given = request.contact.model_fields_set
        contact = {name: getattr(request.contact, name) for name in given}
        if "name" in contact and contact["name"] is None:
            contact["name"] = ""
        if not contact:
            raise RequestInvalid("give name, phone or email", "contact")
    delivery = request.delivery
    cost = None
    if delivery is not None and delivery.cost is not None:
        cost = to_minor_field(delivery.cost, currency, "delivery.cost")
    return OrderPatch(
        contact=contact,
        delivery_method=delivery.method if delivery else None,
        delivery_address=delivery.address if delivery else None,
        delivery_cost=cost,
        payment_method=request.payment.method if request.payment else None,
        comment=request.comment,
    )


def to_callback(request: CallbackRequestIn, currency: str) -> CallbackDraft:
    price = request.product.price
    return CallbackDraft(
        phone=request.phone,
        name=request.name,
        product_sku=request.product.sku,
        product_name=request.product.name,
        product_price=None if price is None else to_minor_field(price, currency, "product.price"),
        comment=request.comment,
    )
