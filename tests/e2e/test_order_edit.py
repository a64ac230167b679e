"""Editing an order from its card, end to end (A6, A7): goods only while agreeing with the
buyer, delivery with the total recalculated, payment, discounts, splitting; and the taps that
must change nothing: a packer's forged edit, another shop's staff, a stale menu or draft."""

from __future__ import annotations

import logging
from functools import partial

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from handlers.telegram.callbacks import OrderAct, OrderCB
from handlers.telegram.order_edit.menu import EditAct, EditCB
from services.orders.actors import ActorRef
from storage.models import Order
from tests.e2e.chats import labels, open_card
from tests.e2e.shops import ShopRecipe, fresh, open_shop, place_order, ref
from tests.factories import item

PLATFORM_MENU = [
    "📦 Goods",
    "🚚 Delivery",
    "💳 Payment",
    "🏷 Discount",
    "✂️ Split",
    "📅 Sending date",  # issue 18
    "↩️ Back",
]


SHOP = ShopRecipe(staff=("manager", "packer"), preset="platform")
# The goods alone: without a delivery cost the shop's own price for the method applies.
new_order = partial(place_order, delivery_cost=None)


def lines_of(order) -> list[tuple[str, int, int, int]]:
    return [(i.sku, i.quantity, i.unit_price, i.discount) for i in order.items]


async def test_goods_are_edited_only_while_agreeing_with_the_buyer(tg):
    shop = await open_shop(tg, SHOP)
    order = await new_order(tg, shop.id, item("CAT-1", 2, 150_000), item("DOG-1", 1, 50_000))
    # opening the new order moves it to "requires agreement" (A5): every edit is offered
    card = await open_card(tg, shop.manager, order.number)
    await tg.tap(shop.manager, card, text="✏️ Edit")
    assert labels(tg, card) == PLATFORM_MENU
    # when the manager edits the goods: one more chair, no dog, a cushion added
    await tg.tap(shop.manager, card, text="📦 Goods")
    assert "Order #1: goods" in card.text and "not saved yet" in card.text
    await tg.tap(shop.manager, card, text="➕ 1")
    await tg.tap(shop.manager, card, text="🗑 2")
    assert "Oak" not in card.text and "Item CAT-1 × 3" in card.text
    # nothing is saved yet
    assert lines_of(await fresh(tg, order.id)) == [
        ("CAT-1", 2, 150_000, 0),
        ("DOG-1", 1, 50_000, 0),
    ]
    await tg.say(shop.manager, "Cushion; 1; 200")
    editor = tg.last(shop.manager)
    assert "Cushion × 1" in editor.text and "Item CAT-1 × 3" in editor.text
    await tg.tap(shop.manager, editor, text="💾 Save")
    # then the order has the new goods and total, and the editor became the card again
    saved = await fresh(tg, order.id)
    assert lines_of(saved) == [("CAT-1", 3, 150_000, 0), ("manual-1", 1, 20_000, 0)]
    assert saved.total == 470_000 and saved.items_total == 470_000
    assert editor.text.startswith("Order #1") and "Total: 4,700.00\xa0RUB" in editor.text
    # when the order is confirmed, goods are no longer offered...
    await tg.container.orders.apply(order.id, await ref(tg, shop.manager), "confirm")
    card = await open_card(tg, shop.manager, order.number)
    await tg.tap(shop.manager, card, text="✏️ Edit")
    assert "📦 Goods" not in labels(tg, card) and "🚚 Delivery" in labels(tg, card)
    # ...and a forged "goods" button is refused with nothing changed
    confirmed = await fresh(tg, order.id)
    query = tg.emulator.forged_tap(
        shop.manager, card, EditCB(act=EditAct.ITEMS, id=order.id, v=confirmed.version).pack()
    )
    await tg.settle()
    answer = tg.emulator.callback_answer(query)
    assert answer.text == "This cannot be edited in the order's current status."
    assert (await fresh(tg, order.id)).version == confirmed.version


async def test_a_new_order_offers_no_goods_editing(tg):
    # the platform's "new" status allows delivery, payment and splitting, not the goods
    shop = await open_shop(tg, SHOP)
    order = await new_order(tg, shop.id)
    view = await tg.container.orders.view(order.id, await ref(tg, shop.manager))
    assert view.order.status == "new" and "items" not in view.edits
    assert {"delivery", "payment", "split"} <= view.edits


