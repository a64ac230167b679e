"""The outbox pump on a real database: who gets each notification, pacing, flood control,
retries, failures, and nothing lost or sent twice (across cancellation and two pumps).

Telegram is replaced by a fake sender: it is the boundary the pump talks to, not the code
under test. Time is a FrozenClock moved by the pump's own sleep: nothing sleeps for real.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from services.messaging.cards import CardRegistry
from services.messaging.notifications.outbox import Outbox
from services.messaging.notifications.pump import (
    MAX_ATTEMPTS,
    MAX_BACKOFF,
    OutboxPump,
    Outgoing,
    Permanent,
    RateLimits,
    RetryAfter,
    Sent,
    Transient,
    backoff,
)
from services.orders.actors import ActorRef, Channel
from services.orders.drafts import BuyerDraft, OrderDraft
from storage.models import Delivery, DialogMessage, DialogRelay, OutboxMessage, Shop
from tests.factories import bind_buyer, item, make_order, make_shop

GROUP_CHAT = -100_777


class FakeTelegram:
    """Records each delivery; answers Sent unless told otherwise for a chat."""

    def __init__(self):
        self.calls: list[Outgoing] = []
        self.answers: dict[int, list] = {}  # chat -> outcomes to give, in turn
        self.gates: dict[int, asyncio.Event] = {}  # chat -> a send that waits for the test
        self.started = asyncio.Event()  # some gated send is under way
        self._ids = Counter()

    async def deliver(self, delivery: Outgoing):
        self.calls.append(delivery)
        gate = self.gates.get(delivery.chat_id)
        if gate is not None:
            self.started.set()
            await gate.wait()
        script = self.answers.get(delivery.chat_id)
        if script:
            return script.pop(0)
        self._ids[delivery.chat_id] += 1
        return Sent(self._ids[delivery.chat_id])

    def chats(self, topic: str | None = None) -> list[int]:
        return [c.chat_id for c in self.calls if topic is None or c.topic == topic]


def moving(clock):
    """The pump's sleep: moves the FrozenClock instead of waiting."""
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        clock.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)

    sleep.slept = slept
    return sleep


@pytest.fixture
def telegram():
    return FakeTelegram()


@pytest.fixture
def pump(services, telegram):
    return OutboxPump(services.sessions, services.clock, telegram, sleep=moving(services.clock))


async def drain(pump, rounds: int = 50) -> int:
    total = 0
    for _ in range(rounds):
        done = await pump.run_once(100)
        if not done:
            return total
        total += done
    raise AssertionError("the pump never ran out of work")


async def bind_group(services, shop_id: int, chat_id: int = GROUP_CHAT) -> None:
    async with services.sessions() as session, session.begin():
        (await session.get(Shop, shop_id)).staff_chat_id = chat_id


async def deliveries(services, **where) -> list[Delivery]:
    async with services.sessions() as session:
        query = select(Delivery).order_by(Delivery.id)
        for column, value in where.items():
            query = query.where(getattr(Delivery, column) == value)
        return list(await session.scalars(query))


async def outbox(services, **where) -> list[OutboxMessage]:
    async with services.sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for column, value in where.items():
            query = query.where(getattr(OutboxMessage, column) == value)
        return list(await session.scalars(query))


async def orders_for_buyers(services, shop, count: int, first_chat: int = 700_000):
    """`count` orders, each for its own buyer with a Telegram chat: order_created to each."""
    made = []
    for index in range(count):
        draft = OrderDraft(
            buyer=BuyerDraft(
                name=f"Buyer {index}",
                phone=f"+7916{index:07d}",
                telegram_id=first_chat + index,
                language="ru",
            ),
            items=[item()],
            payment_method="card",
            delivery_method="post",
            delivery_address="Moscow",
        )
        made += await services.orders.create_orders(
            shop.id, draft, ActorRef.system(Channel.API), source="api"
        )
    return made


async def write_row(services, *, topic, order_id, shop_id, audience="buyer", payload=None):
    async with services.sessions() as session, session.begin():
        rows = Outbox(services.clock.now())
        rows.add(
            key=f"test:{topic}:{order_id}:{payload}",
            channel="telegram",
            audience=audience,
            topic=topic,
            shop_id=shop_id,
            order_id=order_id,
            payload=payload or {},
        )
        await rows.write(session)


