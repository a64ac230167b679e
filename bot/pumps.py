"""The delivery pumps a running bot starts, built from the container: the webhook pump to
storefronts and the statuses back to the shops' platforms (the Telegram pump is
handlers/telegram/notifier.py's, the mail pump bot/mail.py's)."""

from __future__ import annotations

from bot.container import Container
from bot.outbound import AiohttpTransport
from services.messaging.webhooks.pump import MAX_ATTEMPTS, WebhookPump
from services.storefront.connections.pump import ConnectorPump


def build_webhook_pump(
    container: Container, *, max_attempts: int = MAX_ATTEMPTS, idle: float = 2.0
) -> WebhookPump:
    """The pump sending status changes to storefronts: `await pump.run(stop_event)` in the
    background, or `await pump.run_once()`. Several (one per instance) may run at once."""
    return WebhookPump(
        container.sessions,
        container.clock,
        AiohttpTransport(),
        max_attempts=max_attempts,
        idle=idle,
    )


def build_connector_pump(container: Container, *, idle: float = 2.0) -> ConnectorPump:
    """The pump sending status changes back to the shops' platforms (WooCommerce, Shopify)."""
    return ConnectorPump(
        container.sessions,
        container.clock,
        AiohttpTransport(),
        container.vault,
        container.connectors,
        idle=idle,
    )
