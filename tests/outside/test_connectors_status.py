"""Statuses back to the platforms, against fake WooCommerce and Shopify APIs on loopback.

The real transport (bot.outbound.AiohttpTransport) talks HTTP to the fakes, which check
credentials as the platforms do and record every request, so each test states the exact
requests a status change makes and what the platform's errors become.
"""

from __future__ import annotations

import base64
import json
import socket

import pytest

from services.outside.http import HttpReply
from services.refusals import Refused
from services.storefront.connectors import (
    PlatformError,
    PlatformStatus,
    ShopifyConnector,
    TildaConnector,
    WooCommerceConnector,
)
from services.storefront.connectors.shopify import API_VERSION
from tests.outside.connectors_support import real_transport, recording, running
from tests.outside.fakes.platforms import FakeShopify, FakeWooCommerce

WOO = WooCommerceConnector(allow_loopback_http=True)
KEY, SECRET = "ck_9a8b7c6d5e", "cs_1f2e3d4c5b"
BASIC = "Basic " + base64.b64encode(f"{KEY}:{SECRET}".encode()).decode()
ORDER_PATH = "/wp-json/wc/v3/orders/1042"


def woo_fake() -> FakeWooCommerce:
    order = json.loads(recording("woocommerce", "order_created_cod_pickup.json"))
    return FakeWooCommerce(consumer_key=KEY, consumer_secret=SECRET, orders={1042: order})