# -- who gets what ---------------------------------------------------------------------------


async def test_a_new_order_pings_the_group_and_the_responsible_staff(services, pump, telegram):
    # given a shop with a bound staff group and an order from a buyer known by e-mail only
    shop = await make_shop(services)
    await bind_group(services, shop.id)
    order = await make_order(services, shop)
    # when the pump runs
    await drain(pump)
    # then the group and the manager (the initial status's role) got it, once each
    sent = sorted((c.chat_id, c.to, c.kind) for c in telegram.calls)
    assert sent == sorted(
        [(GROUP_CHAT, "group", "message"), (shop.manager.telegram_id, "staff", "message")]
    )
    assert {c.order_id for c in telegram.calls} == {order.id}
    # and the e-mail rows are the e-mail sender's: pending and untouched
    mails = await outbox(services, channel="email")
    assert mails and {(m.state, m.attempts, m.last_error) for m in mails} == {("pending", 0, None)}
    (telegram_row,) = await outbox(services, channel="telegram")
    assert telegram_row.state == "expanded"
    assert {d.state for d in await deliveries(services)} == {"sent"}


async def test_with_no_group_and_no_one_in_the_role_the_owner_is_told(services, pump, telegram):
    # given a shop of its owner alone
    created = await services.shops.create_shop(
        name="Solo", owner_telegram_id=4242, preset="marketplace"
    )
    await services.orders.create_orders(
        created.shop.id,
        OrderDraft(
            buyer=BuyerDraft(name="B", phone="+79160000001"),
            items=[item()],
            payment_method="card",
            delivery_method="post",
        ),
        ActorRef.system(Channel.API),
    )
    await drain(pump)
    assert [(c.chat_id, c.topic) for c in telegram.calls] == [(4242, "new_order")]


async def test_a_status_change_tells_the_next_role_the_buyer_and_redraws_every_card(
    services, pump, telegram
):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await bind_buyer(services, order, shop.buyer_user)
    cards = CardRegistry(services.sessions, services.clock)
    await cards.remember(order.id, shop.manager.id, shop.manager.telegram_id, 10)
    await cards.remember(order.id, shop.owner.id, shop.owner.telegram_id, 20)
    await drain(pump)
    telegram.calls.clear()
    # when the manager confirms (-> awaiting payment, the accountant's)
    await services.orders.apply(order.id, shop.as_user(shop.manager), "confirm")
    await drain(pump)
    by_topic = {(c.topic, c.chat_id, c.kind, c.target_message_id) for c in telegram.calls}
    assert by_topic == {
        ("order_assigned", shop.accountant.telegram_id, "message", 0),
        ("status_changed", shop.buyer_user.telegram_id, "message", 0),
        ("refresh_cards", shop.manager.telegram_id, "edit_card", 10),
        ("refresh_cards", shop.owner.telegram_id, "edit_card", 20),
    }
    (assigned,) = [c for c in telegram.calls if c.topic == "order_assigned"]
    assert assigned.data["role"] == "accountant" and assigned.user_id == shop.accountant.id
    (card,) = [c for c in telegram.calls if c.target_message_id == 10]
    assert (card.to, card.user_id) == ("card", shop.manager.id)


async def test_a_buyer_without_telegram_gets_nothing_and_the_row_is_done(services, pump, telegram):
    shop = await make_shop(services)
    order = await make_order(services, shop)  # the buyer is known by e-mail only
    await drain(pump)
    telegram.calls.clear()
    await write_row(
        services, topic="status_changed", order_id=order.id, shop_id=shop.id, payload={"s": 1}
    )
    await drain(pump)
    assert telegram.calls == []
    (row,) = await outbox(services, topic="status_changed")
    assert row.state == "done"


