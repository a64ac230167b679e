"""Personal data (152-FZ, GDPR): after `forget`, no table holds the buyer's name, phone,
e-mail or address anywhere (every text, JSON and binary column of every table is scanned),
while the orders' money and history stay; another buyer of the shop is untouched; closed
orders past the shop's retention period are erased by the daily job, open ones never."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import JSON, LargeBinary, String, Text, insert, select, update

from services.buyers.service import BuyerService
from services.messaging.dialog import DialogService
from services.operations.personal_data import PersonalData
from services.orders.actors import ActorRef, Channel
from services.refusals import Reason, Refused
from storage.models import (
    Base,
    Buyer,
    Delivery,
    LedgerEntry,
    Order,
    OrderEvent,
    OutboxMessage,
    ReturnRequest,
    Review,
    Shop,
    User,
)
from tests.factories import bind_buyer, draft, item, make_shop

CANCEL = {"reason": "other", "comment": "out of stock"}
IVAN = ("Ivan Petrov", "+79161234567", "ivan.petrov@example.com", "Tverskaya 7, flat 12")
ANNA = ("Anna Smirnova", "+79031112233", "anna@example.com", "Nevsky 100")


def needles(person) -> list[str]:
    name, phone, email, address = person
    return [name, name.split()[1], phone, phone.lstrip("+"), phone[2:], email, address]


async def scan(sessions, person) -> list[str]:
    """Every place any of the person's data is found: table.column = value."""
    found = []
    wanted = [n.lower() for n in needles(person)]
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            columns = [
                c for c in table.columns if isinstance(c.type, String | Text | JSON | LargeBinary)
            ]
            if not columns:
                continue
            for row in await session.execute(select(*columns)):
                for column, value in zip(columns, row, strict=True):
                    if value is None:
                        continue
                    if isinstance(value, bytes):
                        text = value.decode("utf-8", "replace")
                    elif isinstance(value, str):
                        text = value
                    else:
                        text = json.dumps(value, ensure_ascii=False)
                    if any(n in text.lower() for n in wanted):
                        found.append(f"{table.name}.{column.name} = {text[:80]!r}")
    return found


async def place(services, shop, person, *, external_id: str, items=None):
    """The person's order from the storefront; two orders when `items` mix availabilities."""
    name, phone, email, address = person
    order = draft(
        *(items or ()), phone=phone, email=email, external_id=external_id, comment=f"for {name}"
    )
    order = replace(
        order, buyer=replace(order.buyer, name=name), delivery_address=f"Moscow, {address}"
    )
    created = await services.orders.create_orders(
        shop.id, order, ActorRef.system(Channel.API), source="api"
    )
    return created if items else created[0]


@pytest.fixture
def personal(services) -> PersonalData:
    return PersonalData(services.sessions, services.clock, services.workflows)


async def a_buyer_everywhere(services, shop):
    """Ivan's data in every place the bot keeps it: the buyer, the order and its edits, the
    dialog (Telegram and e-mail with a file), comments, notifications and their delivery
    log, a review and a return, his Telegram profile."""
    order = await place(services, shop, IVAN, external_id="ivan-1")
    second = await place(services, shop, IVAN, external_id="ivan-2")
    manager = shop.as_user(shop.manager)
    await bind_buyer(services, order, shop.buyer_user)
    async with services.sessions() as session, session.begin():
        await session.execute(
            update(User)
            .where(User.id == shop.buyer_user.id)
            .values(name=IVAN[0], username="ivan_petrov")
        )
    # he proved his phone in Telegram (share contact): it is kept on his profile
    await BuyerService(services.sessions, services.clock, services.workflows).share_contact(
        shop.buyer_user.id,
        phone=IVAN[1],
        contact_user_id=shop.buyer_user.telegram_id,
        sender_telegram_id=shop.buyer_user.telegram_id,
    )
    buyer = shop.as_user(shop.buyer_user)
    dialog = DialogService(services.sessions, services.clock)
    await dialog.from_buyer(order.id, buyer, text=f"It's {IVAN[0]}, call {IVAN[1]} please")
    await dialog.from_email_to_orders(
        [order.id],
        sender=IVAN[2],
        text=f"My new address: {IVAN[3]}",
        files=[("petrov-passport.pdf", "application/pdf", f"%PDF {IVAN[0]}".encode())],
    )
    await services.orders.add_comment(order.id, manager, f"{IVAN[0]} prefers mornings")
    await services.orders.change_delivery(order.id, manager, method="courier", address=IVAN[3])
    await services.orders.apply(order.id, manager, "confirm")
    await services.orders.apply(
        second.id, manager, "cancel", {"reason": "other", "comment": f"{IVAN[0]} called"}
    )
    now = services.clock.now()
    async with services.sessions() as session, session.begin():
        outbox = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.order_id == order.id).limit(1)
        )
        outbox.payload = {**outbox.payload, "error": f"550 {IVAN[2]}: no such user"}
        await session.execute(
            insert(Delivery).values(
                outbox_id=outbox.id,
                chat_id=shop.buyer_user.telegram_id,
                kind="message",
                target_message_id=0,
                user_id=shop.buyer_user.id,
                payload={"topic": "dialog_to_buyer", "data": {"text": f"Hi {IVAN[0]}"}},
                state="failed",
                attempts=1,
                next_attempt_at=now,
                last_error=f"Forbidden: {IVAN[0]} blocked the bot",
                created_at=now,
            )
        )
        session.add(
            Review(
                order_id=order.id,
                shop_id=shop.id,
                stars=4,
                text=f"Fine. {IVAN[0]}",
                answer=f"Thank you, {IVAN[0]}!",
                created_at=now,
            )
        )
        session.add(
            ReturnRequest(
                order_id=order.id,
                shop_id=shop.id,
                status="rejected",
                reason=f"Write to {IVAN[2]}",
                reject_reason=f"{IVAN[0]} sent it late",
                amount=5000,
                created_at=now,
                answer_due_at=now,
            )
        )
    return order, second


