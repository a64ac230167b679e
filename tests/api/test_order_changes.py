"""Cancel, ship and edit an order through the API (H4): each through the order service as the
storefront (the API channel), only where the shop's workflow allows it, all or nothing, and
idempotent with a key. Refusals carry the order problem's status and the field at fault."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.orders.actors import ActorRef
from storage.models import Buyer, Order, OrderEvent, OutboxMessage
from tests.api.conftest import order_body


async def placed(api, external_id: str = "web-1", **changes) -> int:
    status, body, _ = await api.post(order_body(external_id=external_id, **changes))
    assert status == 201, body
    return body["orders"][0]["number"]


async def order_row(api, number: int) -> Order:
    async with api.container.sessions() as session:
        return await session.scalar(
            select(Order).where(Order.shop_id == api.shop_id, Order.number == number)
        )


async def move(api, number: int, *actions: str) -> None:
    """The shop's owner takes these actions in Telegram."""
    order = await order_row(api, number)
    for action in actions:
        await api.container.orders.apply(order.id, ActorRef.user(api.shop.owner.id), action)


async def events(api, number: int) -> list[OrderEvent]:
    order = await order_row(api, number)
    async with api.container.sessions() as session:
        return list(
            await session.scalars(
                select(OrderEvent).where(OrderEvent.order_id == order.id).order_by(OrderEvent.id)
            )
        )


async def webhook_topics(api) -> list[str]:
    async with api.container.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage.topic)
                .where(OutboxMessage.channel == "webhook")
                .order_by(OutboxMessage.id)
            )
        )


# -- cancel ----------------------------------------------------------------------------------


async def test_cancel_with_a_reason_of_the_workflow(api):
    number = await placed(api)
    # when the storefront cancels it, out of stock
    status, body, _ = await api.send(
        "POST", f"/v1/orders/{number}/cancel", {"reason": "out_of_stock"}, key="c-1"
    )
    # then the order is cancelled, through the workflow's cancel action, on the API channel
    assert status == 200, body
    assert body["status"]["code"] == "cancelled" and body["number"] == number
    last = (await events(api, number))[-1]
    assert (last.action, last.channel, last.actor_kind) == ("cancel", "api", "system")
    assert last.payload["inputs"]["reason"] == "out_of_stock"
    assert (await webhook_topics(api))[-2:] == ["order.status_changed", "order.cancelled"]
    # and the same request again with its key replays the answer
    again = await api.send(
        "POST", f"/v1/orders/{number}/cancel", {"reason": "out_of_stock"}, key="c-1"
    )
    assert again[:2] == (status, body) and again[2]["Idempotent-Replayed"] == "true"
    # without a key a second cancel is refused as done already
    status, body, _ = await api.send(
        "POST", f"/v1/orders/{number}/cancel", {"reason": "out_of_stock"}
    )
    assert (status, body["error"]["code"]) == (409, "already_done")


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"reason": "no_such_reason"}, "input_invalid", "reason"),
        ({"reason": "changed_mind"}, "input_invalid", "reason"),  # the buyer's reason only
        ({"reason": "other"}, "input_missing", "comment"),  # "other" needs a comment
        ({"reason": "out_of_stock", "extra": 1}, "invalid", "extra"),
        ({"reason": ""}, "invalid", "reason"),
        ({"reason": 5}, "invalid", "reason"),
        ({"comment": "x"}, "invalid", "reason"),
    ],
)
async def test_a_cancel_the_workflow_refuses_changes_nothing(api, body, code, field):
    number = await placed(api)
    status, answer, _ = await api.send("POST", f"/v1/orders/{number}/cancel", body)
    assert status == 422 and answer["error"]["code"] == code, answer
    assert answer["error"]["field"] == field
    assert (await order_row(api, number)).status == "awaiting_confirmation"


async def test_cancel_after_payment_is_not_possible_in_the_marketplace_preset(api):
    number = await placed(api)
    await move(api, number, "confirm", "mark_paid")
    status, body, _ = await api.send(
        "POST", f"/v1/orders/{number}/cancel", {"reason": "out_of_stock"}
    )
    assert (status, body["error"]["code"]) == (409, "not_available")
    assert (await order_row(api, number)).status == "preparing_shipment"


async def test_unknown_and_other_shops_orders_are_404(api):
    from tests.factories import make_order, make_shop

    other = await make_shop(api.container)
    theirs = await make_order(api.container, other)
    for path in (f"/v1/orders/{theirs.number + 100}/cancel", "/v1/orders/abc/cancel"):
        status, body, _ = await api.send("POST", path, {"reason": "out_of_stock"})
        assert (status, body["error"]["code"]) == (404, "not_found")
    mine = await placed(api)
    assert mine == theirs.number  # the same number in another shop is another order
    status, _, _ = await api.send(
        "POST", f"/v1/orders/{mine}/cancel", {"reason": "out_of_stock"}, token=None
    )
    assert status == 200
    assert (await order_row(api, mine)).status == "cancelled"
    async with api.container.sessions() as session:
        assert (await session.get(Order, theirs.id)).status == "awaiting_confirmation"