def woo_keys(store_url: str, **changes: str) -> dict[str, str]:
    return {
        "store_url": store_url,
        "consumer_key": KEY,
        "consumer_secret": SECRET,
        "webhook_secret": "wh",
        **changes,
    }


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class TestWooCommerceStatuses:
    @pytest.mark.parametrize(
        ("status", "sent"),
        [
            (PlatformStatus.PROCESSING, "processing"),
            (PlatformStatus.SHIPPED, "completed"),
            (PlatformStatus.COMPLETED, "completed"),
            (PlatformStatus.CANCELLED, "cancelled"),
            (PlatformStatus.REFUNDED, "refunded"),
        ],
    )
    async def test_a_status_is_one_put(self, status, sent):
        async with running(woo_fake()) as woo, real_transport() as transport:
            await WOO.send_status(
                transport, woo_keys(woo.url), platform_order_id="1042", status=status
            )
            # then exactly one request: the status, with the shop's keys over HTTP Basic
            assert [(c.method, c.path, c.body) for c in woo.calls] == [
                ("PUT", ORDER_PATH, {"status": sent})
            ]
            assert woo.calls[0].headers["Authorization"] == BASIC
            assert woo.calls[0].headers["Content-Type"] == "application/json"
            assert woo.orders[1042]["status"] == sent

    async def test_shipped_with_a_track_code_adds_a_note_the_buyer_sees(self):
        async with running(woo_fake()) as woo, real_transport() as transport:
            await WOO.send_status(
                transport,
                woo_keys(woo.url),
                platform_order_id="1042",
                status=PlatformStatus.SHIPPED,
                note="Ваш заказ в пути",
                carrier="CDEK",
                track_code="1234567890",
            )
            assert [(c.method, c.path, c.body) for c in woo.calls] == [
                ("PUT", ORDER_PATH, {"status": "completed"}),
                (
                    "POST",
                    f"{ORDER_PATH}/notes",
                    {"note": "Ваш заказ в пути\nCDEK: 1234567890", "customer_note": True},
                ),
            ]
            assert woo.notes[1042][0]["customer_note"] is True

    async def test_a_track_code_without_a_carrier(self):
        async with running(woo_fake()) as woo, real_transport() as transport:
            await WOO.send_status(
                transport,
                woo_keys(f"{woo.url}/"),  # a trailing slash in the store URL is fine
                platform_order_id="1042",
                status=PlatformStatus.SHIPPED,
                track_code=" RA123456789RU ",
            )
            assert woo.calls[-1].body == {"note": "RA123456789RU", "customer_note": True}

    async def test_wrong_keys(self):
        async with running(woo_fake()) as woo, real_transport() as transport:
            with pytest.raises(PlatformError) as caught:
                await WOO.send_status(
                    transport,
                    woo_keys(woo.url, consumer_secret="cs_wrong"),
                    platform_order_id="1042",
                    status=PlatformStatus.COMPLETED,
                )
        error = caught.value
        assert (error.status, error.retryable) == (401, False)
        assert "Consumer secret is invalid." in error.message
        assert "cs_wrong" not in str(error) and SECRET not in str(error)

    async def test_an_order_the_store_does_not_have(self):
        async with running(woo_fake()) as woo, real_transport() as transport:
            with pytest.raises(PlatformError) as caught:
                await WOO.send_status(
                    transport,
                    woo_keys(woo.url),
                    platform_order_id="999",
                    status=PlatformStatus.COMPLETED,
                )
        assert (caught.value.status, caught.value.retryable) == (404, False)
        assert "Invalid ID." in caught.value.message

    async def test_rate_limited_with_retry_after(self):
        async with running(woo_fake()) as woo, real_transport() as transport:
            woo.fail_next(429, retry_after="30")
            with pytest.raises(PlatformError) as caught:
                await WOO.send_status(
                    transport,
                    woo_keys(woo.url),
                    platform_order_id="1042",
                    status=PlatformStatus.COMPLETED,
                )
            error = caught.value
            assert (error.status, error.retryable, error.retry_after) == (429, True, 30.0)
            assert woo.orders[1042]["status"] == "processing"  # nothing changed
            # and the same call goes through once the store lets it
            await WOO.send_status(
                transport,
                woo_keys(woo.url),
                platform_order_id="1042",
                status=PlatformStatus.COMPLETED,
            )
            assert woo.orders[1042]["status"] == "completed"

    async def test_a_crashed_store(self):
        async with running(woo_fake()) as woo, real_transport() as transport:
            woo.fail_next(500)
            with pytest.raises(PlatformError) as caught:
                await WOO.send_status(
                    transport,
                    woo_keys(woo.url),
                    platform_order_id="1042",
                    status=PlatformStatus.COMPLETED,
                )
        error = caught.value
        assert (error.status, error.retryable) == (500, True)
        assert "<html" not in error.message  # WordPress's HTML page is not shown

    async def test_the_note_failing_after_the_status(self):
        """The status went through, the note did not: the error says which, and the same
        change sent again sets the status again (harmless) and adds the note once."""
        async with running(woo_fake()) as woo, real_transport() as transport:
            ship = dict(platform_order_id="1042", status=PlatformStatus.SHIPPED, track_code="RA1RU")
            woo.fail_next(500, after=1)  # the PUT passes, the note fails
            with pytest.raises(PlatformError) as caught:
                await WOO.send_status(transport, woo_keys(woo.url), **ship)
            assert caught.value.retryable and "adding a note" in caught.value.message
            assert woo.orders[1042]["status"] == "completed" and 1042 not in woo.notes
            await WOO.send_status(transport, woo_keys(woo.url), **ship)
            assert [note["note"] for note in woo.notes[1042]] == ["RA1RU"]
            assert [c.method for c in woo.calls] == ["PUT", "POST", "PUT", "POST"]

    async def test_an_unreachable_store(self):
        async with real_transport() as transport:
            with pytest.raises(PlatformError) as caught:
                await WOO.send_status(
                    transport,
                    woo_keys(f"http://127.0.0.1:{closed_port()}"),
                    platform_order_id="1042",
                    status=PlatformStatus.COMPLETED,
                )
        assert caught.value.retryable is True and caught.value.status is None

    async def test_an_order_id_that_is_not_woocommerces(self):
        async with running(woo_fake()) as woo, real_transport() as transport:
            for bad in ("1042/../../users", "-1", "", "1042?x=1"):
                with pytest.raises(PlatformError):
                    await WOO.send_status(
                        transport,
                        woo_keys(woo.url),
                        platform_order_id=bad,
                        status=PlatformStatus.COMPLETED,
                    )
            assert woo.calls == []


