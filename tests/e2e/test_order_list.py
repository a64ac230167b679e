"""The order list and "my queue" end to end (C4, C2): pages, filters, search, opening a card,
and list buttons that were forged."""

from __future__ import annotations

from sqlalchemy import update

from handlers.telegram.order_list import ListAct, ListCB
from services.orders.actors import ActorRef
from storage.models import Order
from tests.e2e.chats import labels
from tests.e2e.shops import ShopRecipe, open_shop, place_orders, ref
from tests.factories import item

SHOP = ShopRecipe(staff=("manager", "packer"), preset="platform")


async def make_orders(tg, shop_id, count, **draft_args):
    """`count` orders of one CAT-1 at 1 500,00, no delivery cost given."""
    return await place_orders(tg, shop_id, count, item("CAT-1", 1, 150_000), **draft_args)


def numbers_in(message) -> list[int]:
    """The order numbers listed in a list message's lines, in order."""
    numbers = []
    for line in message.text.splitlines():
        head = line.removeprefix("⚠️ ").split(" · ")[0]
        if head.startswith("#") and head[1:].isdigit():
            numbers.append(int(head[1:]))
    return numbers


async def test_pages_of_ten_with_next_and_previous(tg):
    # given 23 orders
    shop = await open_shop(tg, SHOP)
    await make_orders(tg, shop.id, 23)
    # when the manager lists them
    await tg.say(shop.manager, "/orders")
    page = tg.last(shop.manager)
    # then ten per page, newest first, each line with number, date, buyer, total, status and
    # the working time left in it (platform: a new order has 3 h)
    assert "Page 1 of 3 · orders: 23" in page.text
    assert numbers_in(page) == list(range(23, 13, -1))
    line = next(line for line in page.text.splitlines() if line.startswith("#23"))
    assert "24.11.2026" in line and "Ivan Petrov" in line and "1,500.00" in line
    assert line.endswith("· New · ⏱ 3 h 0 min")
    assert "◀️ Previous" not in labels(tg, page) and "Next ▶️" in labels(tg, page)
    # when they turn the pages
    await tg.tap(shop.manager, page, text="Next ▶️")
    assert numbers_in(page) == list(range(13, 3, -1))
    assert "Page 2 of 3" in page.text
    await tg.tap(shop.manager, page, text="Next ▶️")
    assert numbers_in(page) == [3, 2, 1]
    assert "Next ▶️" not in labels(tg, page)
    await tg.tap(shop.manager, page, text="◀️ Previous")
    assert numbers_in(page) == list(range(13, 3, -1))
    # the list is edited in place: one message
    assert tg.last(shop.manager) is page


async def test_filters_status_problem_mine_and_reset(tg):
    shop = await open_shop(tg, SHOP)
    orders = await make_orders(tg, shop.id, 6)
    manager_ref = await ref(tg, shop.manager)
    # #1 and #2 opened (requires agreement), #2 then confirmed (the packer's status)
    for order in orders[:2]:
        await tg.container.orders.open(order.id, manager_ref)
    await tg.container.orders.apply(orders[1].id, manager_ref, "confirm")
    # #6 is a problem order (its SLA expired)
    async with tg.container.sessions() as session, session.begin():
        await session.execute(update(Order).where(Order.id == orders[5].id).values(problem=True))
    await tg.say(shop.manager, "/orders")
    page = tg.last(shop.manager)
    assert numbers_in(page) == [6, 5, 4, 3, 2, 1]
    assert "⚠️ #6" in page.text
    # status: chosen from the workflow's statuses
    await tg.tap(shop.manager, page, text="🏷 Status")
    assert "Requires agreement with the buyer" in labels(tg, page)
    await tg.tap(shop.manager, page, text="Requires agreement with the buyer")
    assert numbers_in(page) == [1]
    assert "status «Requires agreement with the buyer»" in page.text
    # reset
    await tg.tap(shop.manager, page, text="♻️ Reset")
    assert numbers_in(page) == [6, 5, 4, 3, 2, 1]
    # problem only
    await tg.tap(shop.manager, page, text="⚠️ Problem")
    assert numbers_in(page) == [6]
    assert "✅ ⚠️ Problem" in labels(tg, page)
    await tg.tap(shop.manager, page, text="✅ ⚠️ Problem")
    assert numbers_in(page) == [6, 5, 4, 3, 2, 1]
    # mine: the packer is responsible for confirmed orders only
    await tg.say(shop.packer, "/orders")
    packer_page = tg.last(shop.packer)
    await tg.tap(shop.packer, packer_page, text="👤 Mine")
    assert numbers_in(packer_page) == [2]
    # and their queue says the same
    await tg.say(shop.packer, "/queue")
    queue = tg.last(shop.packer)
    assert "My queue" in queue.text and numbers_in(queue) == [2]


