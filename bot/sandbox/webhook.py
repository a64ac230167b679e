"""Webhook delivery: while a webhook is set, updates are POSTed to it instead of queued.

Like Telegram, updates go one after another in update_id order, each with the header
X-Telegram-Bot-Api-Secret-Token when a secret was set; an update counts as delivered on a 2xx
answer and is retried otherwise (the failure shows in getWebhookInfo). A JSON answer with a
"method" field is executed as a Bot API call, as Telegram does for webhook replies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from bot.sandbox.errors import ApiError
from bot.sandbox.params import Params
from bot.sandbox.state import PendingUpdate, World

log = logging.getLogger(__name__)

Execute = Callable[[str, Params], Awaitable[Any]]
RETRY_DELAYS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)  # seconds; the last repeats
IDLE_CHECK = 30.0


class WebhookDelivery:
    def __init__(
        self, world: World, execute: Execute, retry_delays: Sequence[float] = RETRY_DELAYS
    ) -> None:
        self.world = world
        self.execute = execute
        self.retry_delays = tuple(retry_delays)
        self._task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    def start(self, http: aiohttp.ClientSession) -> None:
        self._http = http
        self._task = asyncio.create_task(self._run(), name="sandbox-webhook-delivery")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        failures = 0
        while not self.world.closing:
            if not self.world.webhook.url:
                await self.world.wait_change(IDLE_CHECK)
                continue
            self.world.drop_unwanted()
            if not self.world.pending:
                await self.world.wait_change(IDLE_CHECK)
                continue
            update = self.world.pending[0]
            if await self._deliver(update):
                failures = 0
                self.world.confirm(update)
            else:
                delay = self.retry_delays[min(failures, len(self.retry_delays) - 1)]
                failures += 1
                await asyncio.sleep(delay)

    async def _deliver(self, update: PendingUpdate) -> bool:
        assert self._http is not None
        webhook = self.world.webhook
        headers = {}
        if webhook.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
        try:
            async with self._http.post(
                webhook.url,
                json=update.to_api(),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=60),
            ) as response:
                if not 200 <= response.status < 300:
                    self._failed(
                        f"Wrong response from the webhook: {response.status} {response.reason}"
                    )
                    return False
                reply = await _json_or_none(response)
        except (aiohttp.ClientError, TimeoutError) as error:
            self._failed(f"Connection failed: {error or type(error).__name__}")
            return False
        if isinstance(reply, dict) and isinstance(reply.get("method"), str):
            await self._run_reply(reply)
        return True

    async def _run_reply(self, reply: dict[str, Any]) -> None:
        method = reply.pop("method")
        try:
            await self.execute(method, Params(reply))
        except ApiError as error:
            # Telegram drops a failing webhook reply silently; say it in the log at least.
            log.warning("webhook reply %s failed: %s", method, error.description)

    def _failed(self, message: str) -> None:
        self.world.webhook.last_error_date = self.world.now()
        self.world.webhook.last_error_message = message
        log.info("webhook delivery failed: %s", message)


async def _json_or_none(response: aiohttp.ClientResponse) -> Any:
    if response.content_type != "application/json":
        return None
    try:
        return await response.json()
    except ValueError:
        return None
