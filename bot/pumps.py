"""The delivery pumps a running bot starts, built from the container: the outbox pump that
sends Telegram notifications through handlers/telegram/notifier.py, the webhook pump to
storefronts and the statuses back to the shops' platforms (the mail pump is bot/mail.py's)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot

from bot.container import Container
from bot.i18n import build_i18n
from bot.outbound import AiohttpTransport
from handlers.telegram.notifier import TelegramSender
from services.messaging.notifications.content import NoticeReader
from services.messaging.notifications.pump import OutboxPump, RateLimits, SendBudget
from services.messaging.notifications.shared_budget import PREFIX as BUDGET_PREFIX
from services.messaging.notifications.shared_budget import RedisBudget
from services.messaging.webhooks.pump import MAX_ATTEMPTS, WebhookPump
from services.payments.refund_pump import RefundPump
from services.payments.yookassa import YooKassaClient
from services.storefront.connections.pump import ConnectorPump


def build_pump(
    container: Container,
    bot: Bot,
    *,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    limits: RateLimits | None = None,
    budget: SendBudget | None = None,
    **options: Any,
) -> OutboxPump:
    """The pump sending the outbox's Telegram notifications through `bot` (one built with
    `wait_out_floods=False`, so a 429 comes back to the pump). With REDIS_URL its pace is
    shared by every instance (30/s in all for the bot, not per process); `budget` replaces
    the one the settings give."""
    sender = TelegramSender(
        bot,
        dialog=container.dialog,
        orders=container.orders,
        cards=container.cards,
        notices=NoticeReader(container.sessions, container.workflows),
        documents=container.documents,
        callbacks=container.callbacks,
        i18n=build_i18n(),
    )
    return OutboxPump(
        container.sessions,
        container.clock,
        sender,
        sleep=sleep,
        limits=limits,
        budget=budget or send_budget(container.settings.redis_url, limits),
        workflows=container.workflows,
        **options,
    )


def send_budget(
    redis_url: str | None, limits: RateLimits | None, *, prefix: str = BUDGET_PREFIX
) -> SendBudget | None:
    """The Telegram send budget in Redis when REDIS_URL is set; None (this process's own)
    without it, or when pacing is off (nothing to share)."""
    limits = limits or RateLimits()
    if not redis_url or limits == RateLimits.off():
        return None
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    # Short timeouts and one quick retry (a pooled connection Redis closed on restart):
    # a Redis that is away must cost a send a second at most, not seconds of backoff; the
    # budget then paces this instance alone until Redis answers again.
    client = Redis.from_url(
        redis_url,
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
        retry=Retry(NoBackoff(), 1),
    )
    return RedisBudget(client, limits, prefix=prefix)


def build_webhook_pump(
    container: Container,
    *,
    max_attempts: int = MAX_ATTEMPTS,
    idle: float = 2.0,
    allow_private: bool | None = None,
) -> WebhookPump:
    """The pump sending status changes to storefronts: `await pump.run(stop_event)` in the
    background, or `await pump.run_once()`. Several (one per instance) may run at once.
    It connects to public addresses only, unless WEBHOOKS_TO_PRIVATE_ADDRESSES (or
    `allow_private`) lets shops point it inward."""
    if allow_private is None:
        allow_private = container.settings.webhooks_to_private_addresses
    return WebhookPump(
        container.sessions,
        container.clock,
        AiohttpTransport(public_only=not allow_private),
        max_attempts=max_attempts,
        idle=idle,
    )


def build_refund_pump(container: Container, *, idle: float = 5.0) -> RefundPump:
    """The pump sending refunds of cancelled paid orders to the payment providers (issue 17)."""
    return RefundPump(
        container.sessions,
        container.clock,
        container.orders,
        container.payment_settings,
        YooKassaClient(container.outside, container.settings.yookassa_api_url),
        idle=idle,
    )


def build_connector_pump(container: Container, *, idle: float = 2.0) -> ConnectorPump:
    """The pump sending status changes back to the shops' platforms (WooCommerce, Shopify);
    a store's address is the shop's, so public addresses only, as for webhooks."""
    return ConnectorPump(
        container.sessions,
        container.clock,
        AiohttpTransport(public_only=not container.settings.webhooks_to_private_addresses),
        container.vault,
        container.connectors,
        idle=idle,
    )