async def test_forgetting_leaves_no_trace_of_the_buyer_and_keeps_the_money(services, personal):
    # given Ivan everywhere, and Anna, another buyer of the shop
    shop = await make_shop(services)
    order, second = await a_buyer_everywhere(services, shop)
    anna = await place(services, shop, ANNA, external_id="anna-1")
    assert len(await scan(services.sessions, IVAN)) > 15  # the scan sees him before
    async with services.sessions() as session:
        before = {
            o.id: (o.status, o.total, o.items_total, o.delivery_cost, o.number)
            for o in await session.scalars(select(Order))
        }
        actions = list(await session.scalars(select(OrderEvent.action).order_by(OrderEvent.id)))
        ledger = list(await session.scalars(select(LedgerEntry.amount).order_by(LedgerEntry.id)))

    # when the operator forgets him by his phone as people write it
    report = await personal.forget(shop.id, phone="8 (916) 123-45-67", force=True)

    # then nothing of his is left in any table
    assert report.erased and report.orders == (order.number, second.number)
    assert await scan(services.sessions, IVAN) == []
    # and the money and the history stay: amounts, statuses, numbers, events, ledger
    async with services.sessions() as session:
        after = {
            o.id: (o.status, o.total, o.items_total, o.delivery_cost, o.number)
            for o in await session.scalars(select(Order))
        }
        now_actions = list(await session.scalars(select(OrderEvent.action).order_by(OrderEvent.id)))
        now_ledger = list(
            await session.scalars(select(LedgerEntry.amount).order_by(LedgerEntry.id))
        )
        buyer = await session.get(Buyer, order.buyer_id)
        stars = await session.scalar(select(Review.stars))
        returned = await session.scalar(select(ReturnRequest.amount))
        pending_to_him = await session.scalar(
            select(OutboxMessage.id).where(
                OutboxMessage.order_id == order.id,
                OutboxMessage.audience == "buyer",
                OutboxMessage.state == "pending",
            )
        )
    assert after == before
    assert now_actions == [*actions, "personal_data_erased", "personal_data_erased"]
    assert now_ledger == ledger
    assert (stars, returned) == (4, 5000)
    assert buyer.erased_at is not None and buyer.telegram_id is None and buyer.user_id is None
    assert pending_to_him is None  # nothing more is sent to him
    # and Anna is untouched
    assert len(await scan(services.sessions, ANNA)) >= 4
    async with services.sessions() as session:
        kept = await session.get(Order, anna.id)
        assert ANNA[3] in kept.delivery_address and kept.personal_data_erased_at is None
    # and his old links open nothing: the order's token changed
    assert await services.orders.find(shop.id, order.number, ActorRef.system()) == order.id


async def test_open_orders_are_refused_unless_forced_and_a_dry_run_changes_nothing(
    services, personal
):
    shop = await make_shop(services)
    order = await place(services, shop, IVAN, external_id="open")
    dry = await personal.forget(shop.id, email="IVAN.PETROV@example.com", dry_run=True)
    assert (dry.erased, dry.orders, dry.open_orders) == (False, (order.number,), (order.number,))
    refused = await personal.forget(shop.id, email=IVAN[2])
    assert not refused.erased
    assert len(await scan(services.sessions, IVAN)) > 3  # nothing erased
    assert (await personal.forget(shop.id, buyer_id=order.buyer_id, force=True)).erased
    assert await scan(services.sessions, IVAN) == []