async def test_delivery_change_recalculates_the_total(tg):
    prices = {"delivery_prices": {"courier": 30_000, "post": 25_000}}
    shop = await open_shop(tg, SHOP, settings=prices)
    order = await new_order(tg, shop.id, delivery="post", delivery_cost=25_000)
    assert order.total == 325_000
    card = await open_card(tg, shop.manager, order.number)
    await tg.tap(shop.manager, card, text="✏️ Edit")
    await tg.tap(shop.manager, card, text="🚚 Delivery")
    assert "• post" in labels(tg, card)
    # courier at the shop's price, to a new address
    await tg.tap(shop.manager, card, text="courier")
    await tg.tap_offered(shop.manager, "Use 300.00\xa0RUB")
    assert "address" in tg.last(shop.manager).text
    await tg.say(shop.manager, "Moscow, Arbat 10")
    changed = await fresh(tg, order.id)
    assert (changed.delivery_method, changed.delivery_cost, changed.delivery_address) == (
        "courier",
        30_000,
        "Moscow, Arbat 10",
    )
    assert changed.total == 330_000
    said = tg.emulator.messages(shop.manager)[-2].text
    assert "Total: 3,300.00\xa0RUB (was 3,250.00\xa0RUB)" in said
    assert "Delivery: courier, 300.00\xa0RUB" in tg.last(shop.manager).text  # the card
    # pickup at a typed cost: no address asked
    card = tg.last(shop.manager)
    await tg.tap(shop.manager, card, text="✏️ Edit")
    await tg.tap(shop.manager, card, text="🚚 Delivery")
    await tg.tap(shop.manager, card, text="pickup")
    await tg.say(shop.manager, "abc")
    assert "not an amount" in tg.last(shop.manager).text
    await tg.say(shop.manager, "0")
    changed = await fresh(tg, order.id)
    assert (changed.delivery_method, changed.delivery_cost, changed.total) == ("pickup", 0, 300_000)


async def test_payment_change(tg):
    shop = await open_shop(tg, SHOP)
    order = await new_order(tg, shop.id, payment="card")
    card = await open_card(tg, shop.owner, order.number)
    await tg.tap(shop.owner, card, text="✏️ Edit")
    await tg.tap(shop.owner, card, text="💳 Payment")
    query = await tg.tap(shop.owner, card, text="cash on delivery")
    assert (await fresh(tg, order.id)).payment_method == "cash_on_delivery"
    assert tg.emulator.callback_answer(query).text == "Payment: cash on delivery"
    assert "Payment: cash on delivery" in card.text


async def test_discounts_on_the_order_and_on_a_line(tg):
    shop = await open_shop(tg, SHOP)
    order = await new_order(
        tg, shop.id, item("CAT-1", 2, 150_000), item("DOG-1", 1, 50_000), delivery_cost=0
    )
    card = await open_card(tg, shop.manager, order.number)
    # a line: 100 off the dog
    await tg.tap(shop.manager, card, text="✏️ Edit")
    await tg.tap(shop.manager, card, text="🏷 Discount")
    await tg.tap(shop.manager, card, text="2. Item DOG-1")
    await tg.say(shop.manager, "600")
    assert "at most 500.00\xa0RUB" in tg.last(shop.manager).text
    await tg.say(shop.manager, "100")
    discounted = await fresh(tg, order.id)
    assert lines_of(discounted)[1] == ("DOG-1", 1, 50_000, 10_000)
    assert discounted.total == 340_000
    # the whole order: 10% of the goods
    card = tg.last(shop.manager)
    await tg.tap(shop.manager, card, text="✏️ Edit")
    await tg.tap(shop.manager, card, text="🏷 Discount")
    await tg.tap(shop.manager, card, text="On the whole order")
    await tg.say(shop.manager, "10%")
    discounted = await fresh(tg, order.id)
    assert discounted.discount == 34_000 and discounted.total == 306_000
    assert (
        "Total: 3,060.00\xa0RUB (was 3,400.00\xa0RUB)"
        in tg.emulator.messages(shop.manager)[-2].text
    )
    assert "Discount: −340.00\xa0RUB" in tg.last(shop.manager).text
    # /cancel leaves a typed step: the next number is not a discount
    card = tg.last(shop.manager)
    await tg.tap(shop.manager, card, text="✏️ Edit")
    await tg.tap(shop.manager, card, text="🏷 Discount")
    await tg.tap(shop.manager, card, text="On the whole order")
    await tg.say(shop.manager, "/cancel")
    assert "the order was not changed" in tg.last(shop.manager).text
    await tg.say(shop.manager, "50")
    assert (await fresh(tg, order.id)).discount == 34_000