async def test_dialog_messages_go_to_the_group_or_the_responsible_staff_and_are_relayed(
    services, pump, telegram
):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await bind_buyer(services, order, shop.buyer_user)
    await drain(pump)
    telegram.calls.clear()

    async def dialog(direction, attachments=()):
        async with services.sessions() as session, session.begin():
            message = DialogMessage(
                order_id=order.id,
                direction=direction,
                channel="telegram",
                text="Where is my parcel?",
                attachments=list(attachments),
                telegram_chat_id=shop.buyer_user.telegram_id,
                telegram_message_id=5,
                created_at=services.clock.now(),
            )
            session.add(message)
            await session.flush()
            rows = Outbox(services.clock.now())
            rows.add(
                key=f"dialog:{message.id}:telegram",
                channel="telegram",
                audience="shop",
                topic=f"dialog_{direction}",
                shop_id=shop.id,
                order_id=order.id,
                payload={"dialog_message_id": message.id},
            )
            await rows.write(session)
            return message.id

    # no group bound: the owner (issue 14: a buyer is always heard) and the staff working
    # the order now (the manager) get the buyer's text
    first = await dialog("to_shop")
    # with a group bound: the group, and a photo is copied
    await drain(pump)
    await bind_group(services, shop.id)
    photo = await dialog("to_shop", [{"kind": "photo", "file_id": "F1", "name": None}])
    answer = await dialog("to_buyer")
    await drain(pump)
    assert [(c.topic, c.chat_id, c.kind) for c in telegram.calls] == [
        ("dialog_to_shop", shop.owner.telegram_id, "message"),
        ("dialog_to_shop", shop.manager.telegram_id, "message"),
        ("dialog_to_shop", GROUP_CHAT, "copy"),
        ("dialog_to_buyer", shop.buyer_user.telegram_id, "message"),
    ]
    # and each relayed copy is recorded where it sits, so a reply to it finds the order
    async with services.sessions() as session:
        relays = list(await session.scalars(select(DialogRelay).order_by(DialogRelay.id)))
    assert sorted((r.dialog_message_id, r.chat_id, r.order_id) for r in relays) == sorted(
        [
            (first, shop.owner.telegram_id, order.id),
            (first, shop.manager.telegram_id, order.id),
            (photo, GROUP_CHAT, order.id),
            (answer, shop.buyer_user.telegram_id, order.id),
        ]
    )


async def test_expanding_twice_makes_no_second_delivery(services, pump, telegram):
    shop = await make_shop(services)
    await bind_group(services, shop.id)
    await make_order(services, shop)
    assert await pump.expand() == 1
    before = [(d.outbox_id, d.chat_id) for d in await deliveries(services)]
    # when the same row is expanded again (a pump died before marking it, say)
    async with services.sessions() as session, session.begin():
        await session.execute(update(OutboxMessage).values(state="pending"))
    assert await pump.expand() == 1
    # then the deliveries are the same ones, and each chat is told once
    assert [(d.outbox_id, d.chat_id) for d in await deliveries(services)] == before
    await drain(pump)
    assert sorted(telegram.chats()) == sorted(c for _, c in before)


# -- flood control, failures, retries ---------------------------------------------------------


async def test_retry_after_pauses_the_chat_and_sends_when_it_passes(services, pump, telegram):
    shop = await make_shop(services)
    orders = await orders_for_buyers(services, shop, 3)
    paused_chat = orders[0].buyer.telegram_id
    telegram.answers[paused_chat] = [RetryAfter(7)]
    before = services.clock.now()
    # when Telegram answers 429 for one chat
    await pump.run_once(100)
    (waiting,) = await deliveries(services, chat_id=paused_chat)
    # then it waits exactly retry_after, not counted as a failure, while the others went
    assert waiting.state == "pending" and waiting.attempts == 0
    answered = waiting.next_attempt_at - timedelta(seconds=7)
    assert before <= answered <= services.clock.now()
    assert sorted(telegram.chats("order_created")) == sorted(o.buyer.telegram_id for o in orders)
    # and nothing goes to that chat until it is due
    await write_row(
        services, topic="order_changed", order_id=orders[0].id, shop_id=shop.id, payload={"a": 1}
    )
    await pump.run_once(100)
    assert telegram.chats().count(paused_chat) == 1
    services.clock.set(waiting.next_attempt_at)
    await drain(pump)
    to_paused = [c.topic for c in telegram.calls if c.chat_id == paused_chat]
    assert sorted(to_paused) == ["order_changed", "order_created", "order_created"]
    assert {d.state for d in await deliveries(services, chat_id=paused_chat)} == {"sent"}


