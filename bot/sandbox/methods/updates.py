"""Getting updates: long polling with getUpdates, or a webhook (delivered by `webhook.py`)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from bot.sandbox.errors import ApiError, bad_request
from bot.sandbox.methods.context import Context, Handler
from bot.sandbox.params import Params
from bot.sandbox.state import WebhookConfig

JsonDict = dict[str, Any]

MAX_POLL_SECONDS = 50  # longer polls are cut short, as proxies would
WEBHOOK_ACTIVE = ApiError(
    409,
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first",
)
SUPERSEDED = ApiError(
    409,
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running",
)
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


async def get_updates(ctx: Context, params: Params) -> list[JsonDict]:
    world = ctx.world
    if world.webhook.url:
        raise WEBHOOK_ACTIVE
    _confirm(ctx, params.integer("offset"))
    limit = min(max(params.integer("limit", 100) or 100, 1), 100)
    timeout = min(max(params.integer("timeout", 0) or 0, 0), MAX_POLL_SECONDS)
    allowed = params.json_value("allowed_updates", "can't parse allowed updates JSON object")
    if isinstance(allowed, list):
        world.allowed_updates = [str(kind) for kind in allowed]  # kept for later calls
    # A newer poll ends the one still waiting (a second bot instance, or a client that left).
    ctx.poll_generation += 1
    generation = ctx.poll_generation
    ctx.waiting_polls += 1
    try:
        world.notify()
        return await _long_poll(ctx, generation, limit, timeout)
    finally:
        ctx.waiting_polls -= 1


async def _long_poll(ctx: Context, generation: int, limit: int, seconds: int) -> list[JsonDict]:
    """Answer when there are updates, or at the timeout, or when a newer poll came."""
    world = ctx.world
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        world.drop_unwanted()
        if generation != ctx.poll_generation:
            raise SUPERSEDED
        if world.webhook.url:
            raise WEBHOOK_ACTIVE
        remaining = deadline - loop.time()
        if world.pending or world.closing or remaining <= 0:
            return [update.to_api() for update in world.pending[:limit]]
        await world.wait_change(remaining)


def _confirm(ctx: Context, offset: int | None) -> None:
    """offset > 0 confirms updates before it; offset -N keeps only the last N."""
    world = ctx.world
    if offset is None or offset == 0:
        return
    if offset > 0:
        world.confirm_before(offset)
        return
    kept = world.pending[offset:]
    world.confirm_before(kept[0].update_id if kept else world.last_update_id + 1)


async def set_webhook(ctx: Context, params: Params) -> bool:
    world = ctx.world
    url = params.text("url", "") or ""
    if url and not url.startswith(("http://", "https://")):
        # Telegram wants HTTPS; the emulator also takes http:// for local receivers.
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.text("secret_token")
    if secret is not None and not SECRET_TOKEN.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    allowed = params.json_value("allowed_updates", "can't parse allowed updates JSON object")
    if isinstance(allowed, list):
        world.allowed_updates = [str(kind) for kind in allowed]
    if params.flag("drop_pending_updates"):
        world.confirm_before(world.last_update_id + 1)
    world.webhook = WebhookConfig(
        url=url,
        secret_token=secret if url else None,
        max_connections=params.integer("max_connections", 40) or 40,
    )
    world.notify()  # wake the delivery loop and any waiting getUpdates
    return True


async def delete_webhook(ctx: Context, params: Params) -> bool:
    if params.flag("drop_pending_updates"):
        ctx.world.confirm_before(ctx.world.last_update_id + 1)
    ctx.world.webhook = WebhookConfig()
    ctx.world.notify()
    return True


async def get_webhook_info(ctx: Context, params: Params) -> JsonDict:
    world, webhook = ctx.world, ctx.world.webhook
    info: JsonDict = {
        "url": webhook.url,
        "has_custom_certificate": False,
        "pending_update_count": len(world.pending),
    }
    if webhook.url:
        info["max_connections"] = webhook.max_connections
        info["ip_address"] = "127.0.0.1"
        if world.allowed_updates:
            info["allowed_updates"] = world.allowed_updates
    if webhook.last_error_date is not None:
        info["last_error_date"] = webhook.last_error_date
        info["last_error_message"] = webhook.last_error_message
    return info


async def log_out(ctx: Context, params: Params) -> bool:
    return True


METHODS: dict[str, Handler] = {
    "getUpdates": get_updates,
    "setWebhook": set_webhook,
    "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "close": log_out,
    "logOut": log_out,
}