# -- shipment --------------------------------------------------------------------------------


async def test_shipment_takes_the_workflows_ship_action_with_its_inputs(api):
    number = await placed(api)
    # not yet: the order is awaiting confirmation
    status, body, _ = await api.send(
        "POST", f"/v1/orders/{number}/shipment", {"carrier": "CDEK", "track_code": "1234567890"}
    )
    assert (status, body["error"]["code"]) == (409, "not_available")
    await move(api, number, "confirm", "mark_paid")
    # a track code that is not one
    status, body, _ = await api.send(
        "POST", f"/v1/orders/{number}/shipment", {"carrier": "CDEK", "track_code": "#!"}
    )
    assert (status, body["error"]["code"], body["error"]["field"]) == (
        422,
        "input_invalid",
        "track_code",
    )
    # when it is ready and the storefront ships it
    status, body, _ = await api.send(
        "POST",
        f"/v1/orders/{number}/shipment",
        {"carrier": "CDEK", "track_code": "12 3456 7890"},
        key="s-1",
    )
    assert status == 200, body
    assert body["status"]["code"] == "shipped"
    assert (body["carrier"], body["track_code"]) == ("CDEK", "1234567890")
    last = (await events(api, number))[-1]
    assert (last.action, last.channel) == ("ship", "api")
    # the key replays; a second shipment is done already
    again = await api.send(
        "POST",
        f"/v1/orders/{number}/shipment",
        {"carrier": "CDEK", "track_code": "12 3456 7890"},
        key="s-1",
    )
    assert again[:2] == (status, body)
    status, body, _ = await api.send(
        "POST", f"/v1/orders/{number}/shipment", {"carrier": "CDEK", "track_code": "1234567890"}
    )
    assert (status, body["error"]["code"]) == (409, "already_done")


async def test_a_pickup_order_is_not_shipped(api):
    number = await placed(api, delivery={"method": "pickup"})
    await move(api, number, "confirm", "mark_paid")
    status, body, _ = await api.send(
        "POST", f"/v1/orders/{number}/shipment", {"carrier": "CDEK", "track_code": "1234567890"}
    )
    assert (status, body["error"]["code"]) == (409, "not_for_this_order")


# -- PATCH -----------------------------------------------------------------------------------


async def test_patch_changes_the_address_keeping_the_cost(api):
    number = await placed(api)
    status, body, _ = await api.send(
        "PATCH",
        f"/v1/orders/{number}",
        {"delivery": {"address": "Moscow, Arbat 5"}, "comment": "Call first"},
        key="p-1",
    )
    assert status == 200, body
    order = await order_row(api, number)
    assert (order.delivery_address, order.delivery_cost) == ("Moscow, Arbat 5", 30000)
    assert order.buyer_comment == "Call first"
    actions = [e.action for e in await events(api, number)]
    assert actions[-2:] == ["change_delivery", "change_comment"]
    assert (await webhook_topics(api))[-2:] == ["order.updated", "order.updated"]
    # the same key with another body is refused
    status, body, _ = await api.send(
        "PATCH", f"/v1/orders/{number}", {"comment": "other"}, key="p-1"
    )
    assert (status, body["error"]["code"]) == (422, "idempotency_key_reused")
    # and a key used on another endpoint too
    status, body, _ = await api.send(
        "POST", f"/v1/orders/{number}/cancel", {"reason": "out_of_stock"}, key="p-1"
    )
    assert (status, body["error"]["code"]) == (422, "idempotency_key_reused")