async def test_split_with_a_reason(tg):
    shop = await open_shop(tg, SHOP)
    order = await new_order(tg, shop.id, item("CAT-1", 2, 150_000), item("DOG-1", 1, 50_000))
    card = await open_card(tg, shop.manager, order.number)
    await tg.tap(shop.manager, card, text="✏️ Edit")
    await tg.tap(shop.manager, card, text="✂️ Split")
    # nothing chosen yet: "Next" explains
    query = await tg.tap(shop.manager, card, text="Next ▶️")
    assert "Choose what moves" in tg.emulator.callback_answer(query).text
    # everything chosen: something must stay
    for label in ("➕ 1", "➕ 1", "➕ 2"):
        await tg.tap(shop.manager, card, text=label)
    query = await tg.tap(shop.manager, card, text="Next ▶️")
    assert "must stay" in tg.emulator.callback_answer(query).text
    await tg.tap(shop.manager, card, text="➖ 1")
    assert "1. Item CAT-1: 1 of 2 to the new order" in card.text
    await tg.tap(shop.manager, card, text="Next ▶️")
    await tg.tap(shop.manager, card, text="Different lead times")
    # then two orders, both cards shown
    kept = await fresh(tg, order.id)
    assert lines_of(kept) == [("CAT-1", 1, 150_000, 0)]
    async with tg.container.sessions() as session:
        new_id = await session.scalar(select(Order.id).where(Order.split_from_id == order.id))
    new = await fresh(tg, new_id)
    assert lines_of(new) == [("CAT-1", 1, 150_000, 0), ("DOG-1", 1, 50_000, 0)]
    assert new.status == kept.status == "requires_agreement"
    assert card.text.startswith("Order #1") and tg.last(shop.manager).text.startswith("Order #2")
    assert "order #2" in tg.emulator.messages(shop.manager)[-2].text


async def test_split_for_another_reason_needs_a_comment(tg):
    shop = await open_shop(tg, SHOP)
    order = await new_order(tg, shop.id, item("CAT-1", 2, 150_000))
    card = await open_card(tg, shop.manager, order.number)
    await tg.tap(shop.manager, card, text="✏️ Edit")
    await tg.tap(shop.manager, card, text="✂️ Split")
    await tg.tap(shop.manager, card, text="➕ 1")
    await tg.tap(shop.manager, card, text="Next ▶️")
    await tg.tap(shop.manager, card, text="Other")
    assert "needs a comment" in tg.last(shop.manager).text
    assert len(lines_of(await fresh(tg, order.id))) == 1
    assert (await fresh(tg, order.id)).items[0].quantity == 2
    await tg.say(shop.manager, "Second chair comes from Kazan")
    assert (await fresh(tg, order.id)).items[0].quantity == 1
    history = await tg.container.orders.history(order.id, ActorRef.system())
    split = next(event for event in history if event.action == "split")
    assert split.payload["reason"] == "other"
    assert split.payload["comment"] == "Second chair comes from Kazan"


async def test_a_packers_forged_edit_is_refused(tg):
    shop = await open_shop(tg, SHOP)
    order = await new_order(tg, shop.id, payment="card")
    await tg.container.orders.open(order.id, await ref(tg, shop.manager))
    card = await open_card(tg, shop.packer, order.number)
    # the packer's card has no "Edit"
    assert "✏️ Edit" not in labels(tg, card)
    before = await fresh(tg, order.id)
    for data in (
        OrderCB(act=OrderAct.EDIT, id=order.id, v=before.version).pack(),
        EditCB(act=EditAct.PAY, id=order.id, v=before.version, a="cash").pack(),
        EditCB(act=EditAct.ITEMS, id=order.id, v=before.version).pack(),
    ):
        query = tg.emulator.forged_tap(shop.packer, card, data)
        await tg.settle()
        answer = tg.emulator.callback_answer(query)
        assert answer.text == "You may not do this." and answer.show_alert
    after = await fresh(tg, order.id)
    assert (after.version, after.payment_method) == (before.version, "card")


async def test_another_shops_staff_cannot_edit_by_a_forged_button(tg):
    shop = await open_shop(tg, SHOP)
    order = await new_order(tg, shop.id, payment="card")
    other = await open_shop(tg, SHOP, name="Other shop")
    other_order = await new_order(tg, other.id)
    card = await open_card(tg, other.owner, other_order.number)
    before = await fresh(tg, order.id)
    for data in (
        OrderCB(act=OrderAct.EDIT, id=order.id, v=before.version).pack(),
        EditCB(act=EditAct.PAY, id=order.id, v=before.version, a="cash").pack(),
        EditCB(act=EditAct.SPLIT, id=order.id, v=before.version).pack(),
    ):
        query = tg.emulator.forged_tap(other.owner, card, data)
        await tg.settle()
        assert tg.emulator.callback_answer(query).text == "Order not found."
    after = await fresh(tg, order.id)
    assert (after.version, after.payment_method, after.opened_at) == (before.version, "card", None)
    # their own card was not replaced by the other shop's order
    assert f"Order #{other_order.number} · Other shop" in card.text


