"""Signed webhooks to the storefront: delivered to a real HTTP server on loopback, both
signatures verified (ours, and Standard Webhooks' with its own library), retried after a
500, given up after N attempts, never sent twice by two pumps, for every order of the shop."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from bot.outbound import AiohttpTransport
from bot.pumps import build_webhook_pump
from services.messaging.webhooks.events import verify
from services.messaging.webhooks.pump import WebhookPump
from services.orders.actors import ActorRef
from services.refusals import Refused
from services.storefront.webhook_settings import WebhookSettings, new_secret
from storage.models import Order, OutboxMessage
from storage.models import Shop as ShopRow
from tests.api.conftest import ORDER, order_body
from tests.factories import make_order


def storefront_settings(api) -> WebhookSettings:
    """The webhook settings, letting the storefront be this test's server on loopback."""
    return WebhookSettings(api.container.sessions, api.container.clock, allow_private=True)


class Storefront:
    """A storefront's webhook endpoint: records what arrives, answers from a script."""

    def __init__(self) -> None:
        self.received: list[tuple[dict, bytes]] = []
        self.answers: list[int] = []  # statuses to answer in turn; then 200
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append((dict(request.headers), body))
        status = self.answers.pop(0) if self.answers else 200
        return web.Response(status=status, text="ok")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hooks/shopbot", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = self.runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/hooks/shopbot"

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
async def storefront():
    endpoint = Storefront()
    await endpoint.start()
    yield endpoint
    await endpoint.runner.cleanup()


@pytest.fixture
async def poster():
    client = AiohttpTransport()
    yield client
    await client.close()


def pump_for(api, poster, **options) -> WebhookPump:
    return WebhookPump(api.container.sessions, api.container.clock, poster, **options)


async def order_moved(api, body=ORDER) -> Order:
    """An order from the storefront, then confirmed by the shop's owner: one status change."""
    _, created, _ = await api.post(body)
    async with api.container.sessions() as session:
        order = await session.scalar(
            select(Order).where(Order.number == created["orders"][0]["number"])
        )
    await api.container.orders.apply(order.id, ActorRef.user(api.shop.owner.id), "confirm")
    return order


async def sent_created(api, poster) -> None:
    """Marks the order's creation event as sent, so a test follows its status change alone."""
    async with api.container.sessions() as session, session.begin():
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.topic == "order.created")
            .values(state="sent", attempts=1)
        )


async def webhook_rows(api) -> list[OutboxMessage]:
    async with api.container.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.channel == "webhook")
                .order_by(OutboxMessage.id)
            )
        )


async def test_every_event_is_posted_signed_both_ways(api, storefront, poster):
    # given a shop with a webhook URL and its secret, and the real time (Standard Webhooks
    # libraries refuse a timestamp more than five minutes from their own clock)
    api.container.clock.set(datetime.now(UTC).replace(microsecond=0))
    secret = await storefront_settings(api).set_url(api.shop_id, storefront.url)
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    order = await order_moved(api)
    # when the pump the bot runs makes a pass
    pump = build_webhook_pump(api.container, allow_private=True)  # the storefront is on loopback
    try:
        assert await pump.run_once() == 2
    finally:
        await pump.close()
    # then the storefront got the order's creation and its status change, signed
    created, moved = storefront.received
    for headers, raw in storefront.received:
        assert verify(secret, headers["X-ShopBot-Signature"], raw)
        assert not verify(secret + "x", headers["X-ShopBot-Signature"], raw)
        assert not verify(secret, headers["X-ShopBot-Signature"], raw.replace(b"1", b"2"))
        # and in the Standard Webhooks form, checked with its own library
        assert Webhook(secret).verify(raw, headers) == json.loads(raw)
        assert headers["webhook-id"] == headers["X-ShopBot-Event-Id"]
        with pytest.raises(WebhookVerificationError):
            Webhook(new_secret()).verify(raw, headers)
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(raw.replace(b"1", b"2"), headers)
        with pytest.raises(WebhookVerificationError):
            replayed = {
                **headers,
                "webhook-timestamp": str(int(headers["webhook-timestamp"]) - 600),
            }
            Webhook(secret).verify(raw, replayed)
    headers, raw = moved
    t = int(headers["X-ShopBot-Signature"].split(",")[0][2:])
    assert t == int(api.container.clock.now().timestamp()) == int(headers["webhook-timestamp"])
    assert json.loads(raw) == {
        "id": headers["X-ShopBot-Event-Id"],
        "event": "order.status_changed",
        "number": order.number,
        "external_id": "web-1001",
        "status": "awaiting_payment",
        "previous_status": "awaiting_confirmation",
        "at": api.container.clock.now().isoformat(),
    }
    assert json.loads(created[1]) == {
        "id": created[0]["X-ShopBot-Event-Id"],
        "event": "order.created",
        "number": order.number,
        "external_id": "web-1001",
        "status": "awaiting_confirmation",
        "source": "api",
        "total": 330100,
        "currency": "RUB",
        "at": api.container.clock.now().isoformat(),
    }
    assert {row.state for row in await webhook_rows(api)} == {"sent"}
    # and nothing is sent again
    assert await pump_for(api, poster).run_once() == 0
    assert len(storefront.received) == 2