class TestWooCommerceCredentials:
    def test_clean_credentials(self):
        clean = WooCommerceConnector().check_credentials(
            {
                "store_url": " https://Shop.Example/shop/ ",
                "consumer_key": " ck_1 ",
                "consumer_secret": "cs_1",
                "webhook_secret": "wh",
            }
        )
        assert clean == {
            "store_url": "https://shop.example/shop",
            "consumer_key": "ck_1",
            "consumer_secret": "cs_1",
            "webhook_secret": "wh",
        }

    @pytest.mark.parametrize(
        "url",
        [
            "http://shop.example",  # keys in clear
            "https://127.0.0.1",
            "https://10.0.0.5",
            "https://localhost:8080",
            "https://[::1]/",
            "https://user:pass@shop.example",
            "https://shop.example/?a=1",
            "ftp://shop.example",
            "shop.example",
            "https://shop example",
        ],
    )
    def test_store_urls_refused(self, url):
        with pytest.raises(Refused) as caught:
            WooCommerceConnector().check_credentials(woo_keys(url))
        assert caught.value.params["field"] == "store_url"

    def test_loopback_http_only_when_allowed(self):
        assert WOO.check_credentials(woo_keys("http://127.0.0.1:8081"))["store_url"] == (
            "http://127.0.0.1:8081"
        )
        with pytest.raises(Refused):
            WOO.check_credentials(woo_keys("http://10.0.0.5"))

    @pytest.mark.parametrize("field", ["consumer_key", "consumer_secret", "webhook_secret"])
    def test_a_missing_key(self, field):
        with pytest.raises(Refused) as caught:
            WOO.check_credentials(woo_keys("https://shop.example", **{field: " "}))
        assert caught.value.params["field"] == field

    async def test_stored_credentials_that_no_longer_pass(self):
        async with real_transport() as transport:
            with pytest.raises(PlatformError) as caught:
                await WooCommerceConnector().send_status(
                    transport,
                    woo_keys("http://shop.example"),
                    platform_order_id="1042",
                    status=PlatformStatus.COMPLETED,
                )
        assert caught.value.retryable is False and "store_url" in caught.value.message


# Shopify -----------------------------------------------------------------------------------

TOKEN = "shpat_0a1b2c3d4e5f"
SHOP_ORDER = 820982911946154508
API = f"/admin/api/{API_VERSION}"


def shopify_fake() -> FakeShopify:
    shopify = FakeShopify(access_token=TOKEN)
    listed = json.loads(recording("shopify", "fulfillment_orders.json"))["fulfillment_orders"]
    shopify.add_order(SHOP_ORDER, listed)
    shopify.add_order(5932712345678, [])
    return shopify


def shopify_keys(**changes: str) -> dict[str, str]:
    return {
        "shop_domain": "example-shop.myshopify.com",
        "access_token": TOKEN,
        "client_secret": "shpss_x",
        **changes,
    }


def shopify_connector(fake: FakeShopify) -> ShopifyConnector:
    return ShopifyConnector(api_base=fake.url)


