"""Webhook mode: updates are POSTed with the secret header, retried until a 2xx answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramConflictError
from aiogram.types import Update
from aiohttp import web

from bot.sandbox import TelegramEmulator


@dataclass
class Receiver:
    """A tiny webhook endpoint: fails the first `failures` calls, then records updates."""

    url: str = ""
    failures: int = 0
    reply: dict[str, Any] | None = None
    calls: list[tuple[str | None, dict[str, Any]]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        if self.failures:
            self.failures -= 1
            return web.Response(status=500)
        self.calls.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.json_response(self.reply or {})


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/telegram", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/telegram"
    yield receiver
    await runner.cleanup()


async def test_updates_are_posted_with_the_secret_token(
    telegram: TelegramEmulator, bot: Bot, receiver: Receiver
) -> None:
    # given
    await bot.set_webhook(receiver.url, secret_token="s3cret_token")
    ivan = telegram.user("Ivan")
    # when
    telegram.send(ivan, "hello")
    await telegram.wait_processed()
    # then
    [(secret, body)] = receiver.calls
    assert secret == "s3cret_token"
    update = Update.model_validate(body)
    assert update.message is not None and update.message.text == "hello"
    with pytest.raises(TelegramConflictError, match="webhook is active"):
        await bot.get_updates()
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == (receiver.url, 0)


async def test_failed_deliveries_are_retried(
    telegram: TelegramEmulator, bot: Bot, receiver: Receiver
) -> None:
    receiver.failures = 2
    await bot.set_webhook(receiver.url)
    ivan = telegram.user("Ivan")

    telegram.send(ivan, "first")
    telegram.send(ivan, "second")
    await telegram.wait_processed()

    assert [body["message"]["text"] for _, body in receiver.calls] == ["first", "second"]
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 500 Internal Server Error"


async def test_a_method_in_the_webhook_answer_is_executed(
    telegram: TelegramEmulator, bot: Bot, receiver: Receiver
) -> None:
    ivan = telegram.user("Ivan")
    receiver.reply = {"method": "sendMessage", "chat_id": ivan.id, "text": "pong"}
    await bot.set_webhook(receiver.url)

    telegram.send(ivan, "ping")
    await telegram.wait_processed()

    assert (await telegram.wait_for_message(ivan)).text == "pong"


async def test_deleting_the_webhook_brings_back_get_updates(
    telegram: TelegramEmulator, bot: Bot
) -> None:
    await bot.set_webhook("http://127.0.0.1:9/unreachable")
    ivan = telegram.user("Ivan")
    telegram.send(ivan, "queued")

    await bot.delete_webhook()
    updates = await bot.get_updates()

    assert [update.message.text for update in updates if update.message] == ["queued"]
