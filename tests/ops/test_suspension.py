"""A shop the operator suspends: its storefront API answers 403 shop_suspended, its staff
cannot create or change orders and read why in the bot, its buyers keep their rights and its
timers keep going; resuming restores everything, and nothing was lost meanwhile."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from services.operations.shops import ShopOperations
from services.orders.actors import ActorRef, Channel
from services.refusals import OrderRefused, Problem, Reason, Refused
from services.time.sweep import TimerSweep
from tests.api.conftest import order_body, start_api
from tests.factories import bind_buyer, draft, make_order, make_shop

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def operations(services) -> ShopOperations:
    return ShopOperations(services.sessions, services.clock)


async def test_staff_cannot_change_a_suspended_shops_orders(services, operations):
    # given a shop with an order, suspended by the operator
    shop = await make_shop(services)
    order = await make_order(services, shop)
    line = await operations.suspend(shop.id, "  unpaid   subscription ")
    assert line.suspended and line.suspension_reason == "unpaid subscription"
    manager = shop.as_user(shop.manager)

    # when staff try to move it, edit it or take a new order: refused, nothing changed
    with pytest.raises(OrderRefused) as refused:
        await services.orders.apply(order.id, manager, "confirm")
    assert refused.value.code is Problem.SHOP_SUSPENDED
    with pytest.raises(OrderRefused, match="shop_suspended"):
        await services.orders.create_orders(shop.id, draft(), manager)
    with pytest.raises(OrderRefused, match="shop_suspended"):
        await services.orders.create_orders(shop.id, draft(), ActorRef.system(Channel.API))
    # opening the card is looking, not changing: allowed, and it moves nothing
    opened = await services.orders.open(order.id, manager)
    assert opened.status == "awaiting_confirmation" and opened.opened_at is None
    assert (await services.orders.get(order.id, manager)).status == "awaiting_confirmation"

    # then once resumed, the same tap works
    await operations.resume(shop.id)
    result = await services.orders.apply(order.id, manager, "confirm")
    assert result.order.status == "awaiting_payment"


async def test_buyers_and_timers_go_on_in_a_suspended_shop(services, operations):
    # given an order awaiting payment in a shop that is then suspended
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await services.orders.apply(order.id, shop.as_user(shop.manager), "confirm")
    kept = await make_order(services, shop, external_id="kept")
    await bind_buyer(services, kept, shop.buyer_user)
    await operations.suspend(shop.id, "audit")
    # when the buyer cancels one, and the other's payment deadline passes
    cancelled = await services.orders.apply(
        kept.id, shop.as_user(shop.buyer_user), "cancel", {"reason": "changed_mind"}
    )
    services.clock.advance(timedelta(days=3, minutes=1))
    fired = await TimerSweep(services.sessions, services.clock, services.orders).run_once()
    # then both happen: no buyer's deadline stretches while the shop is suspended
    assert cancelled.order.status == "cancelled"
    assert fired.fired >= 1 and fired.errors == 0
    assert (await services.orders.get(order.id, ActorRef.system())).status == "not_paid"


async def test_suspend_and_resume_refuse_nonsense(services, operations):
    shop = await make_shop(services)
    with pytest.raises(Refused) as missing:
        await operations.suspend(shop.id + 99, "why")
    assert missing.value.code is Reason.NOT_FOUND
    for reason in ("", "   ", "x" * 501, "bell\x07"):
        with pytest.raises(Refused) as bad:
            await operations.suspend(shop.id, reason)
        assert bad.value.code is Reason.INVALID
    with pytest.raises(Refused) as not_suspended:
        await operations.resume(shop.id)
    assert not_suspended.value.code is Reason.ALREADY
    # suspending again changes the reason and keeps the date
    first = await operations.suspend(shop.id, "first")
    services.clock.advance(timedelta(hours=1))
    second = await operations.suspend(shop.id, "second")
    assert second.suspended_at == first.suspended_at and second.suspension_reason == "second"


async def test_the_storefront_api_answers_403_while_suspended(database_url, engine, clock):
    api = await start_api(database_url, clock)
    try:
        status, created, _ = await api.post(order_body(external_id="before"))
        assert status == 201
        number = created["orders"][0]["number"]
        await ShopOperations(api.container.sessions, clock).suspend(api.shop_id, "fraud check")
        before = await api.order_count()

        status, body, _ = await api.post(order_body(external_id="during"))
        assert status == 403
        assert body["error"]["code"] == "shop_suspended"
        assert "fraud" not in body["error"]["message"]  # the reason is for the shop's staff
        assert (await api.get(number))[0] == 403
        assert await api.order_count() == before
        # a bad token is still a 401: suspension says nothing to strangers
        assert (await api.post(order_body(), token="sbk_nope"))[0] == 401

        await ShopOperations(api.container.sessions, clock).resume(api.shop_id)
        assert (await api.post(order_body(external_id="after")))[0] == 201
        assert (await api.get(number))[0] == 200
    finally:
        await api.client.close()
        await api.container.close()


def test_the_operator_lists_suspends_and_resumes_from_the_command_line(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DATABASE_URL")},
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/ops.db",
    }

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    assert cli("shop", "list").stdout.strip() == "no shops"
    made = cli("shop", "create", "--name", "Cats", "--owner-telegram-id", "4242")
    assert made.returncode == 0, made.stderr
    suspended = cli("shop", "suspend", "--shop", "1", "--reason", "unpaid invoice #77")
    assert suspended.returncode == 0, suspended.stderr
    assert "SUSPENDED since" in suspended.stdout and "unpaid invoice #77" in suspended.stdout
    listed = cli("shop", "list").stdout
    assert "Cats" in listed and "owner 4242" in listed and "SUSPENDED" in listed
    assert cli("shop", "resume", "--shop", "1").stdout.rstrip().endswith("active")
    again = cli("shop", "resume", "--shop", "1")
    assert again.returncode == 1 and "not suspended" in again.stderr
    missing = cli("shop", "suspend", "--shop", "9", "--reason", "x")
    assert missing.returncode == 1 and "no shop with id 9" in missing.stderr