async def test_unknown_buyers_and_bad_requests_are_refused(services, personal):
    shop = await make_shop(services)
    await place(services, shop, IVAN, external_id="x")
    other = await make_shop(services)
    with pytest.raises(Refused) as missing:
        await personal.forget(other.id, phone=IVAN[1])  # another shop's buyer
    assert missing.value.code is Reason.NOT_FOUND
    with pytest.raises(Refused) as two:
        await personal.forget(shop.id, phone=IVAN[1], email=IVAN[2])
    assert two.value.code is Reason.INVALID
    with pytest.raises(Refused) as bad_phone:
        await personal.forget(shop.id, phone="not a phone")
    assert bad_phone.value.code is Reason.INVALID
    with pytest.raises(Refused):
        await personal.forget(shop.id + 999, phone=IVAN[1])


async def test_closed_orders_past_retention_are_erased_open_and_recent_ones_kept(
    services, personal
):
    # given a shop keeping data 90 days after closing
    shop = await make_shop(services, personal_data_retention_days=90)
    manager = shop.as_user(shop.manager)
    old_closed = await place(services, shop, IVAN, external_id="old-closed")
    await services.orders.apply(old_closed.id, manager, "cancel", CANCEL)
    old_open = await place(services, shop, ANNA, external_id="old-open")
    services.clock.advance(timedelta(days=80))
    recent = await place(
        services,
        shop,
        ("Oleg Sidorov", "+79265554433", "oleg@example.com", "Arbat 5"),
        external_id="recent",
    )
    await services.orders.apply(recent.id, manager, "cancel", CANCEL)

    # when the daily job runs 91 days after the first closed
    services.clock.advance(timedelta(days=11))
    erased = await personal.erase_expired()

    # then only the old closed order (and its buyer, who has no other order) lost its data
    assert erased == 1
    assert await scan(services.sessions, IVAN) == []
    assert len(await scan(services.sessions, ANNA)) >= 4  # still open: never erased
    async with services.sessions() as session:
        assert (await session.get(Order, recent.id)).personal_data_erased_at is None
        assert (await session.get(Order, old_open.id)).personal_data_erased_at is None
    # and running it again finds nothing new
    assert await personal.erase_expired() == 0


async def test_a_buyer_with_an_order_still_kept_keeps_their_record(services, personal):
    shop = await make_shop(services, personal_data_retention_days=90)
    manager = shop.as_user(shop.manager)
    # (contacts never merge buyers across orders; the two halves of one split order share one)
    first, second = await place(
        services,
        shop,
        IVAN,
        external_id="split",
        items=(item("IN-1"), item("MADE-1", availability="made_to_order")),
    )
    assert second.buyer_id == first.buyer_id
    await services.orders.apply(first.id, manager, "cancel", CANCEL)
    services.clock.advance(timedelta(days=100))

    assert await personal.erase_expired() == 1

    async with services.sessions() as session:
        buyer = await session.get(Buyer, first.buyer_id)
        erased_order = await session.get(Order, first.id)
    assert buyer.phone == IVAN[1] and buyer.erased_at is None  # the open order needs him
    assert erased_order.delivery_address == "" and erased_order.personal_data_erased_at


async def test_a_shop_that_keeps_data_until_asked_is_never_swept(services, personal):
    shop = await make_shop(services, personal_data_retention_days=0)
    order = await place(services, shop, IVAN, external_id="kept")
    await services.orders.apply(order.id, shop.as_user(shop.manager), "cancel", CANCEL)
    services.clock.advance(timedelta(days=5000))
    assert await personal.erase_expired() == 0
    async with services.sessions() as session:
        assert (await session.get(Shop, shop.id)).settings["personal_data_retention_days"] == 0


def test_scrubbing_keeps_codes_and_moments_and_drops_free_text():
    from services.operations.erasure import scrub

    data = {
        "effects": ["reserve_income"],
        "inputs": {"reason": "other", "comment": "ivan asked", "carrier": "cdek"},
        "after": {"method": "courier", "address": "Tverskaya 7", "cost": 35000},
        "excellent_at": "2026-11-24T10:00:00+00:00",
        "note": "petrov_delivery",  # looks like a code, but holds a known value
        "phone": "79161234567",
        "automatic": True,
    }
    assert scrub(data, ("Petrov",)) == {
        "effects": ["reserve_income"],
        "inputs": {"reason": "other", "comment": None, "carrier": "cdek"},
        "after": {"method": "courier", "address": None, "cost": 35000},
        "excellent_at": "2026-11-24T10:00:00+00:00",
        "note": None,
        "phone": None,
        "automatic": True,
    }