async def test_patch_the_contact_gives_the_order_its_own_buyer(api):
    first = await placed(api, "web-1")
    second = await placed(api, "web-2")  # the same phone: today one buyer record
    status, body, _ = await api.send(
        "PATCH",
        f"/v1/orders/{first}",
        {"contact": {"phone": "+7 903 555-12-34", "email": None}},
    )
    assert status == 200, body
    one, two = await order_row(api, first), await order_row(api, second)
    async with api.container.sessions() as session:
        changed = await session.get(Buyer, one.buyer_id)
        kept = await session.get(Buyer, two.buyer_id)
    assert (changed.phone, changed.email, changed.name) == ("+79035551234", None, "Ivan Petrov")
    assert (kept.phone, kept.email) == ("+79161234567", "ivan@example.com")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, None),
        ({"contact": {}}, "contact"),
        ({"contact": {"phone": "+7 000"}}, "contact.phone"),
        ({"contact": {"email": "not-an-email"}}, "contact.email"),
        ({"contact": {"phone": None, "email": None}}, "contact"),
        ({"delivery": {"method": "teleport"}}, "delivery.method"),
        ({"delivery": {"cost": "1e3"}}, "delivery.cost"),
        ({"payment": {"method": "barter"}}, "payment.method"),
        ({"comment": 7}, "comment"),
    ],
)
async def test_a_bad_patch_is_422_and_changes_nothing(api, body, field):
    number = await placed(api)
    before = await order_row(api, number)
    status, answer, _ = await api.send("PATCH", f"/v1/orders/{number}", body)
    assert (status, answer["error"]["code"]) == (422, "invalid"), answer
    if field is not None:
        assert answer["error"]["field"] == field
    after = await order_row(api, number)
    assert (after.version, after.buyer_id) == (before.version, before.buyer_id)


async def test_a_patch_is_all_or_nothing_under_the_workflows_rules(api):
    number = await placed(api)
    await move(api, number, "confirm", "mark_paid")  # paid: delivery may change, payment not
    status, body, _ = await api.send(
        "PATCH",
        f"/v1/orders/{number}",
        {"delivery": {"address": "Elsewhere 1"}, "payment": {"method": "bank_transfer"}},
    )
    assert (status, body["error"]["code"]) == (409, "edit_not_allowed")
    order = await order_row(api, number)
    assert (order.delivery_address, order.payment_method) == ("Moscow, Tverskaya 1", "card")
    # the delivery alone is allowed
    status, body, _ = await api.send(
        "PATCH", f"/v1/orders/{number}", {"delivery": {"address": "Elsewhere 1"}}
    )
    assert status == 200 and (await order_row(api, number)).delivery_address == "Elsewhere 1"


async def test_every_change_needs_the_token(api):
    number = await placed(api)
    for method, path, body in [
        ("POST", f"/v1/orders/{number}/cancel", {"reason": "out_of_stock"}),
        ("POST", f"/v1/orders/{number}/shipment", {"carrier": "X", "track_code": "ABC123"}),
        ("PATCH", f"/v1/orders/{number}", {"comment": "x"}),
        ("GET", "/v1/orders", None),
        ("POST", "/v1/callback-requests", {"phone": "+79161234567", "product": {"name": "x"}}),
    ]:
        status, answer, headers = await api.send(method, path, body, token="sbk_wrong")
        assert (status, answer["error"]["code"]) == (401, "unauthorized")
        assert headers["WWW-Authenticate"] == "Bearer"
    assert (await order_row(api, number)).status == "awaiting_confirmation"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/orders/1/cancel"),
        ("POST", "/v1/orders/1/shipment"),
        ("PATCH", "/v1/orders/1"),
        ("POST", "/v1/callback-requests"),
    ],
)
async def test_what_is_not_a_json_request_is_refused_before_anything(api, method, path):
    await placed(api)
    before = await order_row(api, 1)
    url = f"/api{path}"
    cases = [
        ({"Content-Type": "text/plain"}, b"{}", 415, "unsupported_media_type"),
        ({"Content-Type": "application/json"}, b"[1]", 400, "malformed_json"),
        ({"Content-Type": "application/json"}, b"{bad", 400, "malformed_json"),
        ({"Content-Type": "application/json"}, b"NaN", 400, "malformed_json"),
        ({"Content-Type": "application/json"}, b" " * (20 * 1024), 413, "body_too_large"),
        (
            {"Content-Type": "application/json", "Idempotency-Key": "k" * 256},
            b"{}",
            400,
            "invalid_idempotency_key",
        ),
    ]
    for headers, body, status, code in cases:
        async with api.client.request(
            method, url, data=body, headers={**api.auth(), **headers}
        ) as response:
            answer = await response.json()
            assert (response.status, answer["error"]["code"]) == (status, code), (headers, body)
    after = await order_row(api, 1)
    assert (after.version, after.status) == (before.version, before.status)


async def test_a_patch_replays_with_its_key(api):
    number = await placed(api)
    first = await api.send("PATCH", f"/v1/orders/{number}", {"comment": "Ring"}, key="pk")
    version = (await order_row(api, number)).version
    again = await api.send("PATCH", f"/v1/orders/{number}", {"comment": "Ring"}, key="pk")
    assert first[0] == 200 and again[:2] == first[:2]
    assert again[2]["Idempotent-Replayed"] == "true"
    assert (await order_row(api, number)).version == version  # nothing done the second time