async def test_a_global_flood_pauses_every_chat(services, pump, telegram):
    shop = await make_shop(services)
    orders = await orders_for_buyers(services, shop, 2)
    await pump.expand()
    # given the first message (to the manager) comes back "everyone waits 30 s"
    telegram.answers[shop.manager.telegram_id] = [RetryAfter(30, everywhere=True)]
    await pump.run_once(1)
    assert len(telegram.calls) == 1
    # then nothing at all goes for 30 s
    await pump.run_once(100)
    services.clock.advance(timedelta(seconds=29))
    await pump.run_once(100)
    assert len(telegram.calls) == 1
    services.clock.advance(timedelta(seconds=1))
    await drain(pump)
    assert set(telegram.chats()) == {shop.manager.telegram_id} | {
        o.buyer.telegram_id for o in orders
    }
    assert {d.state for d in await deliveries(services)} == {"sent"}


async def test_transient_errors_back_off_and_fail_after_ten_attempts(services, pump, telegram):
    shop = await make_shop(services)
    (order,) = await orders_for_buyers(services, shop, 1)
    chat = order.buyer.telegram_id
    telegram.answers[chat] = [Transient("network down")] * MAX_ATTEMPTS
    waits = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        await pump.run_once(100)
        (delivery,) = await deliveries(services, chat_id=chat)
        assert delivery.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert delivery.state == "pending"
            waits.append((delivery.next_attempt_at - services.clock.now()).total_seconds())
            services.clock.set(delivery.next_attempt_at)
    # then 1, 2, 4, ... seconds apart, at most five minutes, and failed after the tenth
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert backoff(12) == 300
    assert (delivery.state, delivery.last_error) == ("failed", "network down")
    services.clock.advance(timedelta(hours=1))
    await drain(pump)
    assert telegram.chats().count(chat) == MAX_ATTEMPTS


async def test_a_permanent_failure_is_never_retried(services, pump, telegram):
    shop = await make_shop(services)
    (order,) = await orders_for_buyers(services, shop, 1)
    chat = order.buyer.telegram_id
    telegram.answers[chat] = [Permanent("Forbidden: bot was blocked by the user")]
    await drain(pump)
    (delivery,) = await deliveries(services, chat_id=chat)
    assert (delivery.state, delivery.attempts) == ("failed", 0)
    assert delivery.last_error == "Forbidden: bot was blocked by the user"
    services.clock.advance(timedelta(days=1))
    await drain(pump)
    assert telegram.chats().count(chat) == 1


async def test_running_again_sends_nothing_twice(services, pump, telegram):
    shop = await make_shop(services)
    await bind_group(services, shop.id)
    await orders_for_buyers(services, shop, 5)
    await drain(pump)
    first = Counter(c.id for c in telegram.calls)
    services.clock.advance(timedelta(hours=1))
    for _ in range(3):
        await pump.run_once(100)
    assert Counter(c.id for c in telegram.calls) == first
    assert set(first.values()) == {1}
    assert {d.state for d in await deliveries(services)} == {"sent"}


# -- pacing ----------------------------------------------------------------------------------


async def test_sends_are_paced_below_telegrams_limits(services, telegram):
    # given 40 orders: a buyer each, and a new-order ping for each to the one group
    shop = await make_shop(services)
    await bind_group(services, shop.id)
    await orders_for_buyers(services, shop, 40)
    pump = OutboxPump(services.sessions, services.clock, telegram, sleep=moving(services.clock))
    start = services.clock.now()
    await drain(pump, rounds=200)
    # then everyone got theirs: the group 15 at once, then 20 a minute (75 s for the other 25)
    assert len(telegram.chats("order_created")) == 40
    assert telegram.chats().count(GROUP_CHAT) == 40
    assert telegram.chats().count(shop.manager.telegram_id) == 40
    assert (services.clock.now() - start).total_seconds() >= 25 * 3 - 0.01


