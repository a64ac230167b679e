"""Failed deliveries are counted per shop and channel (shopbot_deliveries_failed_total), so an
operator sees whose customers stop hearing from the bot; a retry is not a failure."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services import metrics
from services.messaging.notifications.pump import OutboxPump, Permanent, Transient
from tests.factories import make_shop
from tests.mail_server import MailServer
from tests.services.test_mail_pump import orders_for, pump_of
from tests.services.test_pump import FakeTelegram, drain, moving, orders_for_buyers


def failed(channel: str, shop_id: int) -> float:
    return metrics.DELIVERIES_FAILED.labels(channel, str(shop_id))._value.get()


async def test_a_blocked_buyer_counts_for_the_shop_and_a_retry_does_not(services):
    telegram = FakeTelegram()
    pump = OutboxPump(services.sessions, services.clock, telegram, sleep=moving(services.clock))
    shop, other = await make_shop(services), await make_shop(services)
    blocked, retried = await orders_for_buyers(services, shop, 2)
    await orders_for_buyers(services, other, 1, first_chat=800_000)
    telegram.answers[blocked.buyer.telegram_id] = [Permanent("Forbidden: bot was blocked")]
    telegram.answers[retried.buyer.telegram_id] = [Transient("network down")]
    before = failed("telegram", shop.id), failed("telegram", other.id)

    await drain(pump)
    services.clock.advance(timedelta(minutes=5))
    await drain(pump)

    assert failed("telegram", shop.id) == before[0] + 1  # the blocked one only
    assert failed("telegram", other.id) == before[1]


@pytest.fixture
async def server():
    server = await MailServer().start()
    yield server
    await server.stop()


async def test_a_refused_e_mail_counts_for_its_shop(services, server):
    shop = await make_shop(services)
    await orders_for(services, shop, "nobody@buyer.test")
    server.handler.reject.add("nobody@buyer.test")
    before = failed("email", shop.id)
    await pump_of(services, server).run_once()
    assert failed("email", shop.id) == before + 1