async def test_a_secret_made_before_standard_secrets_still_verifies(api, storefront, poster):
    # a secret of the old form (url-safe base64), as shops made them before
    api.container.clock.set(datetime.now(UTC).replace(microsecond=0))
    await storefront_settings(api).set_url(api.shop_id, storefront.url)
    old = "whsec_" + "Ab-_9" * 8
    async with api.container.sessions() as session, session.begin():
        shop = await session.get(ShopRow, api.shop_id)
        shop.settings = {**shop.settings, "webhook_secret": old}
    await order_moved(api)
    await pump_for(api, poster).run_once()
    for headers, raw in storefront.received:
        assert Webhook(old).verify(raw, headers) == json.loads(raw)
        assert verify(old, headers["X-ShopBot-Signature"], raw)


async def test_a_500_is_retried_with_backoff_and_then_delivered(api, storefront, poster):
    await storefront_settings(api).set_url(api.shop_id, storefront.url)
    await order_moved(api)
    await sent_created(api, poster)
    storefront.answers = [500, 503]
    pump = pump_for(api, poster)
    # the first attempt fails; it is not due again at once
    assert await pump.run_once() == 1
    assert await pump.run_once() == 0
    [_, row] = await webhook_rows(api)
    assert (row.state, row.attempts, row.last_error) == ("pending", 1, "HTTP 500")
    # 30 s later the second attempt fails, the next waits a minute
    api.container.clock.advance(timedelta(seconds=30))
    assert await pump.run_once() == 1
    api.container.clock.advance(timedelta(seconds=59))
    assert await pump.run_once() == 0
    api.container.clock.advance(timedelta(seconds=1))
    assert await pump.run_once() == 1
    [_, row] = await webhook_rows(api)
    assert (row.state, row.attempts) == ("sent", 3)
    # the same event id on every attempt: the storefront can tell a retry
    assert len({headers["X-ShopBot-Event-Id"] for headers, _ in storefront.received}) == 1


async def test_it_is_given_up_after_n_attempts(api, storefront, poster):
    await storefront_settings(api).set_url(api.shop_id, storefront.url)
    await order_moved(api)
    await sent_created(api, poster)
    storefront.answers = [500] * 10
    pump = pump_for(api, poster, max_attempts=3)
    for _ in range(5):
        await pump.run_once()
        due = await pump.next_due()
        if due is None:
            break
        api.container.clock.set(due)
    [_, row] = await webhook_rows(api)
    assert (row.state, row.attempts, row.last_error) == ("failed", 3, "HTTP 500")
    assert len(storefront.received) == 3


