"""Webhook mode (G2): the emulator posts updates to the bot's web server, through a balancer.

Each "instance" here is a dispatcher with its own web server and webhook route on the test's
database; the routers are module-level, so one process holds one dispatcher at a time and a
second instance is built after the first stopped (truly concurrent instances run as separate
processes in tests/multi/).
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiogram import Bot, Dispatcher
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage
from sqlalchemy import func, select

from bot.container import Container
from bot.i18n import build_i18n
from bot.mail import signer_of
from bot.telegram import build_bot, build_dispatcher
from bot.web import build_web_app, start_web
from handlers.http.telegram_webhook import TelegramWebhook
from services import metrics
from services.messaging.telegram_updates import (
    KEEP,
    KEEP_POISON,
    LEASE,
    POISON_AFTER,
    UpdateLog,
)
from storage.models import Shop, TelegramUpdate
from tests.e2e.conftest import BOT_TOKEN, telegram_world
from tests.webhook_balancer import WebhookBalancer

SECRET = "s3cret-token_for-tests"
REDIS_URL = os.environ.get("TEST_REDIS_URL")


@dataclass
class Instance:
    url: str
    dispatcher: Dispatcher
    bot: Bot
    updates: UpdateLog


@contextlib.asynccontextmanager
async def instance(container: Container, storage: BaseStorage) -> AsyncIterator[Instance]:
    """One bot instance in webhook mode: its dispatcher behind its own web server."""
    bot = build_bot(BOT_TOKEN, container.settings.telegram_api_url)
    dispatcher = build_dispatcher(container, storage)
    updates = UpdateLog(container.sessions, container.clock)
    app = build_web_app(container, signer_of(container.settings), bot_username="shopbot_test")
    webhook = TelegramWebhook(dispatcher, bot, updates, SECRET, i18n=build_i18n())
    app.add_routes([webhook.route("/tg/hook")])
    runner = await start_web(app, "127.0.0.1", 0)
    port = runner.addresses[0][1]
    try:
        yield Instance(f"http://127.0.0.1:{port}/tg/hook", dispatcher, bot, updates)
    finally:
        await runner.cleanup()
        await bot.session.close()


@pytest.fixture
async def world(database_url, engine, clock):
    # `engine` empties the PostgreSQL database first (a fresh SQLite file needs nothing).
    async with telegram_world(database_url, clock) as world:
        yield world


async def point_webhook(bot: Bot, url: str) -> None:
    await bot.set_webhook(url, secret_token=SECRET)


async def handled_updates(container: Container) -> dict[int, str]:
    async with container.sessions() as session:
        rows = await session.execute(select(TelegramUpdate.update_id, TelegramUpdate.state))
        return dict(rows.all())


async def test_updates_come_by_webhook_and_are_answered(world):
    emulator, container = world
    async with instance(container, MemoryStorage()) as one:
        balancer = WebhookBalancer([one.url])
        await point_webhook(one.bot, await balancer.start())
        try:
            olga = emulator.user("Olga", language_code="en")
            emulator.send(olga, "/help")
            await emulator.wait_processed()
            assert "/orders" in emulator.last(olga).text
            [update] = balancer.received
            assert await handled_updates(container) == {update["update_id"]: "done"}
        finally:
            await balancer.stop()


async def test_a_redelivered_update_is_handled_once(world):
    emulator, container = world
    async with instance(container, MemoryStorage()) as one:
        # every update reaches the instance twice at the same time
        balancer = WebhookBalancer([one.url], duplicate=True)
        await point_webhook(one.bot, await balancer.start())
        before = metrics.UPDATES.labels("message", "duplicate")._value.get()
        try:
            olga = emulator.user("Olga", language_code="en")
            for _ in range(3):
                emulator.send(olga, "/help")
            await emulator.wait_processed()
            answers = [m for m in emulator.messages(olga) if m.outgoing]
            assert len(answers) == 3  # one per update, not two
            assert sorted(balancer.answers) == [200] * 6
            assert metrics.UPDATES.labels("message", "duplicate")._value.get() == before + 3
        finally:
            await balancer.stop()


async def test_a_wrong_or_missing_secret_is_refused_and_handles_nothing(world):
    _, container = world
    async with instance(container, MemoryStorage()) as one:
        balancer = WebhookBalancer([one.url])
        await balancer.start()
        try:
            update = {
                "update_id": 77,
                "message": {
                    "message_id": 1,
                    "date": 1_780_000_000,
                    "chat": {"id": 5, "type": "private"},
                    "from": {"id": 5, "is_bot": False, "first_name": "Mallory"},
                    "text": "/newshop",
                },
            }
            body = json.dumps(update).encode()
            for secret in ("", "wrong", SECRET + "x"):
                status, _ = await balancer.post(one.url, body, secret)
                assert status == 401
            status, _ = await balancer.post(one.url, b"{not json", SECRET)
            assert status == 400
            status, _ = await balancer.post(one.url, b'{"update_id": "x"}', SECRET)
            assert status == 400
            assert await handled_updates(container) == {}
        finally:
            await balancer.stop()


async def test_an_update_that_failed_is_handled_again_when_redelivered(world, monkeypatch):
    emulator, container = world
    async with instance(container, MemoryStorage()) as one:
        balancer = WebhookBalancer([one.url])
        await point_webhook(one.bot, await balancer.start())
        failures = iter([RuntimeError("the database went away")])
        feed = one.dispatcher.feed_update

        async def flaky_feed(bot, update, **kwargs):
            error = next(failures, None)
            if error is not None:
                raise error
            return await feed(bot, update, **kwargs)

        monkeypatch.setattr(one.dispatcher, "feed_update", flaky_feed)
        try:
            olga = emulator.user("Olga", language_code="en")
            emulator.send(olga, "/help")
            await emulator.wait_processed()
            # the first delivery answered 500; the emulator (Telegram) delivered it again
            assert balancer.answers == [500, 200]
            answers = [m for m in emulator.messages(olga) if m.outgoing]
            assert len(answers) == 1
            assert list((await handled_updates(container)).values()) == ["done"]
        finally:
            await balancer.stop()


async def test_a_poison_update_is_acknowledged_kept_and_the_person_gets_an_apology(
    world, monkeypatch
):
    emulator, container = world
    async with instance(container, MemoryStorage()) as one:
        balancer = WebhookBalancer([one.url])
        await point_webhook(one.bot, await balancer.start())
        feed = one.dispatcher.feed_update

        async def poisoned_feed(bot, update, **kwargs):
            if update.message is not None and update.message.text == "/help":
                raise RuntimeError("a bug in a handler")
            return await feed(bot, update, **kwargs)

        monkeypatch.setattr(one.dispatcher, "feed_update", poisoned_feed)
        poisoned = metrics.UPDATES.labels("message", "poison")
        before = poisoned._value.get()
        try:
            olga = emulator.user("Olga", language_code="en")
            # when an update's handling raises every time Telegram delivers it
            emulator.send(olga, "/help")
            await emulator.wait_processed()
            # then after POISON_AFTER tries it is acknowledged (no endless redelivery)
            assert balancer.answers == [500] * (POISON_AFTER - 1) + [200]
            # and Olga is told, in her language, instead of silence
            (apology,) = [m for m in emulator.messages(olga) if m.outgoing]
            assert apology.text.startswith("Sorry, something went wrong on our side")
            # and the update is kept for the operator, with what failed, and counted
            async with container.sessions() as session:
                (kept,) = await session.scalars(select(TelegramUpdate))
            assert (kept.state, kept.failures) == ("poison", POISON_AFTER)
            assert kept.last_error == "RuntimeError: a bug in a handler"
            assert kept.body["message"]["text"] == "/help" and kept.from_id == olga.id
            assert poisoned._value.get() == before + 1
            # and her next message is handled as usual
            emulator.send(olga, "/start")
            await emulator.wait_processed()
            assert len([m for m in emulator.messages(olga) if m.outgoing]) > 1
            assert balancer.answers[-1] == 200
        finally:
            await balancer.stop()


async def test_a_poison_update_outlives_the_update_log_purge_for_a_while(services):
    updates = UpdateLog(services.sessions, services.clock)
    for update_id in (1, 2):
        assert await updates.take(update_id)
    await updates.done(1)
    for attempt in range(POISON_AFTER):
        assert await updates.failed(2, "boom", body={"update_id": 2}) is (
            attempt == POISON_AFTER - 1
        )
        assert await updates.take(2) is (attempt < POISON_AFTER - 1)
    services.clock.advance(KEEP + LEASE)
    assert await updates.purge() == 1  # the handled one; the poison one stays
    assert await updates.state_of(2) == "poison"
    services.clock.advance(KEEP_POISON)
    assert await updates.purge() == 1


async def test_an_update_abandoned_by_a_dead_instance_is_taken_after_its_lease(services):
    updates = UpdateLog(services.sessions, services.clock)
    assert await updates.take(10)
    assert not await updates.take(10)  # being handled: a redelivery is dropped
    services.clock.advance(LEASE)
    assert await updates.take(10)  # its instance died: taken over
    await updates.done(10)
    services.clock.advance(LEASE * 2)
    assert not await updates.take(10)  # done: never again
    services.clock.advance(KEEP)
    assert await updates.purge() == 1
    assert await updates.state_of(10) is None


@pytest.mark.skipif(not REDIS_URL, reason="TEST_REDIS_URL is not set: Redis tests need a server")
async def test_another_instance_continues_the_conversation_from_redis(world):
    from aiogram.fsm.storage.redis import RedisStorage

    emulator, container = world
    prefix = f"test-{uuid.uuid4().hex}"  # test runs in parallel must not share state

    def redis_storage() -> RedisStorage:
        return RedisStorage.from_url(REDIS_URL, key_builder=DefaultKeyBuilder(prefix=prefix))

    olga = emulator.user("Olga", language_code="en")
    # given Olga started creating a shop on the first instance
    first_storage = redis_storage()
    async with instance(container, first_storage) as first:
        balancer = WebhookBalancer([first.url])
        await point_webhook(first.bot, await balancer.start())
        emulator.send(olga, "/newshop")
        emulator.send(olga, "Cats")
        await emulator.wait_processed()
        await balancer.stop()
    await first_storage.close()
    # when the second instance gets her next answers
    second_storage = redis_storage()
    try:
        async with instance(container, second_storage) as second:
            balancer = WebhookBalancer([second.url])
            await point_webhook(second.bot, await balancer.start())
            emulator.send(olga, "cats@example.com")
            await emulator.wait_processed()
            # then it asks the next question of the same conversation
            assert "country" in emulator.last(olga).text.lower()
            await balancer.stop()
    finally:
        await second_storage.redis.delete(*await second_storage.redis.keys(f"{prefix}:*"))
        await second_storage.close()
    async with container.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Shop)) == 0
