"""The storefront's Telegram side (H4), end to end through the emulator: a one-click buy's
ping opening the manual-order form prefilled, the webhook delivery log with "retry now",
and connecting a platform with its secrets deleted from the chat and never shown back."""

from __future__ import annotations

from sqlalchemy import select

from services.orders.actors import ActorRef
from services.storefront.callbacks import CallbackDraft
from storage.models import Order, OutboxMessage, ShopConnection
from tests.e2e.shops import ShopRecipe, open_shop
from tests.e2e.test_manual_order import orders_of
from tests.factories import draft

SHOP = ShopRecipe()


def labels(tg, message) -> list[str]:
    return [label for row in tg.emulator.buttons(message) for label in row]


async def test_a_callback_request_opens_the_order_form_prefilled(tg):
    shop = await open_shop(tg, SHOP)
    # given a one-click buy from the storefront
    made = await tg.container.callbacks.create(
        shop.id,
        CallbackDraft(
            phone="+7 916 123-45-67",
            name="Anna",
            product_sku="CAT-BED",
            product_name="Cat bed",
            product_price=150050,
            comment="After six",
        ),
    )
    # when the pump delivers the ping: the manager gets it (the shop has no group)
    await tg.deliver()
    ping = tg.last(shop.manager)
    assert "Call back: one-click buy" in ping.text
    assert "Anna, +7 916 123-45-67" in ping.text and "Cat bed (CAT-BED)" in ping.text
    assert "After six" in ping.text
    # and taps it: the form starts in their chat with the buyer and the product in
    query = await tg.tap(shop.manager, ping, text="📞 Take it: the order form")
    assert "private chat" in tg.answer(query)
    form = tg.last(shop.manager)
    assert "Order for Anna, +7 916 123-45-67" in form.text and "Cat bed × 1" in form.text
    # a colleague tapping the same request later (in a staff group) is told who is calling
    query = await tg.forged_tap(shop.owner, tg.last(shop.owner), f"cr:{made}")
    assert tg.answer(query) == "Max is calling them back already."
    # the manager goes on as with any phone order
    await tg.say(shop.manager, "Cushion; 1; 199.90")
    await tg.tap(shop.manager, tg.last(shop.manager), text="✅ Done")
    await tg.tap(shop.manager, tg.last(shop.manager), text="pickup · free")
    await tg.tap(shop.manager, tg.last(shop.manager), text="cash")
    summary = tg.last(shop.manager)
    assert "Anna, +7 916 123-45-67" in summary.text
    await tg.tap(shop.manager, summary, text="✅ Create")
    [order] = await orders_of(tg, shop.id)
    assert [(i.name, i.unit_price) for i in order.items] == [
        ("Cat bed", 150050),
        ("Cushion", 19990),
    ]
    assert (order.buyer.name, order.buyer.phone) == ("Anna", "+79161234567")


async def test_a_forged_callback_button_changes_nothing(tg):
    shop = await open_shop(tg, SHOP)
    other = await open_shop(tg, SHOP, name="Other shop")
    made = await tg.container.callbacks.create(other.id, CallbackDraft(phone="+79161234567"))
    await tg.say(shop.manager, "/start")
    query = await tg.forged_tap(shop.manager, tg.last(shop.manager), f"cr:{made}")
    assert tg.answer(query) == "Not found."
    async with tg.container.sessions() as session:
        from storage.models import CallbackRequest

        request = await session.get(CallbackRequest, made)
        assert request.taken_by_user_id is None