async def test_a_burst_is_spread_over_time_per_chat_and_in_all(services, telegram):
    limits = RateLimits(per_second=30, burst=20, private_per_second=1, private_burst=1)
    clock = services.clock
    sent_at: list[tuple[int, float]] = []

    class Timed(FakeTelegram):
        async def deliver(self, delivery):
            sent_at.append((delivery.chat_id, clock.now().timestamp()))
            return await super().deliver(delivery)

    timed = Timed()
    pump = OutboxPump(services.sessions, clock, timed, sleep=moving(clock), limits=limits)
    shop = await make_shop(services)
    orders = await orders_for_buyers(services, shop, 50)
    # three more messages to the first buyer
    for n in range(3):
        await write_row(
            services, topic="order_changed", order_id=orders[0].id, shop_id=shop.id, payload={n: n}
        )
    await drain(pump, rounds=200)
    times = sorted(t for _, t in sent_at)
    # in all: any stretch of w seconds holds at most the burst and 30 a second
    for window in (0.5, 1, 2):
        for index, t in enumerate(times):
            assert sum(1 for u in times[index:] if u < t + window) <= 20 + 30 * window
    # per private chat: at least a second between two messages
    first = sorted(t for chat, t in sent_at if chat == orders[0].buyer.telegram_id)
    assert len(first) == 4
    assert all(b - a >= 1 - 1e-6 for a, b in itertools.pairwise(first))


# -- stopping and concurrency -------------------------------------------------------------------


async def test_stopping_mid_batch_loses_nothing_and_sends_nothing_twice(services, telegram):
    shop = await make_shop(services)
    orders = await orders_for_buyers(services, shop, 12)
    chats = [o.buyer.telegram_id for o in orders]
    pump = OutboxPump(
        services.sessions, services.clock, telegram, sleep=moving(services.clock), in_flight=2
    )
    # given a send that is under way when the pump is stopped
    held = chats[5]
    telegram.gates[held] = asyncio.Event()
    running = asyncio.create_task(pump.run_once(100))
    await asyncio.wait_for(telegram.started.wait(), 5)
    # when the pump is cancelled in the middle of its batch
    running.cancel()
    await asyncio.sleep(0.05)
    telegram.gates[held].set()  # Telegram answers the send that was under way
    with pytest.raises(asyncio.CancelledError):
        await running
    # then that message is recorded as sent, and what was not sent is due again at once
    (record,) = await deliveries(services, chat_id=held)
    assert record.state == "sent"
    unsent = [d for d in await deliveries(services) if d.state == "pending"]
    assert unsent and all(d.next_attempt_at <= services.clock.now() for d in unsent)
    # and a new pump sends the rest: every chat got exactly one message
    telegram.gates.clear()
    again = OutboxPump(services.sessions, services.clock, telegram, sleep=moving(services.clock))
    await drain(again)
    assert Counter(telegram.chats("order_created")) == Counter(chats)
    assert {d.state for d in await deliveries(services)} == {"sent"}


async def test_stopping_run_lets_the_pass_finish(services, telegram, pump):
    shop = await make_shop(services)
    await orders_for_buyers(services, shop, 3)
    stop = asyncio.Event()
    task = asyncio.create_task(pump.run(stop))
    for _ in range(200):
        await asyncio.sleep(0.01)
        if len(telegram.chats("order_created")) == 3:
            break
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len(telegram.chats("order_created")) == 3