async def test_search_by_number_phone_button_and_nothing_found(tg):
    shop = await open_shop(tg, SHOP)
    await make_orders(tg, shop.id, 4)
    await make_orders(tg, shop.id, 1, phone="+79035550011", email="anna@example.com")
    # by number
    await tg.say(shop.manager, "/orders 3")
    assert numbers_in(tg.last(shop.manager)) == [3]
    assert "search «3»" in tg.last(shop.manager).text
    # by phone, in any format the shop's country reads
    await tg.say(shop.manager, "/orders +7 903 555-00-11")
    assert numbers_in(tg.last(shop.manager)) == [5]
    # from the search button, then paging keeps the search
    await tg.say(shop.manager, "/orders")
    page = tg.last(shop.manager)
    await tg.tap(shop.manager, page, text="🔎 Search")
    assert "number or the buyer's phone" in tg.last(shop.manager).text
    await tg.say(shop.manager, "89035550011")
    found = tg.last(shop.manager)
    assert numbers_in(found) == [5]
    await tg.tap(shop.manager, found, text="⚠️ Problem")
    assert "Nothing found for «89035550011»" in found.text
    await tg.tap(shop.manager, found, text="✅ ⚠️ Problem")
    assert numbers_in(found) == [5]
    # unknown number and text that is neither
    await tg.say(shop.manager, "/orders 999")
    assert "Nothing found for «999»" in tg.last(shop.manager).text
    await tg.say(shop.manager, "/orders cats")
    assert "order number" in tg.last(shop.manager).text
    # the phone never travels in a button
    for row in (found.reply_markup or {}).get("inline_keyboard", []):
        for button in row:
            assert "9035550011" not in button.get("callback_data", "")


async def test_an_order_button_opens_its_card(tg):
    shop = await open_shop(tg, SHOP)
    orders = await make_orders(tg, shop.id, 2)
    await tg.say(shop.manager, "/orders")
    page = tg.last(shop.manager)
    await tg.tap(shop.manager, page, text="#2 Ivan Petrov")
    card = tg.last(shop.manager)
    assert card is not page and "Order #2" in card.text
    # opening a new order moves it to agreement (A5)
    order = await tg.container.orders.get(orders[1].id, ActorRef.system())
    assert order.status == "requires_agreement"


async def test_the_menu_reaches_the_list_and_the_queue(tg):
    shop = await open_shop(tg, SHOP)
    await make_orders(tg, shop.id, 1)
    menu = tg.last(shop.owner)
    await tg.tap(shop.owner, menu, text="📦 Orders")
    assert numbers_in(tg.last(shop.owner)) == [1]
    await tg.tap_offered(shop.owner, "🏠 Menu")
    await tg.tap_offered(shop.owner, "📥 My queue")
    assert "My queue" in tg.last(shop.owner).text and numbers_in(tg.last(shop.owner)) == [1]


async def test_a_forged_button_opens_no_other_shops_order(tg):
    # given two shops; Max is staff of the first only
    shop = await open_shop(tg, SHOP)
    (order,) = await make_orders(tg, shop.id, 1)
    other = await open_shop(tg, SHOP, name="Other shop")
    await tg.say(other.owner, "/orders")
    page = tg.last(other.owner)
    before = len(tg.emulator.messages(other.owner))
    # when the other shop's owner forges "open" with the first shop's order id
    query = tg.emulator.forged_tap(other.owner, page, ListCB(act=ListAct.OPEN, id=order.id).pack())
    await tg.settle()
    # then a clear answer, no card, and the order did not move
    answer = tg.emulator.callback_answer(query)
    assert answer.text == "Order not found." and answer.show_alert
    assert len(tg.emulator.messages(other.owner)) == before
    fresh = await tg.container.orders.get(order.id, ActorRef.system())
    assert fresh.status == "new" and fresh.opened_at is None
    # malformed list data gets an answer too
    query = tg.emulator.forged_tap(other.owner, page, "l:zz:1")
    await tg.settle()
    assert tg.emulator.callback_answer(query).show_alert


async def test_people_without_a_shop_are_told_so(tg):
    stranger = tg.emulator.user("Sam", language_code="en")
    await tg.say(stranger, "/orders")
    assert "not staff of any shop" in tg.last(stranger).text
    await tg.say(stranger, "/queue")
    assert "not staff of any shop" in tg.last(stranger).text
