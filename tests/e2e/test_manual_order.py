"""An order taken by phone, end to end (A3): the conversation, the phone re-asked, mixed
availability making two orders, cancelling midway, and the buyer's deep link."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.i18n import build_i18n
from handlers.telegram.manual_order import ManualAct, ManualCB, parse_amount, parse_item_line
from services.orders.actors import ActorRef
from storage.models import Order
from tests.e2e.shops import ShopRecipe, open_shop

SHOP = ShopRecipe(preset="platform")


async def orders_of(tg, shop_id) -> list[Order]:
    async with tg.container.sessions() as session:
        ids = await session.scalars(
            select(Order.id).where(Order.shop_id == shop_id).order_by(Order.number)
        )
        ids = list(ids)
    return [await tg.container.orders.get(order_id, ActorRef.system()) for order_id in ids]


async def count_orders(tg) -> int:
    async with tg.container.sessions() as session:
        return await session.scalar(select(func.count()).select_from(Order))


async def answer_up_to_items(tg, person, name="Anna Smirnova", phone="+7 916 123-45-67"):
    await tg.say(person, "/new")
    assert "What is the buyer's name?" in tg.last(person).text
    await tg.say(person, name)
    assert "phone" in tg.last(person).text
    await tg.say(person, phone)


async def pickup_summary(tg, person):
    """The form filled in for one oak chair, picked up and paid in cash: its summary, not
    created yet."""
    await answer_up_to_items(tg, person)
    await tg.say(person, "Oak chair; 1; 1500")
    await tg.tap_offered(person, "✅ Done")
    await tg.tap_offered(person, "pickup · free")
    await tg.tap_offered(person, "cash")
    return await tg.offering(person, "✅ Create")


async def test_a_phone_order_end_to_end(tg):
    shop = await open_shop(tg, SHOP)
    # when the manager takes an order by phone, with a bad phone on the way
    await tg.say(shop.manager, "/new")
    await tg.say(shop.manager, "Anna Smirnova")
    await tg.say(shop.manager, "12345")
    assert "is not a valid phone number" in tg.last(shop.manager).text
    assert await count_orders(tg) == 0
    await tg.say(shop.manager, "8 (916) 123-45-67")
    assert "+79161234567" in tg.last(shop.manager).text
    await tg.say(shop.manager, "Oak chair; 2; 1500")
    await tg.say(shop.manager, "Cushion; 1; 199.90\nBad line without prices")
    assert "Line 2" in tg.last(shop.manager).text  # one bad line rejects the message
    await tg.say(shop.manager, "Cushion; 1; 199,90")
    goods = tg.last(shop.manager)
    assert "Oak chair × 2" in goods.text and "Cushion × 1" in goods.text
    await tg.tap(shop.manager, goods, text="✅ Done")
    await tg.tap_offered(shop.manager, "courier · free")
    assert "address" in tg.last(shop.manager).text
    await tg.say(shop.manager, "Moscow, Arbat 10")
    await tg.tap_offered(shop.manager, "cash")
    summary = tg.last(shop.manager)
    assert "New order: check it" in summary.text
    assert "Anna Smirnova, +7 916 123-45-67" in summary.text
    assert "Total: 3,199.90\xa0RUB" in summary.text
    assert "two orders" not in summary.text
    await tg.tap(shop.manager, summary, text="✅ Create")
    # then one order in the database, as typed
    (order,) = await orders_of(tg, shop.id)
    assert order.source == "manual"
    assert order.buyer.name == "Anna Smirnova" and order.buyer.phone == "+79161234567"
    assert [(i.name, i.quantity, i.unit_price) for i in order.items] == [
        ("Oak chair", 2, 150_000),
        ("Cushion", 1, 19_990),
    ]
    assert (order.delivery_method, order.delivery_address, order.payment_method) == (
        "courier",
        "Moscow, Arbat 10",
        "cash",
    )
    assert order.total == 319_990
    # the creator saw the card (and so it moved on to agreement, A5) and the buyer's link
    assert order.status == "requires_agreement"
    texts = [m.text for m in tg.emulator.messages(shop.manager) if m.outgoing]
    assert any(t.startswith(f"Order #{order.number}") for t in texts)
    link = tg.last(shop.manager).text
    me = tg.emulator.bot.username
    assert f"https://t.me/{me}?start={order.buyer_token}" in link
    assert "✅ Created: order #1" in summary.text and not tg.emulator.buttons(summary)


async def test_mixed_availability_makes_two_orders_and_pickup_skips_the_address(tg):
    shop = await open_shop(tg, SHOP)
    await answer_up_to_items(tg, shop.manager)
    await tg.say(shop.manager, "Oak chair; 1; 1500\nCarved table; 1; 30000")
    goods = tg.last(shop.manager)
    # the table is made to order: its button toggles it
    await tg.tap(shop.manager, goods, text="📦 2. Carved table: in stock")
    assert "Carved table × 1 — 30,000.00\xa0RUB (made to order)" in goods.text
    await tg.say(shop.manager, "done")
    await tg.tap_offered(shop.manager, "pickup · free")
    # no address for pickup: straight to payment
    assert "pay" in tg.last(shop.manager).text
    await tg.tap_offered(shop.manager, "card")
    summary = tg.last(shop.manager)
    assert "two orders" in summary.text
    await tg.tap(shop.manager, summary, text="✅ Create")
    first, second = await orders_of(tg, shop.id)
    assert [(o.availability, [i.name for i in o.items]) for o in (first, second)] == [
        ("in_stock", ["Oak chair"]),
        ("made_to_order", ["Carved table"]),
    ]
    assert first.buyer_id == second.buyer_id and first.delivery_address == ""
    link = tg.last(shop.manager).text
    assert first.buyer_token in link and second.buyer_token in link
    assert "Created: order #1, #2" in summary.text


async def test_cancel_midway_creates_nothing(tg):
    shop = await open_shop(tg, SHOP)
    # by the button at the items step
    await answer_up_to_items(tg, shop.manager)
    await tg.say(shop.manager, "Oak chair; 1; 1500")
    goods = tg.last(shop.manager)
    await tg.tap(shop.manager, goods, text="✖️ Cancel")
    assert "no order was created" in goods.text
    # what is typed now is no longer an item
    await tg.say(shop.manager, "Oak chair; 1; 1500")
    assert "Goods so far" not in tg.last(shop.manager).text
    # the old "Done" button is over
    query = tg.emulator.forged_tap(shop.manager, goods, ManualCB(act=ManualAct.DONE).pack())
    await tg.settle()
    assert "over" in tg.emulator.callback_answer(query).text
    # by /cancel at the summary
    summary = await pickup_summary(tg, shop.manager)
    await tg.say(shop.manager, "/cancel")
    assert "no order was created" in tg.last(shop.manager).text
    query = tg.emulator.tap(shop.manager, summary, text="✅ Create")
    await tg.settle()
    assert tg.emulator.callback_answer(query).show_alert
    assert await count_orders(tg) == 0


async def test_create_twice_makes_one_order(tg):
    shop = await open_shop(tg, SHOP)
    summary = await pickup_summary(tg, shop.manager)
    create = ManualCB(act=ManualAct.CREATE).pack()
    first = tg.emulator.forged_tap(shop.manager, summary, create)
    second = tg.emulator.forged_tap(shop.manager, summary, create)
    await tg.settle()
    assert await count_orders(tg) == 1
    assert tg.emulator.callback_answer(first).text == "Created: #1"
    assert "over" in tg.emulator.callback_answer(second).text
    # an old "Cancel" after creation does not pretend to cancel anything
    text = summary.text
    query = tg.emulator.forged_tap(shop.manager, summary, ManualCB(act=ManualAct.CANCEL).pack())
    await tg.settle()
    assert "over" in tg.emulator.callback_answer(query).text and summary.text == text


async def test_looking_at_the_list_does_not_lose_the_form(tg):
    shop = await open_shop(tg, SHOP)
    await answer_up_to_items(tg, shop.manager)
    await tg.say(shop.manager, "Oak chair; 1; 1500")
    await tg.say(shop.manager, "/orders")
    assert "Orders" in tg.last(shop.manager).text
    await tg.say(shop.manager, "Cushion; 1; 200")
    goods = tg.last(shop.manager)
    assert "Oak chair × 1" in goods.text and "Cushion × 1" in goods.text


async def test_not_staff_cannot_take_orders(tg):
    stranger = tg.emulator.user("Sam", language_code="en")
    await tg.say(stranger, "/new")
    assert "not staff of any shop" in tg.last(stranger).text
    await tg.say(stranger, "Anna")
    assert await count_orders(tg) == 0


def test_typed_items_and_amounts():
    i18n = build_i18n()
    with i18n.context(), i18n.use_locale("en"):
        check_typed_items_and_amounts()


def check_typed_items_and_amounts():
    assert parse_item_line("Oak chair; 2; 1 500,50", "RUB") == ("Oak chair", 2, 150_050)
    assert parse_item_line(" Tea ;1;0", "RUB") == ("Tea", 1, 0)
    assert parse_amount("199.90", "RUB") == 19_990
    assert parse_amount("1000", "JPY") == 1000
    for bad in (
        "Chair; 2",
        "; 1; 10",
        "Chair; 0; 10",
        "Chair; two; 10",
        "Chair; 1; -5",
        "Chair; 1; 1.234",
    ):
        try:
            parse_item_line(bad, "RUB")
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")