async def test_two_pumps_never_send_one_delivery_twice(services, backend):
    # given 60 deliveries to 60 chats and two pumps on one database (SKIP LOCKED on PostgreSQL)
    shop = await make_shop(services)
    await orders_for_buyers(services, shop, 30)
    order = (await orders_for_buyers(services, shop, 1, first_chat=800_000))[0]
    cards = CardRegistry(services.sessions, services.clock)
    for n in range(30):
        await cards.remember(order.id, shop.owner.id, 900_000 + n, 1)
    await write_row(
        services, topic="refresh_cards", order_id=order.id, shop_id=shop.id, audience="cards"
    )

    class Slow(FakeTelegram):
        async def deliver(self, delivery):
            await asyncio.sleep(0.002)  # a network round trip: the pumps interleave
            return await super().deliver(delivery)

    telegram = Slow()
    pumps = [
        OutboxPump(
            services.sessions,
            services.clock,
            telegram,
            sleep=moving(services.clock),
            limits=RateLimits.off(),
            in_flight=4,
        )
        for _ in range(2)
    ]

    async def work(pump):
        for _ in range(100):
            if not await pump.run_once(7):
                return

    # when both run at once
    await asyncio.gather(*(work(p) for p in pumps))
    await asyncio.gather(*(work(p) for p in pumps))
    # then every delivery was sent exactly once
    sent = Counter(c.id for c in telegram.calls)
    assert set(sent.values()) == {1}
    states = Counter(d.state for d in await deliveries(services))
    assert states == {"sent": len(sent)}
    assert len(sent) >= 61


# -- one chat's messages in order ---------------------------------------------------------------


async def two_news_for_the_buyer(services, pump) -> tuple[int, int]:
    """An order whose first messages are sent, then two news for its buyer, in order;
    returns the buyer's chat and the shop."""
    shop = await make_shop(services)
    (order,) = await orders_for_buyers(services, shop, 1)
    await drain(pump)
    for n in (1, 2):
        await write_row(
            services, topic="order_changed", order_id=order.id, shop_id=shop.id, payload={"n": n}
        )
    return order.buyer.telegram_id, shop.id


def news(telegram, chat) -> list[int]:
    return [
        c.data.get("n") for c in telegram.calls if c.chat_id == chat and c.topic != "order_created"
    ]


async def test_a_chats_next_message_waits_while_the_first_is_sent_by_another_pump(services):
    # given two pumps (two instances) and two news for one buyer
    first_telegram, second_telegram = FakeTelegram(), FakeTelegram()
    first, second = (
        OutboxPump(services.sessions, services.clock, t, sleep=moving(services.clock))
        for t in (first_telegram, second_telegram)
    )
    chat, _ = await two_news_for_the_buyer(services, first)
    first_telegram.calls.clear()
    # when the first pump is in the middle of sending the first news (slow network)
    first_telegram.gates[chat] = asyncio.Event()
    sending = asyncio.create_task(first.run_once(100))
    await asyncio.wait_for(first_telegram.started.wait(), 5)
    # then the other pump sends nothing to that chat, however often it looks
    for _ in range(3):
        await second.run_once(100)
        services.clock.advance(timedelta(seconds=5))
    assert news(second_telegram, chat) == []
    # and once the first news is sent, the second follows it
    first_telegram.gates[chat].set()
    await sending
    await drain(second)
    assert news(first_telegram, chat) == [1] and news(second_telegram, chat) == [2]


async def test_a_chats_next_message_waits_out_the_first_ones_retry(services, pump, telegram):
    chat, _ = await two_news_for_the_buyer(services, pump)
    telegram.calls.clear()
    # given the first news meets a network error (tried again in a second)
    telegram.answers[chat] = [Transient("network down")]
    await pump.run_once(100)
    await pump.run_once(100)  # the second news is due, but its chat waits for the first
    assert news(telegram, chat) == [1]
    # when the retry is due, they go in order
    services.clock.advance(timedelta(seconds=1))
    await drain(pump)
    assert news(telegram, chat) == [1, 1, 2]


async def test_a_message_that_failed_for_good_stops_blocking_its_chat(services, pump, telegram):
    chat, _ = await two_news_for_the_buyer(services, pump)
    telegram.calls.clear()
    telegram.answers[chat] = [Transient("network down")] * MAX_ATTEMPTS
    for _ in range(MAX_ATTEMPTS):
        await pump.run_once(100)
        services.clock.advance(timedelta(seconds=MAX_BACKOFF))
    # the first failed after its last attempt; the second is sent after it, not before
    await drain(pump)
    assert news(telegram, chat) == [1] * MAX_ATTEMPTS + [2]
    states = [d.state for d in await deliveries(services, chat_id=chat)]
    assert states[-2:] == ["failed", "sent"]