async def test_the_webhook_log_shows_failures_and_retries_them(tg):
    shop = await open_shop(tg, SHOP)
    await tg.container.webhook_settings.set_url(shop.id, "https://shop.example.com/hooks")
    # given a failed event in the shop's log
    order = (await tg.container.orders.create_orders(shop.id, draft(), ActorRef.system()))[0]
    async with tg.container.sessions() as session, session.begin():
        row = await session.scalar(select(OutboxMessage).where(OutboxMessage.channel == "webhook"))
        row.state, row.attempts, row.last_error = "failed", 8, "HTTP 500"
    # when the owner opens it
    await tg.say(shop.owner, "/settings")
    menu = tg.last(shop.owner)
    await tg.tap(shop.owner, menu, text="🔑 API tokens and webhook")
    await tg.tap(shop.owner, menu, text="📜 Webhook deliveries")
    assert f"order.created #{order.number}" in menu.text
    assert "failed after 8 tries" in menu.text and "HTTP 500" in menu.text
    # and retries it
    query = await tg.tap(shop.owner, menu, text=f"🔁 Retry order.created #{order.number} now")
    assert tg.answer(query) == "Sending again now: 1."
    async with tg.container.sessions() as session:
        row = await session.get(OutboxMessage, row.id)
    assert (row.state, row.attempts) == ("pending", 0)
    # a manager cannot see the log at all
    query = await tg.forged_tap(shop.manager, tg.last(shop.manager), f"wl:l:{shop.id}:0")
    assert tg.answer(query) == "You may not do this."


async def test_connecting_woocommerce_keeps_the_secrets_out_of_the_chat(tg):
    shop = await open_shop(tg, SHOP)
    await tg.say(shop.owner, "/settings")
    menu = tg.last(shop.owner)
    await tg.tap(shop.owner, menu, text="🔑 API tokens and webhook")
    await tg.tap(shop.owner, menu, text="🔌 Platforms: WooCommerce, Shopify, Tilda")
    assert "WooCommerce: not connected" in menu.text
    await tg.tap(shop.owner, menu, text="➕ Connect WooCommerce")
    assert "1 of 4" in menu.text and "Store URL" in menu.text
    # the store URL is not a secret; the keys are, and each is deleted once read
    await tg.say(shop.owner, "http://shop.example.com")
    secrets = ["ck_abcdef123", "cs_fedcba321", "wh-secret-42"]
    for secret in secrets:
        await tg.say(shop.owner, secret)
    texts = [m.text or "" for m in tg.emulator.messages(shop.owner) if not m.deleted]
    assert not any(secret in text for text in texts for secret in secrets)
    typed = [m for m in tg.emulator.messages(shop.owner) if (m.text or "") in secrets]
    assert len(typed) == 3 and all(m.deleted for m in typed)
    # an HTTP store is refused (its keys would travel in clear), nothing kept
    assert "Not connected" in tg.last(shop.owner).text
    async with tg.container.sessions() as session:
        assert await session.scalar(select(ShopConnection)) is None
    # with HTTPS it is connected, and the address to give WooCommerce is shown
    await tg.tap(shop.owner, tg.last(shop.owner), text="↩️ Back")
    await tg.tap(shop.owner, tg.last(shop.owner), text="➕ Connect WooCommerce")
    for typed in ["https://shop.example.com/", *secrets]:
        await tg.say(shop.owner, typed)
    done = tg.last(shop.owner)
    async with tg.container.sessions() as session:
        connection = await session.scalar(select(ShopConnection))
    assert "WooCommerce is connected" in done.text
    assert f"/connectors/woocommerce/{connection.path_token}" in done.text
    assert connection.shown == {"store_url": "https://shop.example.com"}
    assert not any(secret in connection.credentials for secret in secrets)
    assert not any(secret in done.text for secret in secrets)
    shown = [m.text or "" for m in tg.emulator.messages(shop.owner) if not m.deleted]
    assert not any(secret in text for text in shown for secret in secrets)
    # a manager cannot open the screen
    query = await tg.forged_tap(shop.manager, tg.last(shop.manager), f"cn:m:{shop.id}:")
    assert tg.answer(query) == "You may not do this."
    async with tg.container.sessions() as session:
        assert await session.scalar(select(Order)) is None
