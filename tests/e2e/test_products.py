"""/products end to end through the Telegram emulator (issue 19): search, a product's stock
and price set by the manager, refused to the packer, and the low-stock alert."""

from __future__ import annotations

from types import SimpleNamespace

from services.products import transfer
from tests.e2e.chats import message_starting, open_card
from tests.e2e.shops import ShopRecipe, open_shop, place_order, status_of
from tests.factories import item
from tests.products_factories import counts, make_product

SHOP = ShopRecipe(staff=("manager", "packer"))


async def test_the_manager_searches_counts_and_prices_a_product(tg):
    shop_id, _owner, manager, packer = await open_shop(tg, SHOP)
    shop = SimpleNamespace(id=shop_id)
    await make_product(tg.container, shop, "CAT-1", on_hand=5, title="Cat bed")
    await make_product(tg.container, shop, "FOOD-1", on_hand=2, title="Кошачий корм")

    # the manager searches and opens the product
    await tg.say(manager, "/products bed")
    listing = message_starting(tg, manager, "📦 Products matching «bed»")
    assert "Cat bed · CAT-1 · 5 for sale" in listing.text
    assert "Кошачий" not in listing.text
    await tg.tap(manager, listing, text="Cat bed · 5")
    card = message_starting(tg, manager, "📦 Cat bed")
    assert "On hand: 5 · reserved: 0 · for sale: 5" in card.text

    # a count without a reason is asked again and changes nothing
    await tg.tap(manager, card, text="📦 Stock")
    await tg.say(manager, "3")
    assert tg.last(manager).text == "Send a count and a reason, e.g. «12 recount»."
    assert await counts(tg.container, shop, "CAT-1") == (5, 0, 5)
    # and so is a count no column holds
    await tg.say(manager, "99999999999 recount")
    assert tg.last(manager).text == "Send a number, e.g. 4."
    assert await counts(tg.container, shop, "CAT-1") == (5, 0, 5)
    await tg.say(manager, "3 recount")
    card = message_starting(tg, manager, "📦 Cat bed")
    assert "On hand: 3 · reserved: 0 · for sale: 3" in card.text
    assert "-2 · corrected (recount)" in card.text

    # the price: a bad one is asked again
    await tg.tap(manager, card, text="💲 Price")
    await tg.say(manager, "a lot")
    assert tg.last(manager).text.startswith("Not a price")
    await tg.say(manager, "1490.50")
    card = message_starting(tg, manager, "📦 Cat bed")
    assert "Price: 1,490.50\xa0RUB" in card.text

    # the packer sees the stock but may not change it
    await tg.say(packer, "/products кошачий")
    listing = message_starting(tg, packer, "📦 Products matching")
    await tg.tap(packer, listing, text="Кошачий корм · 2")
    card = message_starting(tg, packer, "📦 Кошачий корм")
    await tg.tap(packer, card, text="📦 Stock")
    await tg.say(packer, "0 lost")
    assert tg.last(packer).text == "You may not do this."
    assert await counts(tg.container, shop, "FOOD-1") == (2, 0, 2)


async def test_staff_hear_when_a_product_runs_low(tg):
    shop_id, owner, manager, packer = await open_shop(tg, SHOP)
    shop = SimpleNamespace(id=shop_id)
    await make_product(tg.container, shop, "CAT-1", on_hand=3, title="Cat bed", low_stock_at=1)

    await place_order(tg, shop_id, item("CAT-1", 2, 150_000))
    await tg.deliver()

    for person in (owner, manager):
        alert = message_starting(tg, person, "📦 Running out:")
        assert (
            alert.text == "📦 Running out: Cat bed (CAT-1), 1 left for sale. /products to correct."
        )
    assert not [m for m in tg.emulator.messages(packer) if "Running out" in (m.text or "")]


