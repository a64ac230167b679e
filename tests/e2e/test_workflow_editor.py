"""The shop shapes its own workflow in Telegram (issue 16): /settings -> 🗂 Statuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import yaml

from bot.scheduler import build_sweep
from handlers.telegram.workflow_editor import WfAct, WfCB
from services.orders.actors import ActorRef
from services.workflow.presets import preset_data
from tests.e2e.chats import bot_texts, labels, message_starting, open_card, open_settings
from tests.e2e.shops import ShopRecipe, fresh, open_shop, place_order, ref, status_of
from tests.factories import item

SHOP = ShopRecipe(staff=("manager", "packer"))
TUESDAY_10_MOSCOW = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)


async def paid(tg, shop, **draft_args):
    """An order the manager confirmed and marked paid: it waits in "Preparing for shipment"."""
    order = await place_order(tg, shop.id, item("CAT-1", 1, 150_000), **draft_args)
    manager = await ref(tg, shop.manager)
    await tg.container.orders.apply(order.id, manager, "confirm")
    await tg.container.orders.apply(order.id, manager, "mark_paid")
    assert await status_of(tg, order.id) == "preparing_shipment"
    return order


async def test_a_new_stage_for_card_payments_is_added_and_orders_pass_through_it(tg):
    tg.container.clock.set(TUESDAY_10_MOSCOW)
    shop = await open_shop(tg, SHOP)
    owner, packer = shop.owner, shop.packer
    older = await paid(tg, shop, payment="card")
    first_version = older.workflow_id

    # the owner opens the statuses from the settings
    menu = await open_settings(tg, owner)
    await tg.tap(owner, menu, text="🗂 Statuses")
    assert menu.text.startswith("🗂 Statuses in order. Version 1")
    assert {"Preparing for shipment", "⬆️", "⬇️", "➕ Add a status"} <= set(labels(tg, menu))

    # adds "Assembling" between "Preparing for shipment" and "Shipped", for card payments
    await tg.tap(owner, menu, text="➕ Add a status")
    await tg.say(owner, "Assembling")
    way = message_starting(tg, owner, "«Assembling»: between which statuses")
    await tg.tap(owner, way, text="Preparing for shipment → Shipped")
    await tg.tap(owner, way, text="Only paid by card")
    assert way.text.startswith("Assembling (assembling)")
    assert "Assembling → Assembling" in way.text or "→ Shipped" in way.text
    # worked by the packer, within 2 working hours
    await tg.tap(owner, way, text="👤 Responsible")
    await tg.tap(owner, way, text="packer")
    assert "Responsible: packer" in way.text
    await tg.tap(owner, way, text="⏱ Time limit")
    await tg.say(owner, "2x")  # a bad duration is asked again, nothing changes
    assert tg.last(owner).text.startswith("Not saved: bad duration '2x'")
    await tg.say(owner, "2h")
    screen = message_starting(tg, owner, "Assembling (assembling)")
    assert "Time limit: 2h" in screen.text

    # the pipeline reads as text
    await tg.tap(owner, screen, text="↩️ Back")
    await tg.tap(owner, screen, text="👁 Preview")
    assert "Assembling (👤 packer, ⏱ 2h)" in screen.text
    await tg.tap(owner, screen, text="↩️ Back")

    # saved: a new version; the order under way keeps its own until moved
    await tg.tap(owner, screen, text="💾 Save")
    assert screen.text.startswith("✅ Saved as version 2: new orders follow it.")
    assert "Open orders keeping the version they started with: 1." in screen.text
    assert (await fresh(tg, older.id)).workflow_id == first_version
    await tg.tap(owner, screen, text="➡️ Move open orders to version 2")
    assert screen.text.startswith("➡️ Open orders moved to the new version: 1.")
    assert (await fresh(tg, older.id)).workflow_id != first_version

    # the moved order passes through the new stage by the packer's buttons
    card = await open_card(tg, packer, older.number)
    assert "Ship" not in labels(tg, card)
    await tg.tap(packer, card, text="Assembling")
    assert await status_of(tg, older.id) == "assembling"
    card = await open_card(tg, packer, older.number)
    await tg.tap(packer, card, text="Ship")
    question = tg.last(packer)
    await tg.tap(packer, question, text=labels(tg, question)[0])
    await tg.say(packer, "RA123456789RU")
    assert await status_of(tg, older.id) == "shipped"

    # a new card order goes there too: the packer gets the ping, and past 2 working hours
    # the problem flag and the alert
    newer = await paid(tg, shop, payment="card")
    await tg.container.orders.apply(newer.id, await ref(tg, shop.manager), "to_assembling")
    await tg.deliver()
    ping = f"📌 Order #{newer.number}: Assembling. Your turn as packer."
    assert any(ping in text for text in bot_texts(tg, packer))
    tg.container.clock.advance(timedelta(hours=3))
    await build_sweep(tg.container).run_once()
    await tg.deliver()
    assert (await fresh(tg, newer.id)).problem
    alert = f"⚠️ Order #{newer.number} is past its time limit in “Assembling”."
    assert any(alert in text for text in bot_texts(tg, packer))

    # a cash order keeps the old way
    cash = await paid(tg, shop, payment="cash")
    card = await open_card(tg, packer, cash.number)
    assert "Ship" in labels(tg, card) and "Assembling" not in labels(tg, card)


async def test_bad_edits_and_files_change_nothing(tg):
    shop = await open_shop(tg, SHOP)
    owner = shop.owner
    menu = await open_settings(tg, owner)
    await tg.tap(owner, menu, text="🗂 Statuses")
    # a status still in use cannot be retired
    await tg.tap(owner, menu, text="Shipped")
    query = await tg.tap(owner, menu, text="🗑 Retire")
    assert tg.answer(query).startswith("Not retired")
    # the file: downloaded, then a broken one and an invalid one are refused with the reasons
    await tg.tap(owner, menu, text="↩️ Back")
    await tg.tap(owner, menu, text="📥 Download file")
    downloaded = tg.last(owner).document
    body = yaml.safe_load(downloaded.content)
    assert body["code"] == "marketplace"
    await tg.tap(owner, menu, text="📤 Upload file")
    tg.emulator.send_document(owner, "workflow.yaml", b"statuses: [\n")
    await tg.settle()
    assert tg.last(owner).text.startswith("Not installed: the file cannot be read.")
    await tg.tap(owner, menu, text="↩️ Back")
    await tg.tap(owner, menu, text="📤 Upload file")
    body["transitions"].append(
        {"code": "reopen", "from": "received", "to": "paid", "actors": ["manager"]}
        | {"title": {"ru": "Снова", "uk": "Знову", "en": "Again"}}
    )
    tg.emulator.send_document(owner, "workflow.yaml", yaml.safe_dump(body).encode())
    await tg.settle()
    refusal = tg.last(owner).text
    assert refusal.startswith("Not installed: the workflow has problems to fix first.")
    assert "transition 'reopen': leaves the final status 'received'" in refusal
    await tg.tap(owner, menu, text="↩️ Back")
    assert "💾 Save" not in labels(tg, menu)  # the draft is as it was
    await tg.tap(owner, menu, text="📤 Upload file")
    tg.emulator.send_document(owner, "big.yaml", b"#" * (300 * 1024))
    await tg.settle()
    assert tg.last(owner).text.startswith("Not installed: the file is larger than 256 KB.")
    settings = await tg.container.shop_settings.get(shop.id, (await ref(tg, owner)).user_id)
    assert settings.workflow_version == 1
    # a manager's forged button changes nothing
    forged = WfCB(act=WfAct.RETIRE, shop=shop.id, s="received").pack()
    query = await tg.forged_tap(shop.manager, tg.last(shop.manager), forged)
    assert tg.answer(query) == "You may not do this."
    assert (await tg.container.orders.workflow_of((await place_order(tg, shop.id)).id)).status(
        "received"
    )


async def test_a_good_file_is_previewed_then_installed(tg):
    shop = await open_shop(tg, SHOP)
    owner = shop.owner
    menu = await open_settings(tg, owner)
    await tg.tap(owner, menu, text="🗂 Statuses")
    _version, body = await tg.container.workflow_editor.export(shop.id, None)
    body["statuses"][2]["title"]["en"] = "Money in"
    await tg.tap(owner, menu, text="📤 Upload file")
    tg.emulator.send_document(owner, "workflow.yaml", yaml.safe_dump(body).encode())
    await tg.settle()
    preview = message_starting(tg, owner, "👁 The pipeline")
    assert "Money in" in preview.text
    await tg.tap(owner, preview, text="✅ Install")
    assert preview.text.startswith("✅ Saved as version 2")
    order = await place_order(tg, shop.id)
    workflow = await tg.container.orders.workflow_of(order.id)
    assert workflow.status("paid").title["en"] == "Money in"
    assert ActorRef  # the order service saw the same version


async def test_a_preset_switch_asks_before_discarding_the_shops_own_edits(tg):
    shop = await open_shop(tg, SHOP)
    owner = shop.owner
    owner_id = (await ref(tg, owner)).user_id
    editor = tg.container.workflow_editor
    await editor.change(shop.id, owner_id, "rename_status", "paid", "en", "Money in")
    await editor.save(shop.id, owner_id)
    menu = await open_settings(tg, owner)
    await tg.tap(owner, menu, text="Workflow")
    await tg.tap(owner, menu, text="Platform")
    # asked, nothing changed yet
    assert menu.text.startswith("Your workflow has your own changes")
    assert (await tg.container.shop_settings.get(shop.id, owner_id)).workflow_version == 2
    # keeping it keeps it
    await tg.tap(owner, menu, text="Keep my workflow")
    assert (await tg.container.shop_settings.get(shop.id, owner_id)).workflow.code == "marketplace"
    # discarding switches
    await tg.tap(owner, menu, text="Workflow")
    await tg.tap(owner, menu, text="Platform")
    await tg.tap(owner, menu, text="Discard my changes and switch")
    view = await tg.container.shop_settings.get(shop.id, owner_id)
    assert (view.workflow.code, view.workflow_version) == ("platform", 3)


async def test_orders_in_a_retired_status_are_moved_where_the_owner_says(tg):
    shop = await open_shop(tg, SHOP)
    owner = shop.owner
    owner_id = (await ref(tg, owner)).user_id
    editor = tg.container.workflow_editor
    order = await paid(tg, shop, payment="card")
    # given an order sitting in the shop's own stage
    await editor.change(shop.id, owner_id, "add_status", "assembling", {"en": "Assembling"})
    await editor.change(
        shop.id, owner_id, "insert_between", "assembling", "preparing_shipment", "shipped"
    )
    await editor.save(shop.id, owner_id)
    await editor.move_open_orders(shop.id, owner_id)
    await tg.container.orders.apply(order.id, await ref(tg, shop.packer), "to_assembling")
    # when the owner installs a workflow without that stage
    body = preset_data("marketplace")
    menu = await open_settings(tg, owner)
    await tg.tap(owner, menu, text="🗂 Statuses")
    await tg.tap(owner, menu, text="📤 Upload file")
    tg.emulator.send_document(owner, "workflow.yaml", yaml.safe_dump(body).encode())
    await tg.settle()
    preview = message_starting(tg, owner, "👁 The pipeline")
    await tg.tap(owner, preview, text="✅ Install")
    assert "Some are in statuses this version no longer has (assembling)" in preview.text
    # then moving asks where those orders go, and moves them there
    await tg.tap(owner, preview, text="➡️ Move open orders to version 3")
    assert preview.text.startswith("Where do the open orders in «assembling» go?")
    assert "Received" not in labels(tg, preview)  # open statuses only
    await tg.tap(owner, preview, text="Preparing for shipment")
    assert preview.text.startswith("➡️ Open orders moved to the new version: 1.")
    moved = await fresh(tg, order.id)
    assert moved.status == "preparing_shipment"
    assert (await tg.container.orders.workflow_of(order.id)).code == "marketplace"


async def test_timers_and_cancellation_reasons(tg):
    shop = await open_shop(tg, SHOP)
    owner = shop.owner
    menu = await open_settings(tg, owner)
    await tg.tap(owner, menu, text="🗂 Statuses")
    # a status shows its timers; one is removed
    await tg.tap(owner, menu, text="Awaiting payment")
    assert "after 2d: remind the buyer" in menu.text
    assert "after 3d: automatically «Not paid in time»" in menu.text
    reminder = next(label for label in labels(tg, menu) if label.startswith("🗑 Remove timer"))
    await tg.tap(owner, menu, text=reminder)
    assert "after 2d: remind the buyer" not in menu.text
    await tg.tap(owner, menu, text="↩️ Back")
    # the reasons: one added, one needs a comment, one removed
    await tg.tap(owner, menu, text="🚫 Cancellation reasons")
    await tg.tap(owner, menu, text="➕ Add a reason")
    await tg.say(owner, "Wrong size")
    screen = message_starting(tg, owner, "🚫 Cancellation reasons")
    assert "• Wrong size" in screen.text
    await tg.tap(owner, screen, text="✍️ Wrong size")
    assert "• Wrong size ✍️" in screen.text
    await tg.tap(owner, screen, text="↩️ Back")
    await tg.tap(owner, screen, text="💾 Save")
    owner_id = (await ref(tg, owner)).user_id
    view = await tg.container.shop_settings.get(shop.id, owner_id)
    assert view.workflow.reason("wrong_size").comment_required
    assert [t.code for t in view.workflow.timers_for("awaiting_payment")] == ["payment_deadline"]