class TestShopifyStatuses:
    async def test_shipped_fulfils_the_open_fulfillment_orders_with_tracking(self):
        async with running(shopify_fake()) as shopify, real_transport() as transport:
            await shopify_connector(shopify).send_status(
                transport,
                shopify_keys(),
                platform_order_id=str(SHOP_ORDER),
                status=PlatformStatus.SHIPPED,
                note="not sent to Shopify",
                carrier="UPS",
                track_code="1Z999AA10123456784",
            )
            tracking = {"number": "1Z999AA10123456784", "company": "UPS"}
            # then: the list, and one fulfilment per location (the closed one left alone)
            assert [(c.method, c.path, c.body) for c in shopify.calls] == [
                ("GET", f"{API}/orders/{SHOP_ORDER}/fulfillment_orders.json", None),
                (
                    "POST",
                    f"{API}/fulfillments.json",
                    {
                        "fulfillment": {
                            "line_items_by_fulfillment_order": [
                                {"fulfillment_order_id": 1046000778},
                                {"fulfillment_order_id": 1046000779},
                            ],
                            "notify_customer": True,
                            "tracking_info": tracking,
                        }
                    },
                ),
                (
                    "POST",
                    f"{API}/fulfillments.json",
                    {
                        "fulfillment": {
                            "line_items_by_fulfillment_order": [
                                {"fulfillment_order_id": 1046000780}
                            ],
                            "notify_customer": True,
                            "tracking_info": tracking,
                        }
                    },
                ),
            ]
            assert all(c.headers["X-Shopify-Access-Token"] == TOKEN for c in shopify.calls)
            assert [f["tracking_number"] for f in shopify.fulfillments] == [
                "1Z999AA10123456784"
            ] * 2
            # and a second delivery of the same change finds nothing left to fulfil
            shopify.calls.clear()
            await shopify_connector(shopify).send_status(
                transport,
                shopify_keys(),
                platform_order_id=str(SHOP_ORDER),
                status=PlatformStatus.SHIPPED,
                track_code="1Z999AA10123456784",
            )
            assert [c.method for c in shopify.calls] == ["GET"]
            assert len(shopify.fulfillments) == 2

    async def test_completed_fulfils_without_tracking_or_e_mail(self):
        async with running(shopify_fake()) as shopify, real_transport() as transport:
            await shopify_connector(shopify).send_status(
                transport,
                shopify_keys(),
                platform_order_id=str(SHOP_ORDER),
                status=PlatformStatus.COMPLETED,
            )
            posted = [c.body["fulfillment"] for c in shopify.calls if c.method == "POST"]
            assert posted and all(
                f["notify_customer"] is False and "tracking_info" not in f for f in posted
            )

    async def test_cancelled(self):
        async with running(shopify_fake()) as shopify, real_transport() as transport:
            connector = shopify_connector(shopify)
            await connector.send_status(
                transport,
                shopify_keys(),
                platform_order_id=str(SHOP_ORDER),
                status=PlatformStatus.CANCELLED,
            )
            assert [(c.method, c.path, c.body) for c in shopify.calls] == [
                ("POST", f"{API}/orders/{SHOP_ORDER}/cancel.json", {"reason": "other"})
            ]
            assert SHOP_ORDER in shopify.cancelled
            with pytest.raises(PlatformError) as caught:
                await connector.send_status(
                    transport,
                    shopify_keys(),
                    platform_order_id=str(SHOP_ORDER),
                    status=PlatformStatus.CANCELLED,
                )
            assert (caught.value.status, caught.value.retryable) == (422, False)
            assert "already been cancelled" in caught.value.message

    @pytest.mark.parametrize("status", [PlatformStatus.PROCESSING, PlatformStatus.REFUNDED])
    async def test_statuses_shopify_has_no_place_for_send_nothing(self, status):
        async with running(shopify_fake()) as shopify, real_transport() as transport:
            await shopify_connector(shopify).send_status(
                transport, shopify_keys(), platform_order_id=str(SHOP_ORDER), status=status
            )
            assert shopify.calls == []
        assert status not in ShopifyConnector.sends

    async def test_a_wrong_token(self):
        async with running(shopify_fake()) as shopify, real_transport() as transport:
            with pytest.raises(PlatformError) as caught:
                await shopify_connector(shopify).send_status(
                    transport,
                    shopify_keys(access_token="shpat_wrong"),
                    platform_order_id=str(SHOP_ORDER),
                    status=PlatformStatus.SHIPPED,
                )
        assert (caught.value.status, caught.value.retryable) == (401, False)
        assert "Invalid API key or access token" in caught.value.message
        assert "shpat_wrong" not in str(caught.value)

    async def test_an_unknown_order(self):
        async with running(shopify_fake()) as shopify, real_transport() as transport:
            with pytest.raises(PlatformError) as caught:
                await shopify_connector(shopify).send_status(
                    transport,
                    shopify_keys(),
                    platform_order_id="1234",
                    status=PlatformStatus.SHIPPED,
                )
        assert (caught.value.status, caught.value.message.endswith("Not Found")) == (404, True)

    async def test_throttled_with_a_fractional_retry_after(self):
        async with running(shopify_fake()) as shopify, real_transport() as transport:
            shopify.fail_next(429)
            with pytest.raises(PlatformError) as caught:
                await shopify_connector(shopify).send_status(
                    transport,
                    shopify_keys(),
                    platform_order_id=str(SHOP_ORDER),
                    status=PlatformStatus.CANCELLED,
                )
            assert shopify.cancelled == set()
        error = caught.value
        assert (error.status, error.retryable, error.retry_after) == (429, True, 2.0)
        assert "Exceeded 2 calls per second" in error.message

    @pytest.mark.parametrize(("failing", "done_before_retry"), [(0, 0), (1, 0), (2, 1)])
    async def test_a_failure_half_way(self, failing, done_before_retry):
        """The list (call 0) or one of the two fulfilments (calls 1, 2) fails with a 500:
        retryable, and the same change sent again fulfils only what is still open."""
        async with running(shopify_fake()) as shopify, real_transport() as transport:
            connector = shopify_connector(shopify)
            change = dict(
                platform_order_id=str(SHOP_ORDER), status=PlatformStatus.SHIPPED, track_code="T1"
            )
            shopify.fail_next(500, after=failing)
            with pytest.raises(PlatformError) as caught:
                await connector.send_status(transport, shopify_keys(), **change)
            assert caught.value.retryable and caught.value.status == 500
            assert len(shopify.fulfillments) == done_before_retry
            await connector.send_status(transport, shopify_keys(), **change)
            assert len(shopify.fulfillments) == 2
            fulfilled = sorted(
                fo["id"]
                for fo in shopify.fulfillment_orders[SHOP_ORDER]
                if fo["status"] == "closed"
            )
            assert fulfilled == [1046000778, 1046000779, 1046000780, 1046000781]


