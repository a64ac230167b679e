"""The connectors wired end to end (H4): a recorded platform webhook posted to the bot's own
HTTP server (/connectors/<platform>/<token>), the order created once through the order
service, the shop's staff moving it, and the platform's fake on loopback receiving the
status, the fulfilment or the note through the real transport, with retries.

Recordings follow the platforms' documentation (tests/outside/recordings/*/README.md); the
webhooks are signed as the platforms sign them (tests/outside/connectors_support.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from bot.container import Container, build_container
from bot.pumps import build_connector_pump
from bot.settings import Settings
from bot.web import build_connectors_app, build_web_app
from services.messaging.email.links import LinkSigner
from services.orders.actors import ActorRef
from services.storefront.connections.pump import ConnectorPump
from storage.models import (
    CallbackRequest,
    ConnectorDelivery,
    Order,
    OutboxMessage,
    ShopConnection,
)
from tests.outside.connectors_support import (
    SHOPIFY_SECRET,
    TILDA_KEY,
    WOO_SECRET,
    recording,
    running,
    shopify_headers,
    woo_headers,
)
from tests.outside.fakes.platforms import FakeShopify, FakeWooCommerce


@dataclass
class Bot:
    container: Container
    client: TestClient
    shop_id: int
    owner_id: int
    pump: ConnectorPump

    async def post(self, platform: str, token: str, body: bytes, headers: dict):
        async with self.client.post(
            f"/connectors/{platform}/{token}", data=body, headers=headers
        ) as response:
            return response.status, await response.text()

    async def orders(self) -> list[Order]:
        async with self.container.sessions() as session:
            return list(await session.scalars(select(Order).order_by(Order.id)))

    async def act(self, order: Order, action: str, **inputs) -> None:
        await self.container.orders.apply(order.id, ActorRef.user(self.owner_id), action, inputs)

    async def deliveries(self) -> list[ConnectorDelivery]:
        async with self.container.sessions() as session:
            return list(
                await session.scalars(select(ConnectorDelivery).order_by(ConnectorDelivery.id))
            )

    async def send_statuses(self) -> int:
        return await self.pump.run_once()

    async def rows(self, channel: str) -> list[OutboxMessage]:
        async with self.container.sessions() as session:
            return list(
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.channel == channel)
                    .order_by(OutboxMessage.id)
                )
            )


@pytest.fixture
async def start_bot(database_url, engine, clock):
    started: list[Bot] = []

    async def start(*, currency: str = "RUB", country: str = "RU", shopify_url=None) -> Bot:
        settings = Settings(
            _env_file=None,
            database_url=database_url,
            secret_key="round-trip",
            webhooks_to_private_addresses=True,  # the fake store is on loopback
            shopify_api_url=shopify_url,
            api_rate_limit=0,
        )
        container = build_container(settings, clock=clock)
        app = build_web_app(
            container,
            LinkSigner("round-trip"),
            bot_username=None,
            subapps={"/connectors": build_connectors_app(container)},
        )
        client = TestClient(TestServer(app))
        await client.start_server()
        created = await container.shops.create_shop(
            name="Store", owner_telegram_id=4242, currency=currency, country=country
        )
        bot = Bot(
            container,
            client,
            created.shop.id,
            created.owner.id,
            build_connector_pump(container),
        )
        started.append(bot)
        return bot

    yield start
    for bot in started:
        await bot.pump._transport.close()
        await bot.client.close()
        await bot.container.close()


async def connect(bot: Bot, platform: str, credentials: dict) -> tuple[str, str | None]:
    made = await bot.container.connections.connect(
        bot.shop_id, platform, credentials, user_id=bot.owner_id
    )
    return made.info.path_token, made.made_secret


# -- WooCommerce -----------------------------------------------------------------------------


async def test_woocommerce_round_trip(start_bot):
    order_727 = json.loads(recording("woocommerce", "order_created_docs_example.json"))
    woo = FakeWooCommerce(
        consumer_key="ck_live", consumer_secret="cs_live", orders={727: order_727}
    )
    async with running(woo):
        bot = await start_bot(currency="USD", country="US")
        token, _ = await connect(
            bot,
            "woocommerce",
            {
                "store_url": woo.url,
                "consumer_key": "ck_live",
                "consumer_secret": "cs_live",
                "webhook_secret": WOO_SECRET,
            },
        )
        # WooCommerce pings the URL when the webhook is saved
        assert await bot.post("woocommerce", token, b"webhook_id=7", {}) == (200, "")
        # when the order.created webhook arrives
        body = recording("woocommerce", "order_created_docs_example.json")
        assert await bot.post("woocommerce", token, body, woo_headers(body)) == (200, "created")
        # then one order, from WooCommerce, as its documentation's example says
        [order] = await bot.orders()
        assert (order.source, order.external_id, order.total) == (
            "woocommerce",
            "woocommerce:727",
            2935,
        )
        assert (order.payment_method, order.delivery_method) == ("bank_transfer", "carrier")
        # the example's phone is not a real one: kept for the staff, the e-mail reaches them
        assert order.buyer.phone is None and "(555) 555-5555" in order.buyer_comment
        # a redelivery and the order.updated topic take nothing more
        assert await bot.post("woocommerce", token, body, woo_headers(body)) == (200, "seen")
        updated = woo_headers(body, "order.updated")
        updated["X-WC-Webhook-Delivery-ID"] = "another"
        assert await bot.post("woocommerce", token, body, updated) == (200, "taken before")
        assert len(await bot.orders()) == 1
        # when the shop confirms it, the store hears "processing"
        await bot.act(order, "confirm")
        assert await bot.send_statuses() == 1
        assert [(c.method, c.path, c.body) for c in woo.calls] == [
            ("PUT", "/wp-json/wc/v3/orders/727", {"status": "processing"})
        ]
        # paid and shipped with a track code: "completed" and the note the buyer sees
        await bot.act(order, "mark_paid")
        await bot.act(order, "ship", carrier="CDEK", track_code="1234567890")
        assert await bot.send_statuses() == 1
        assert woo.orders[727]["status"] == "completed"
        assert [n["note"] for n in woo.notes[727]] == ["CDEK: 1234567890"]
        assert woo.notes[727][0]["customer_note"] is True
        assert {row.state for row in await bot.rows("connector")} == {"sent"}


async def test_woocommerce_throttled_is_retried_and_refused_keys_fail(start_bot, clock):
    order_727 = json.loads(recording("woocommerce", "order_created_docs_example.json"))
    woo = FakeWooCommerce(
        consumer_key="ck_live", consumer_secret="cs_live", orders={727: order_727}
    )
    async with running(woo):
        bot = await start_bot(currency="USD", country="US")
        keys = {
            "store_url": woo.url,
            "consumer_key": "ck_live",
            "consumer_secret": "cs_live",
            "webhook_secret": WOO_SECRET,
        }
        token, _ = await connect(bot, "woocommerce", keys)
        body = recording("woocommerce", "order_created_docs_example.json")
        await bot.post("woocommerce", token, body, woo_headers(body))
        [order] = await bot.orders()
        # the store's host throttles: the pump waits what it is told (30 s), then succeeds
        woo.fail_next(429, retry_after="45")
        await bot.act(order, "confirm")
        assert await bot.send_statuses() == 1
        [row] = await bot.rows("connector")
        assert (row.state, row.attempts) == ("pending", 1) and "429" in row.last_error
        clock.advance(timedelta(seconds=44))
        assert await bot.send_statuses() == 0
        clock.advance(timedelta(seconds=1))
        assert await bot.send_statuses() == 1
        assert woo.orders[727]["status"] == "processing"
        # the shop changed its keys in WordPress: refused for good, with the store's words
        await connect(bot, "woocommerce", {**keys, "consumer_secret": "cs_old"})
        await bot.act(order, "mark_paid")
        await bot.act(order, "ship", carrier="CDEK", track_code="1234567890")
        await bot.send_statuses()
        last = (await bot.rows("connector"))[-1]
        assert last.state == "failed" and "credentials" in last.last_error
        assert "cs_old" not in last.last_error and "ck_live" not in last.last_error


# -- Shopify ---------------------------------------------------------------------------------


async def test_shopify_round_trip(start_bot):
    shopify = FakeShopify(access_token="shpat_live")
    listed = json.loads(recording("shopify", "fulfillment_orders.json"))["fulfillment_orders"]
    shopify.add_order(820982911946154508, listed)
    async with running(shopify):
        bot = await start_bot(currency="USD", country="US", shopify_url=shopify.url)
        token, _ = await connect(
            bot,
            "shopify",
            {
                "shop_domain": "example-shop.myshopify.com",
                "access_token": "shpat_live",
                "client_secret": SHOPIFY_SECRET,
            },
        )
        body = recording("shopify", "orders_create.json")
        assert await bot.post("shopify", token, body, shopify_headers(body)) == (200, "created")
        [order] = await bot.orders()
        assert (order.source, order.external_id) == ("shopify", "shopify:820982911946154508")
        assert order.total == 22094 and order.payment_method == "card"
        # confirming tells Shopify nothing (it has no "processing" to set)
        await bot.act(order, "confirm")
        await bot.act(order, "mark_paid")
        assert await bot.send_statuses() == 0
        # shipping fulfils what is open, one fulfilment per location, with the tracking
        await bot.act(order, "ship", carrier="UPS", track_code="1Z999AA10123456784")
        assert await bot.send_statuses() == 1
        assert [c.method for c in shopify.calls] == ["GET", "POST", "POST"]
        assert [f["tracking_number"] for f in shopify.fulfillments] == ["1Z999AA10123456784"] * 2
        assert {f["tracking_company"] for f in shopify.fulfillments} == {"UPS"}
        assert all(f["notify_customer"] for f in shopify.fulfillments)
        # an orders/updated redelivery creates nothing
        updated = shopify_headers(body, "orders/updated")
        updated["X-Shopify-Webhook-Id"] = "next-delivery"
        assert await bot.post("shopify", token, body, updated) == (200, "taken before")
        assert len(await bot.orders()) == 1


# -- Tilda -----------------------------------------------------------------------------------


async def test_tilda_round_trip(start_bot):
    bot = await start_bot()
    token, key = await connect(bot, "tilda", {})
    assert key and key.startswith("sbk_")
    # Tilda's test when the webhook is connected
    assert await bot.post("tilda", token, b"test=test", {}) == (200, "ok")
    # a cart, its key in the header
    body = recording("tilda", "cart_json.json")
    headers = {"Content-Type": "application/json", "X-Shopbot-Key": key}
    assert await bot.post("tilda", token, body, headers) == (200, "created")
    [order] = await bot.orders()
    assert (order.source, order.external_id) == ("tilda", "tilda:1734562890")
    # Tilda has no API for statuses: a change writes nothing to send back
    await bot.act(order, "confirm")
    assert await bot.rows("connector") == []
    # a form without a cart is a call-back request for the staff (seed 002)
    lead = recording("tilda", "lead_form.txt") + f"&X-Shopbot-Key={key}".encode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert await bot.post("tilda", token, lead, form) == (200, "callback request")
    async with bot.container.sessions() as session:
        [request] = list(await session.scalars(select(CallbackRequest)))
    assert (request.source, request.name, request.phone) == ("tilda", "Ольга", "+79990000000")
    pings = [r for r in await bot.rows("telegram") if r.topic == "callback_request"]
    assert len(pings) == 1


# -- what is not trusted ---------------------------------------------------------------------


async def test_forged_unknown_and_refused_posts_change_nothing(start_bot):
    bot = await start_bot()
    token, key = await connect(bot, "tilda", {})
    body = recording("tilda", "cart_json.json")
    json_type = {"Content-Type": "application/json"}
    # no key, a wrong key: not verified, kept for the shop to see, no order
    assert await bot.post("tilda", token, body, json_type) == (401, "not verified")
    forged = {**json_type, "X-Shopbot-Key": TILDA_KEY}
    assert await bot.post("tilda", token, body, forged) == (401, "not verified")
    # an unknown token, or the right token on another platform's path: nothing at all
    assert (await bot.post("tilda", "x" * 32, body, forged))[0] == 404
    assert (await bot.post("shopify", token, body, forged))[0] == 404
    assert (await bot.post("magento", token, body, forged))[0] == 404
    # a verified cart whose numbers do not add up: refused, kept, the owner told
    cart = json.loads(body)
    cart["payment"]["amount"] = "999999"
    bad = json.dumps(cart).encode()
    assert await bot.post("tilda", token, bad, {**json_type, "X-Shopbot-Key": key}) == (
        200,
        "refused",
    )
    assert await bot.orders() == []
    outcomes = [(d.outcome, d.body is not None) for d in await bot.deliveries()]
    assert outcomes == [("unverified", True), ("unverified", True), ("refused", True)]
    [told] = [r for r in await bot.rows("telegram") if r.topic == "connector_refused"]
    assert "amount" in told.payload["reason"]
    # a body over the platforms' cap is refused before it is read
    huge = b"x" * (2 * 1024 * 1024 + 1)
    assert (await bot.post("tilda", token, huge, {**json_type, "X-Shopbot-Key": key}))[0] == 413
    # the sealed credentials never hold the key in clear
    async with bot.container.sessions() as session:
        stored = await session.scalar(select(ShopConnection.credentials))
        assert key not in stored
        assert await session.scalar(select(func.count()).select_from(Order)) == 0


async def test_two_deliveries_at_once_make_one_order(start_bot):
    import asyncio

    bot = await start_bot()
    token, key = await connect(bot, "tilda", {})
    body = recording("tilda", "cart_json.json")
    headers = {"Content-Type": "application/json", "X-Shopbot-Key": key}
    answers = await asyncio.gather(*(bot.post("tilda", token, body, headers) for _ in range(5)))
    assert all(status == 200 for status, _ in answers)
    assert len(await bot.orders()) == 1
    assert sorted(text for _, text in answers).count("created") == 1