async def test_a_dead_endpoint_is_retried_and_a_4xx_fails_at_once(api, storefront, poster):
    settings = storefront_settings(api)
    # nobody listens on this port
    await settings.set_url(api.shop_id, "http://127.0.0.1:9/hooks")
    await order_moved(api)
    pump = pump_for(api, poster)
    await pump.run_once()
    rows = await webhook_rows(api)
    assert all(r.state == "pending" and r.attempts == 1 and "Error" in r.last_error for r in rows)
    # the storefront comes up but refuses the event for good
    await settings.set_url(api.shop_id, storefront.url)
    storefront.answers = [410, 410]
    api.container.clock.advance(timedelta(seconds=30))
    await pump.run_once()
    rows = await webhook_rows(api)
    assert {(r.state, r.attempts, r.last_error) for r in rows} == {("failed", 2, "HTTP 410")}


async def test_without_a_url_nothing_is_sent_and_phone_orders_are_told_too(api, storefront, poster):
    await order_moved(api)
    assert await pump_for(api, poster).run_once() == 2
    assert {(r.state, r.sent_at) for r in await webhook_rows(api)} == {("done", None)}
    assert storefront.received == []
    # an order taken by phone is the shop's too: its storefront hears of it (H4)
    await storefront_settings(api).set_url(api.shop_id, storefront.url)
    manual = await make_order(api.container, api.shop)
    await api.container.orders.apply(manual.id, ActorRef.user(api.shop.owner.id), "confirm")
    assert await pump_for(api, poster).run_once() == 2
    assert [json.loads(raw)["event"] for _, raw in storefront.received] == [
        "order.created",
        "order.status_changed",
    ]


async def test_two_pumps_never_send_one_event_twice(api, storefront, poster, backend):
    await storefront_settings(api).set_url(api.shop_id, storefront.url)
    for index in range(12):
        await order_moved(api, order_body(external_id=f"web-{index}"))
    second = AiohttpTransport()
    try:
        handled = await asyncio.gather(
            pump_for(api, poster, batch=3).run_once(),
            pump_for(api, second, batch=3).run_once(),
        )
    finally:
        await second.close()
    assert sum(handled) == 24
    ids = [headers["X-ShopBot-Event-Id"] for headers, _ in storefront.received]
    assert len(ids) == len(set(ids)) == 24
    assert {row.state for row in await webhook_rows(api)} == {"sent"}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hooks",
        "http://localhost/hooks",
        "https://api.localhost/x",
        "http://10.0.0.5/hooks",
        "http://192.168.1.1/hooks",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hooks",
        "http://0.0.0.0/",
        "http://2130706433/hooks",
        "http://0x7f000001/hooks",
        "http://127.1/hooks",
        "http://metadata.google.internal/computeMetadata/v1/",
    ],
)
async def test_a_webhook_into_the_bots_own_network_is_refused(api, url):
    settings = WebhookSettings(api.container.sessions, api.container.clock)
    with pytest.raises(Refused, match="a public address is needed"):
        await settings.set_url(api.shop_id, url)
    assert (await settings.get(api.shop_id)).url is None
    # a public address is fine
    await settings.set_url(api.shop_id, "https://shop.example.com/hooks")
    assert (await settings.get(api.shop_id)).url == "https://shop.example.com/hooks"


async def test_a_webhook_url_that_leads_inside_when_sent_fails_without_detail(api, storefront):
    # given a shop whose webhook URL leads to the bot's own host (saved while the name was
    # public, or while WEBHOOKS_TO_PRIVATE_ADDRESSES was on) and an order's event to send
    await storefront_settings(api).set_url(api.shop_id, storefront.url)
    await order_moved(api)
    # when the bot's pump, allowed public addresses only, makes a pass
    pump = build_webhook_pump(api.container)
    try:
        await pump.run_once()
    finally:
        await pump.close()
    # then nothing reached the address, every event failed at once (no retry toward it),
    # and the shop's log says why without saying where the address led
    assert storefront.received == []
    rows = await webhook_rows(api)
    assert rows and {(row.state, row.attempts) for row in rows} == {("failed", 1)}
    assert {row.last_error for row in rows} == {"the address is not a public one"}