async def test_a_stale_menu_or_draft_changes_nothing(tg):
    shop = await open_shop(tg, SHOP)
    order = await new_order(tg, shop.id, payment="card")
    card = await open_card(tg, shop.manager, order.number)
    await tg.tap(shop.manager, card, text="✏️ Edit")
    await tg.tap(shop.manager, card, text="💳 Payment")
    # meanwhile the owner changes the payment
    await tg.container.orders.change_payment(order.id, await ref(tg, shop.owner), "bank_transfer")
    query = await tg.tap(shop.manager, card, text="cash")
    answer = tg.emulator.callback_answer(query)
    assert answer.text == "The order has changed; here is its current card." and answer.show_alert
    assert (await fresh(tg, order.id)).payment_method == "bank_transfer"
    assert "Payment: bank transfer" in card.text and "✏️ Edit" in labels(tg, card)
    # a goods draft overtaken by a discount
    await tg.tap(shop.manager, card, text="✏️ Edit")
    await tg.tap(shop.manager, card, text="📦 Goods")
    await tg.tap(shop.manager, card, text="➕ 1")
    await tg.container.orders.set_discount(
        order.id, await ref(tg, shop.owner), order_discount=1_000
    )
    before = await fresh(tg, order.id)
    query = await tg.tap(shop.manager, card, text="💾 Save")
    assert tg.emulator.callback_answer(query).text.startswith("The order has changed")
    after = await fresh(tg, order.id)
    assert (after.version, lines_of(after)) == (before.version, lines_of(before))
    # the draft is gone: its buttons now say so
    query = tg.emulator.forged_tap(
        shop.manager, card, EditCB(act=EditAct.MORE, id=order.id, v=before.version).pack()
    )
    await tg.settle()
    assert "editing step is over" in tg.emulator.callback_answer(query).text
    # a typed draft step after the order moved on: a discount typed for an old version
    await tg.tap(shop.manager, card, text="✏️ Edit")
    await tg.tap(shop.manager, card, text="🏷 Discount")
    await tg.tap(shop.manager, card, text="On the whole order")
    await tg.container.orders.change_payment(order.id, await ref(tg, shop.owner), "cash")
    await tg.say(shop.manager, "50")
    assert "The order has changed" in tg.emulator.messages(shop.manager)[-2].text
    assert (await fresh(tg, order.id)).discount == 1_000


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.one_of(
        st.builds(
            lambda prefix, act, a, n, v: f"{prefix}:{act}:{{id}}:{{v}}:{a}:{n}".replace(
                "{v}", str(v) if v is not None else "{v}"
            ),
            st.sampled_from(["ed", "l", "mo"]),
            st.sampled_from([*EditAct, "zz", "o", "p"]),
            st.sampled_from(["", "cash", "pickup", "x" * 30, "1"]),
            st.integers(-3, 10**12),
            st.one_of(st.none(), st.integers(-3, 10**12)),
        ),
        st.text(alphabet="edlmo:0123456789abcxyz", max_size=40),
    )
)
async def test_random_edit_list_and_form_data_never_break_or_change_anything(tg, caplog, data):
    # given a shop and an order the packer sees (packers may not edit)
    if not hasattr(tg, "arranged"):
        tg.arranged = await open_shop(tg, SHOP)
        tg.order = await new_order(tg, tg.arranged.id)
        await tg.container.orders.open(tg.order.id, await ref(tg, tg.arranged.manager))
        tg.card = await open_card(tg, tg.arranged.packer, tg.order.number)
    caplog.set_level(logging.ERROR)
    before = await fresh(tg, tg.order.id)
    payload = data.replace("{id}", str(before.id)).replace("{v}", str(before.version))
    payload = payload.encode()[:64].decode("utf-8", "ignore")
    if not payload:
        return
    # when the packer sends it
    query = tg.emulator.forged_tap(tg.arranged.packer, tg.card, payload)
    await tg.settle()
    # then it is answered, nothing changed, nothing broke
    after = await fresh(tg, tg.order.id)
    assert (after.version, after.status, after.payment_method) == (
        before.version,
        before.status,
        before.payment_method,
    )
    assert tg.emulator.callback_answer(query) is not None
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