class TestShopifyCredentials:
    @pytest.mark.parametrize(
        ("given", "domain"),
        [
            ("example-shop.myshopify.com", "example-shop.myshopify.com"),
            ("https://Example-Shop.myshopify.com/", "example-shop.myshopify.com"),
        ],
    )
    def test_shop_domains(self, given, domain):
        assert (
            ShopifyConnector().check_credentials(shopify_keys(shop_domain=given))["shop_domain"]
            == domain
        )

    @pytest.mark.parametrize(
        "given",
        [
            "evil.example",
            "shop.myshopify.com.evil.example",
            "shop.myshopify.com/admin",
            "-shop.myshopify.com",
            "shop@myshopify.com",
            "127.0.0.1",
        ],
    )
    def test_other_domains_refused(self, given):
        with pytest.raises(Refused) as caught:
            ShopifyConnector().check_credentials(shopify_keys(shop_domain=given))
        assert caught.value.params["field"] == "shop_domain"

    async def test_the_production_address_is_the_shops_own(self):
        """Without a base of our own the connector calls https://<shop>.myshopify.com."""

        class Recorder:
            def __init__(self):
                self.urls = []

            async def request(self, method, url, *, headers=None, body=None, time_limit=10.0):
                self.urls.append(url)
                return HttpReply(200, b'{"order": {}}')

        recorder = Recorder()
        await ShopifyConnector().send_status(
            recorder,
            shopify_keys(),
            platform_order_id="42",
            status=PlatformStatus.CANCELLED,
        )
        assert recorder.urls == [
            f"https://example-shop.myshopify.com/admin/api/{API_VERSION}/orders/42/cancel.json"
        ]


# Tilda -------------------------------------------------------------------------------------


async def test_tilda_sends_nothing():
    """Tilda has no status API: send_status returns without touching the transport."""

    class Untouchable:
        async def request(self, *args, **kwargs):
            raise AssertionError("Tilda has no API to call")

    connector = TildaConnector(currency="RUB")
    for status in PlatformStatus:
        await connector.send_status(
            Untouchable(), {"api_key": "k"}, platform_order_id="1734562890", status=status
        )
    assert connector.sends == frozenset()
