"""Shared by the connector tests: recordings, webhook signing as the platforms sign, the
fake platforms and the real transport started and stopped around a test."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.outbound import AiohttpTransport
from tests.outside.fakes.platforms import FakeServer

RECORDINGS = Path(__file__).parent / "recordings"

WOO_SECRET = "wh-secret-7f3a"
SHOPIFY_SECRET = "shpss_0123456789abcdef"
TILDA_KEY = "tilda-key-5b21c9"


def recording(platform: str, name: str) -> bytes:
    return (RECORDINGS / platform / name).read_bytes()


def base64_hmac(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA256(body)), as WooCommerce's WC_Webhook::generate_signature and
    Shopify's webhooks compute it."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def woo_headers(body: bytes, topic: str = "order.created", secret: str = WOO_SECRET) -> dict:
    return {
        "Content-Type": "application/json",
        "User-Agent": "WooCommerce/9.4.2 Hookshot (WordPress/6.7)",
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[-1],
        "X-WC-Webhook-Signature": base64_hmac(secret, body),
        "X-WC-Webhook-ID": "7",
        "X-WC-Webhook-Delivery-ID": "a1b2c3d4e5f6",
    }


def shopify_headers(
    body: bytes, topic: str = "orders/create", secret: str = SHOPIFY_SECRET
) -> dict:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": base64_hmac(secret, body),
        "X-Shopify-Shop-Domain": "example-shop.myshopify.com",
        "X-Shopify-API-Version": "2026-07",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Triggered-At": "2026-11-24T15:15:02.000Z",
    }


@asynccontextmanager
async def running(server: FakeServer) -> AsyncIterator[FakeServer]:
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@asynccontextmanager
async def real_transport() -> AsyncIterator[AiohttpTransport]:
    transport = AiohttpTransport()
    try:
        yield transport
    finally:
        await transport.close()