async def test_products_come_in_by_file_and_go_out_as_one(tg):
    shop_id, _owner, manager, _packer = await open_shop(tg, SHOP)
    shop = SimpleNamespace(id=shop_id)
    await tg.say(manager, "/products")
    listing = message_starting(tg, manager, "📦 Products")
    await tg.tap(manager, listing, text="📥 Import a file")

    # a file with a bad row: nothing is written, the row is named
    rows = "sku,title,price,on_hand\nTEA-1,Green tea,349.90,12\nTEA-2,Black tea,cheap,3\n"
    tg.emulator.send_document(manager, "goods.csv", rows.encode())
    await tg.settle()
    report = message_starting(tg, manager, "Nothing imported")
    assert "Row 3, price: a price like 1490 or 1490.50" in report.text
    assert await tg.container.products.search(shop_id, None) == []

    # the manager writes the good row only
    await tg.tap(manager, report, text="✅ Write the 1 good rows")
    assert message_starting(tg, manager, "✅ Imported: 1 products.")
    assert await counts(tg.container, shop, "TEA-1") == (12, 0, 12)

    # and the export is an XLSX file of them
    await tg.say(manager, "/products")
    await tg.tap(manager, message_starting(tg, manager, "📦 Products"), text="📤 Export")
    exported = next(
        m.document for m in reversed(tg.emulator.messages(manager)) if m.outgoing and m.document
    )
    assert exported.name == "products.xlsx"
    [row] = transfer.read_table(exported.content, exported.name)
    assert (row["sku"], row["price"], row["available"]) == ("TEA-1", "349.90", "12")


async def test_a_phone_order_picks_products_by_inline_search_and_reserves_them(tg):
    shop_id, _owner, manager, _packer = await open_shop(tg, SHOP)
    shop = SimpleNamespace(id=shop_id)
    await make_product(
        tg.container,
        shop,
        "BED-1",
        on_hand=2,
        title="Cat bed",
        price=149_000,
        returnable=True,
        return_days=14,
    )
    await make_product(tg.container, shop, "BOWL-1", on_hand=9, title="Cat bowl", price=30_000)

    await tg.say(manager, "/new")
    await tg.say(manager, "Anna Smirnova")
    await tg.say(manager, "+7 916 123-45-67")
    prompt = await tg.offering(manager, "🔎 Find a product")
    [[search, *_], *_] = [
        [b for b in row if b.get("text") == "🔎 Find a product"]
        for row in prompt.reply_markup["inline_keyboard"]
        if any(b.get("text") == "🔎 Find a product" for b in row)
    ]
    assert search["switch_inline_query_current_chat"] == ""

    # the manager types "@bot bed": the shop's products come back, with their stock
    inline = tg.emulator.inline_query(manager, "bed")
    await tg.settle()
    assert [r["title"] for r in inline.results] == ["Cat bed"]
    assert inline.results[0]["description"] == "BED-1 · 1,490.00\xa0RUB · 2 for sale"
    # a stranger's search finds nothing
    stranger = tg.emulator.user("Eve")
    await tg.say(stranger, "/start")
    peek = tg.emulator.inline_query(stranger, "bed")
    await tg.settle()
    assert peek.results == []

    # picking it twice makes two units; a typed line still works beside it
    tg.emulator.choose_inline(manager, inline, title="Cat bed")
    await tg.settle()
    tg.emulator.choose_inline(manager, inline, title="Cat bed")
    await tg.settle()
    await tg.say(manager, "Gift wrap; 1; 100")
    goods = message_starting(tg, manager, "Goods so far")
    assert "Cat bed × 2" in goods.text and "Gift wrap × 1" in goods.text
    await tg.tap(manager, goods, text="✅ Done")
    await tg.tap_offered(manager, "pickup · free")
    await tg.tap_offered(manager, "cash")
    await tg.tap_offered(manager, "✅ Create")

    # the order holds both beds, with the product's price and return rules
    assert await counts(tg.container, shop, "BED-1") == (2, 2, 0)
    async with tg.container.sessions() as session:
        from sqlalchemy import select

        from storage.models import OrderItem

        lines = {
            i.sku: (i.quantity, i.unit_price, i.returnable, i.return_days)
            for i in await session.scalars(select(OrderItem))
        }
    assert lines["BED-1"] == (2, 149_000, True, 14)
    assert lines["manual-2"] == (1, 10_000, False, 0)

    # and a second phone order for a bed is refused: none left
    await tg.say(manager, "/new")
    await tg.say(manager, "Ivan")
    await tg.say(manager, "+7 916 123-45-68")
    again = tg.emulator.inline_query(manager, "cat bed")
    await tg.settle()
    assert again.results[0]["description"] == "BED-1 · 1,490.00\xa0RUB · 0 for sale"
    tg.emulator.choose_inline(manager, again, title="Cat bed")
    await tg.settle()
    await tg.tap_offered(manager, "✅ Done")
    await tg.tap_offered(manager, "pickup · free")
    await tg.tap_offered(manager, "cash")
    callback = await tg.tap_offered(manager, "✅ Create")
    assert "Not enough stock" in tg.answer(callback) or "Not enough stock" in tg.last(manager).text
    assert await counts(tg.container, shop, "BED-1") == (2, 2, 0)


