"""Deliveries that move orders by themselves (issue 18): a shipped order's parcel followed at
its carrier's fake, through the real adapters and the real order service, on SQLite and
PostgreSQL. No tap: the workflow's `on_carrier:` map moves the order, once per event.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from services.deliveries.accounts import CarrierAccounts
from services.deliveries.sweep import NOTHING, TrackingSweep
from services.deliveries.tracking import ACTIVE, DONE
from services.outside.vault import Vault
from services.refusals import Reason, Refused
from storage.models import (
    CarrierAccount,
    Order,
    OrderEvent,
    OutboxMessage,
    ParcelCheckpoint,
    ParcelTracking,
)
from tests.factories import make_order, make_shop

HOUR = timedelta(hours=1)
# Each carrier's refused or returned parcel in its recordings.
REFUSED = {"cdek": "1275242903", "russian_post": "14102192069353"}


@pytest.fixture
def vault() -> Vault:
    return Vault(["test-secret"])


def rig_parts(services, rig, vault):
    adapters = {rig.name: rig.adapter}
    accounts = CarrierAccounts(services.sessions, services.clock, vault, adapters)
    sweep = TrackingSweep(
        services.sessions, services.clock, services.orders, accounts, adapters, services.workflows
    )
    return accounts, sweep


async def shipped(services, rig, accounts, code: str, preset: str = "platform"):
    shop = await make_shop(services, preset)
    await accounts.save(shop.id, rig.name, rig.credentials, user_id=shop.owner.id)
    order = await make_order(services, shop)
    manager = shop.as_user(shop.manager)
    if preset == "platform":
        await services.orders.open(order.id, manager)
        await services.orders.apply(order.id, manager, "confirm")
        await services.orders.apply(order.id, manager, "pack")
    else:
        await services.orders.apply(order.id, manager, "confirm")
        await services.orders.apply(order.id, manager, "mark_paid")
    inputs = {"carrier": rig.name, "track_code": code}
    await services.orders.apply(order.id, manager, "ship", inputs)
    return shop, order


async def status_of(services, order_id: int) -> str:
    async with services.sessions() as session:
        return await session.scalar(select(Order.status).where(Order.id == order_id))


async def carrier_events(services, order_id: int) -> list[tuple[str, str]]:
    async with services.sessions() as session:
        rows = await session.execute(
            select(OrderEvent.action, OrderEvent.to_status)
            .where(OrderEvent.order_id == order_id, OrderEvent.channel == "carrier")
            .order_by(OrderEvent.id)
        )
        return [tuple(row) for row in rows]


async def tracking_of(services, order_id: int) -> ParcelTracking:
    async with services.sessions() as session:
        return await session.scalar(
            select(ParcelTracking).where(ParcelTracking.order_id == order_id)
        )


async def test_a_shipped_order_is_received_with_no_tap(services, rig, vault):
    accounts, sweep = rig_parts(services, rig, vault)
    _shop, order = await shipped(services, rig, accounts, rig.known)
    assert (await tracking_of(services, order.id)).state == ACTIVE

    services.clock.advance(2 * HOUR)
    report = await sweep.run_once()

    assert report.parcels == 1 and report.requests == 1
    if rig.name == "nova_poshta":  # its recorded parcel waits at the branch
        assert await carrier_events(services, order.id) == [("ready_for_pickup", "awaiting_pickup")]
        assert await status_of(services, order.id) == "awaiting_pickup"
        return
    assert await carrier_events(services, order.id) == [
        ("ready_for_pickup", "awaiting_pickup"),
        ("deliver", "received"),
    ]
    assert await status_of(services, order.id) == "received"
    assert (await tracking_of(services, order.id)).state == DONE
    # The buyer was told of each status once, with what the carrier said.
    async with services.sessions() as session:
        told = list(
            await session.scalars(
                select(OutboxMessage.payload).where(
                    OutboxMessage.order_id == order.id,
                    OutboxMessage.audience == "buyer",
                    OutboxMessage.topic == "status_changed",
                    OutboxMessage.channel == "email",
                )
            )
        )
    assert [payload["status"] for payload in told][-2:] == ["awaiting_pickup", "received"]

    # Asked again later: nothing is due, nothing applied twice.
    services.clock.advance(48 * HOUR)
    again = await sweep.run_once()
    assert again.parcels == 0
    assert len(await carrier_events(services, order.id)) == 2


async def test_marketplace_parcel_waits_at_the_pickup_point_then_is_picked_up(
    services, cdek, vault
):
    accounts, sweep = rig_parts(services, cdek, vault)
    _shop, order = await shipped(services, cdek, accounts, cdek.known, "marketplace")

    services.clock.advance(2 * HOUR)
    await sweep.run_once()

    assert await carrier_events(services, order.id) == [
        ("ready_for_pickup", "awaiting_pickup"),
        ("confirm_pickup", "picked_up"),
    ]


@pytest.fixture(params=sorted(REFUSED))
def refusing(request):
    """A carrier whose recordings hold a parcel the buyer refused."""
    return request.getfixturevalue(request.param)


async def test_a_refused_parcel_cancels_with_the_buyer_changed_their_mind(
    services, vault, refusing
):
    rig = refusing
    accounts, sweep = rig_parts(services, rig, vault)
    _shop, order = await shipped(services, rig, accounts, REFUSED[rig.name])

    services.clock.advance(2 * HOUR)
    await sweep.run_once()

    assert await status_of(services, order.id) == "cancelled"
    async with services.sessions() as session:
        cancel = await session.scalar(
            select(OrderEvent).where(OrderEvent.order_id == order.id, OrderEvent.action == "cancel")
        )
    assert cancel.payload["inputs"] == {"reason": "buyer_changed_mind"}
    assert cancel.channel == "carrier"
    assert cancel.payload["checkpoint"]["kind"] == "refused"


async def test_a_returned_parcel_tells_the_shop_once(services, boxberry, vault):
    accounts, sweep = rig_parts(services, boxberry, vault)
    _shop, order = await shipped(services, boxberry, accounts, "DUD15086277")

    services.clock.advance(2 * HOUR)
    await sweep.run_once()

    assert await status_of(services, order.id) == "awaiting_pickup"  # it was there, then left
    async with services.sessions() as session:
        notices = list(
            await session.scalars(
                select(OutboxMessage.payload).where(
                    OutboxMessage.order_id == order.id, OutboxMessage.topic == "shop_reminder"
                )
            )
        )
    assert [n["message"] for n in notices] == ["carrier_returned_to_sender"]


async def test_carrier_down_backs_off_and_loses_nothing(services, cdek, vault):
    accounts, sweep = rig_parts(services, cdek, vault)
    _shop, order = await shipped(services, cdek, accounts, cdek.known)
    cdek.fake.fail_next(10, "500")

    services.clock.advance(2 * HOUR)
    report = await sweep.run_once()

    assert report.failures and await status_of(services, order.id) == "delivering"
    first = await tracking_of(services, order.id)
    assert first.failures == 1 and first.state == ACTIVE
    first_wait = first.due_at - services.clock.now()
    assert first_wait > timedelta(0)

    # Still down at the next try: it waits longer.
    services.clock.advance(first_wait)
    await sweep.run_once()
    second = await tracking_of(services, order.id)
    assert second.failures == 2
    assert second.due_at - services.clock.now() > first_wait

    # The carrier is back: the order moves, once.
    cdek.fake._failures.clear()
    services.clock.advance(second.due_at - services.clock.now())
    await sweep.run_once()
    await sweep.run_once()
    assert await status_of(services, order.id) == "received"
    assert len(await carrier_events(services, order.id)) == 2


async def test_garbage_from_the_carrier_leaves_the_order_untouched(services, cdek, vault):
    accounts, sweep = rig_parts(services, cdek, vault)
    _shop, order = await shipped(services, cdek, accounts, cdek.known)
    cdek.fake.fail_next(5, "garbage")

    services.clock.advance(2 * HOUR)
    report = await sweep.run_once()

    assert report.failures["malformed"] >= 1
    assert await status_of(services, order.id) == "delivering"
    assert await carrier_events(services, order.id) == []
    async with services.sessions() as session:
        assert await session.scalar(select(ParcelCheckpoint.id).limit(1)) is None


async def test_a_checkpoint_applies_once_even_offered_twice(services, cdek, vault):
    from services.deliveries.sweep import react

    accounts, sweep = rig_parts(services, cdek, vault)
    _shop, order = await shipped(services, cdek, accounts, cdek.known)
    services.clock.advance(2 * HOUR)
    await sweep.run_once()

    async with services.sessions() as session:
        applied = list(
            await session.scalars(
                select(ParcelCheckpoint).where(ParcelCheckpoint.outcome != NOTHING)
            )
        )
    assert {c.outcome for c in applied} == {"applied: ready_for_pickup", "applied: deliver"}
    for checkpoint in applied:  # a second sweep, or a webhook, offers them again
        checkpoint.outcome = None
        assert await react(services.orders, services.sessions, checkpoint) == "gone"
    assert len(await carrier_events(services, order.id)) == 2


async def test_no_account_at_the_carrier_waits_and_changes_nothing(services, cdek, vault):
    accounts, sweep = rig_parts(services, cdek, vault)
    shop, order = await shipped(services, cdek, accounts, cdek.known)
    await accounts.remove(shop.id, "cdek", user_id=shop.owner.id)

    services.clock.advance(2 * HOUR)
    report = await sweep.run_once()

    assert report.requests == 0 and cdek.fake.total == 0
    row = await tracking_of(services, order.id)
    assert row.last_error == "no account at the carrier" and row.state == ACTIVE


async def test_credentials_are_sealed_and_only_supervisors_set_them(services, cdek, vault):
    accounts, _ = rig_parts(services, cdek, vault)
    shop = await make_shop(services, "platform")

    with pytest.raises(Refused) as refused:
        await accounts.save(shop.id, "cdek", cdek.credentials, user_id=shop.manager.id)
    assert refused.value.code is Reason.FORBIDDEN
    with pytest.raises(Refused) as refused:
        await accounts.save(shop.id, "cdek", {"client_id": "x"}, user_id=shop.owner.id)
    assert refused.value.params == {"field": "client_secret"}

    await accounts.save(shop.id, "cdek", cdek.credentials, user_id=shop.owner.id)
    async with services.sessions() as session:
        stored = await session.scalar(select(CarrierAccount.credentials))
    assert cdek.credentials["client_secret"] not in stored
    assert await accounts.connected(shop.id, user_id=shop.owner.id) == ["cdek"]


async def test_a_carrier_is_asked_no_faster_than_its_quota_and_the_sweep_never_waits(
    services, russian_post, vault
):
    # Russian Post's free quota: 100 requests a day per login, one request a parcel
    accounts, sweep = rig_parts(services, russian_post, vault)
    shop, first = await shipped(services, russian_post, accounts, russian_post.known)
    manager = shop.as_user(shop.manager)
    others = []
    for _ in range(2):
        order = await make_order(services, shop)
        await services.orders.open(order.id, manager)
        for action in ("confirm", "pack"):
            await services.orders.apply(order.id, manager, action)
        code = russian_post.known
        await services.orders.apply(
            order.id, manager, "ship", {"carrier": "Почта России", "track_code": code}
        )
        others.append(order)

    services.clock.advance(2 * HOUR)
    report = await sweep.run_once()

    # one request now; the sweep did not sit out the carrier's interval
    assert report.requests == 1 and russian_post.fake.total == 1
    assert not [wait for wait in russian_post.sleeper.waits if wait > 60]
    rows = [await tracking_of(services, o.id) for o in (first, *others)]
    assert sum(row.polls for row in rows) == 1
    waiting = [row for row in rows if row.polls == 0]
    assert all(row.due_at >= services.clock.now() + timedelta(seconds=800) for row in waiting)

    # at the account's next turn the next parcel is asked about
    services.clock.advance(timedelta(seconds=870))
    await sweep.run_once()
    assert russian_post.fake.total == 2


# -- CDEK's webhooks: a hint, fetched back -----------------------------------------------------


@pytest.fixture
async def webhook_client(services, cdek, vault):
    from aiohttp.test_utils import TestClient, TestServer

    from handlers.http.carriers import carriers_app

    accounts, sweep = rig_parts(services, cdek, vault)
    client = TestClient(TestServer(carriers_app(sweep)))
    await client.start_server()
    yield client, accounts
    await client.close()


async def test_a_cdek_webhook_is_fetched_back_before_it_moves_anything(
    services, cdek, webhook_client
):
    client, accounts = webhook_client
    _shop, order = await shipped(services, cdek, accounts, cdek.known)
    asked = cdek.fake.total

    # garbage, and a status for a number nobody follows: nothing asked, nothing moved
    bad = await client.post("/cdek", data=b"<html>not json")
    assert bad.status == 400
    stranger = json.loads(cdek.fake.recording("webhook_order_status.json"))
    stranger["attributes"]["cdek_number"] = "1999999999"
    ok = await client.post("/cdek", data=json.dumps(stranger).encode())
    assert ok.status == 200
    assert cdek.fake.total == asked
    assert await status_of(services, order.id) == "delivering"

    # the parcel's status named (not yet due): fetched back from the API, then applied
    named = await client.post("/cdek", data=cdek.fake.recording("webhook_order_status.json"))
    assert named.status == 200
    assert cdek.fake.total > asked
    assert await status_of(services, order.id) == "received"
    # the same webhook again: nothing applied twice
    again = await client.post("/cdek", data=cdek.fake.recording("webhook_order_status.json"))
    assert again.status == 200
    assert len(await carrier_events(services, order.id)) == 2


async def test_a_webhook_that_lies_changes_nothing(services, cdek, webhook_client):
    client, accounts = webhook_client
    # the parcel really is still on its way: the API's answer is what counts
    _shop, order = await shipped(services, cdek, accounts, "1000000001")

    await client.post(
        "/cdek",
        data=json.dumps(
            {
                "type": "ORDER_STATUS",
                "attributes": {"cdek_number": "1000000001", "code": "DELIVERED"},
            }
        ).encode(),
    )

    assert await status_of(services, order.id) == "delivering"


async def test_a_webhook_repeated_in_a_loop_asks_the_carrier_once(services, cdek, webhook_client):
    # given a followed parcel (track codes are no secret: the buyer sees them)
    client, accounts = webhook_client
    await shipped(services, cdek, accounts, "1000000001")
    body = json.dumps(
        {"type": "ORDER_STATUS", "attributes": {"cdek_number": "1000000001", "code": "ACCEPTED"}}
    ).encode()
    await client.post("/cdek", data=body)
    asked = cdek.fake.total
    assert asked > 0

    # when someone replays the unsigned webhook many times
    for _ in range(20):
        assert (await client.post("/cdek", data=body)).status == 200

    # then CDEK is not asked again until the cooldown is over
    assert cdek.fake.total == asked
    services.clock.advance(timedelta(minutes=6))
    await client.post("/cdek", data=body)
    assert cdek.fake.total > asked


def cdek_journey(cdek, statuses: int) -> bytes:
    """The recorded parcel's journey cut to its first `statuses` steps (listed newest
    first, the last two CDEK's bookkeeping)."""
    body = json.loads(cdek.fake.recording("1106207236.json"))
    body["entity"]["statuses"] = body["entity"]["statuses"][-statuses:]
    return json.dumps(body).encode()


async def test_a_parcel_that_stops_moving_flags_the_order_once(services, cdek, vault):
    accounts, sweep = rig_parts(services, cdek, vault)
    _shop, order = await shipped(services, cdek, accounts, cdek.known)
    # registered, received at the warehouse, ready to ship: then nothing
    cdek.fake.answer_with(cdek.known, cdek_journey(cdek, 4))
    services.clock.advance(2 * HOUR)
    await sweep.run_once()

    # asked again and again: nothing new for 5 days (CDEK's default)
    for _ in range(60):
        row = await tracking_of(services, order.id)
        if row.stalled_at is not None:
            break
        services.clock.advance(row.due_at - services.clock.now())
        await sweep.run_once()
    assert row.stalled_at is not None
    assert row.stalled_at - row.moved_at >= timedelta(days=5)
    assert row.polls < 45  # asked less often as it stays still

    async def flag_and_notices():
        async with services.sessions() as session:
            flagged = await session.get(Order, order.id)
            told = list(
                await session.scalars(
                    select(OutboxMessage.payload).where(
                        OutboxMessage.order_id == order.id,
                        OutboxMessage.topic == "shop_reminder",
                    )
                )
            )
        return (flagged.problem, flagged.problem_reason), [t["message"] for t in told]

    assert await flag_and_notices() == ((True, "parcel_stalled"), ["carrier_stalled"])
    # still nothing the next time: told once
    row = await tracking_of(services, order.id)
    services.clock.advance(row.due_at - services.clock.now())
    await sweep.run_once()
    assert (await flag_and_notices())[1] == ["carrier_stalled"]

    # it moves again: the flag goes; the rest of the journey moves the order
    cdek.fake.answer_with(cdek.known, cdek.fake.recording("1106207236.json"))
    row = await tracking_of(services, order.id)
    services.clock.advance(row.due_at - services.clock.now())
    await sweep.run_once()
    assert (await flag_and_notices())[0] == (False, None)
    assert await status_of(services, order.id) == "received"


async def test_a_forgotten_buyers_parcels_are_forgotten_too(services, cdek, vault):
    from services.operations.erasure import ErasureScope, erase_parcels

    accounts, sweep = rig_parts(services, cdek, vault)
    shop, order = await shipped(services, cdek, accounts, cdek.known)
    services.clock.advance(2 * HOUR)
    await sweep.run_once()

    scope = ErasureScope(shop.id, (order.id,), (), (), (), (), services.clock.now())
    async with services.sessions() as session, session.begin():
        await erase_parcels(session, scope)

    async with services.sessions() as session:
        assert await session.scalar(select(ParcelTracking.id)) is None
        assert await session.scalar(select(ParcelCheckpoint.id)) is None