async def cancel_out_of_stock(tg, manager, order):
    card = await open_card(tg, manager, order.number)
    await tg.tap(manager, card, text="Cancel the order")
    await tg.tap(manager, card, text="Out of stock")
    assert await status_of(tg, order.id) == "cancelled"
    return message_starting(tg, manager, f"📦 Order #{order.number} was cancelled as out of stock")


async def test_after_an_out_of_stock_cancellation_the_canceller_gives_the_real_count(tg):
    shop_id, owner, manager, _packer = await open_shop(tg, SHOP)
    shop = SimpleNamespace(id=shop_id)
    await make_product(tg.container, shop, "CAT-1", on_hand=5, title="Cat bed")
    order = await place_order(tg, shop_id, item("CAT-1", 2, 150_000))
    await place_order(tg, shop_id, item("CAT-1", 1, 150_000))  # another order holds one

    question = await cancel_out_of_stock(tg, manager, order)
    assert question.text == (
        f"📦 Order #{order.number} was cancelled as out of stock, so Cat bed (CAT-1) is no "
        "longer for sale. How many CAT-1 are really left?"
    )
    assert await counts(tg.container, shop, "CAT-1") == (1, 1, 0)  # zeroed for sale
    assert not [m for m in tg.emulator.messages(owner) if "really left" in (m.text or "")]

    await tg.tap(manager, question, text="✏️ Send the real count")
    assert tg.last(manager).text.startswith("Send how many CAT-1 are really left")
    # bad input is asked again and changes nothing
    await tg.say(manager, "plenty")
    assert tg.last(manager).text == "Send a number, e.g. 4."
    await tg.say(manager, "0")
    assert tg.last(manager).text.startswith("At least 1: that many are held for open orders")
    assert await counts(tg.container, shop, "CAT-1") == (1, 1, 0)

    await tg.say(manager, "4")
    assert tg.last(manager).text == "✅ CAT-1: 4 on hand, 3 for sale."
    assert await counts(tg.container, shop, "CAT-1") == (4, 1, 3)
    [latest, *_] = await tg.container.products.movements(shop_id, None, "CAT-1", limit=1)
    assert (latest.kind, latest.on_hand_delta, latest.reason) == (
        "correction",
        3,
        "recount after out of stock",
    )


async def test_skipping_the_real_count_leaves_zero(tg):
    shop_id, _owner, manager, _packer = await open_shop(tg, SHOP)
    shop = SimpleNamespace(id=shop_id)
    await make_product(tg.container, shop, "CAT-1", on_hand=5, title="Cat bed")
    order = await place_order(tg, shop_id, item("CAT-1", 2, 150_000))

    question = await cancel_out_of_stock(tg, manager, order)
    tapped = await tg.tap(manager, question, text="0 — none left")

    assert tg.answer(tapped) == "Left at zero: correct it in /products at any time."
    assert not tg.emulator.buttons(question) or not any(tg.emulator.buttons(question))
    assert await counts(tg.container, shop, "CAT-1") == (0, 0, 0)
    # a number typed now is no count
    await tg.say(manager, "7")
    assert await counts(tg.container, shop, "CAT-1") == (0, 0, 0)
