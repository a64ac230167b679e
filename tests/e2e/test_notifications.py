"""Notifications end to end: the outbox pump sending through the bot to the emulator.

New-order pings to the staff group and the responsible manager, every open card of an order
redrawn on a change, the buyer told, a blocked buyer, a 429 storm, and the pump killed in the
middle of 300 messages with Telegram's flood limits on: each chat gets exactly one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import timedelta

from sqlalchemy import delete, select

from bot.pumps import build_pump
from bot.sandbox.limits import FloodLimits
from bot.telegram import build_bot
from services.orders.actors import ActorRef, Channel
from services.orders.drafts import BuyerDraft, OrderDraft
from services.time.clock import FrozenClock
from storage.models import Delivery, OutboxMessage
from tests.conftest import START
from tests.e2e.chats import bot_texts, open_card
from tests.e2e.conftest import BOT_TOKEN, moving_sleep, telegram_world
from tests.e2e.shops import ShopRecipe, bound_buyer, db_user, open_shop, place_order, ref
from tests.factories import item

CONFIRM = "Подтвердить и выставить счёт"


SHOP = ShopRecipe(staff=("manager", "packer"), speaks="ru", group=True)


async def deliveries(tg) -> list[Delivery]:
    async with tg.container.sessions() as session:
        return list(await session.scalars(select(Delivery).order_by(Delivery.id)))


async def test_a_new_order_pings_the_staff_group_and_the_manager(tg):
    shop_id, owner, manager, packer, group = await open_shop(tg, SHOP)
    # when an order comes in from the storefront
    order = await place_order(tg, shop_id)
    await tg.deliver()
    # then the group and the manager (the first status is theirs) get a ping, once each
    ping = f"🆕 Новый заказ #{order.number} · 3\xa0300,00\xa0₽"
    assert bot_texts(tg, group).count(ping) == 1
    assert bot_texts(tg, manager).count(ping) == 1
    assert ping not in bot_texts(tg, packer) and ping not in bot_texts(tg, owner)
    # and its button opens the order's card right there, for whoever taps it
    await tg.tap_offered(manager, "📂 Открыть заказ", chat=group)
    card = tg.last(group)
    assert card.text.startswith(f"Заказ #{order.number} · Cats & Dogs")
    assert CONFIRM in [label for row in tg.emulator.buttons(card) for label in row]


async def test_a_status_change_redraws_every_open_card_and_tells_the_buyer(tg):
    shop_id, owner, manager, _packer = await open_shop(tg, SHOP, group=False)
    order = await place_order(tg, shop_id)
    ivan = await bound_buyer(tg, order)
    # given the manager and the owner both have the order's card open
    manager_card = await open_card(tg, manager, order.number)
    owner_card = await open_card(tg, owner, order.number)
    assert "Ожидает подтверждения" in owner_card.text
    await tg.deliver()
    # when the manager confirms on their card
    await tg.tap(manager, manager_card, text=CONFIRM)
    await tg.deliver()
    # then the owner's card, drawn for the owner, shows the new status in place
    assert owner_card.edit_date is not None
    assert "Ожидает оплаты" in owner_card.text
    assert CONFIRM not in [label for row in tg.emulator.buttons(owner_card) for label in row]
    assert "Ожидает оплаты" in manager_card.text
    # and the buyer is told, in their chat
    assert f"Заказ #{order.number} в магазине «Cats & Dogs»: Ожидает оплаты" in bot_texts(tg, ivan)
    assert {d.state for d in await deliveries(tg)} == {"sent"}


async def test_the_buyer_gets_the_track_code_when_shipped(tg):
    shop_id, _owner, manager, packer = await open_shop(tg, SHOP, group=False)
    order = await place_order(tg, shop_id)
    ivan = await bound_buyer(tg, order)
    staff = await ref(tg, manager)
    for action in ("confirm", "mark_paid"):
        await tg.container.orders.apply(order.id, staff, action)
    packer_ref = await ref(tg, packer)
    await tg.container.orders.apply(
        order.id, packer_ref, "ship", {"carrier": "СДЭК", "track_code": "1234567890"}
    )
    await tg.deliver()
    shipped = next(t for t in bot_texts(tg, ivan) if "Отправлен" in t)
    # with the carrier's own tracking page (issue 18)
    assert shipped.endswith("Трек-код: 1234567890 (СДЭК)\nОтследить посылку")


async def test_a_blocked_buyer_fails_once_and_is_not_retried(tg):
    shop_id, _owner, manager, _packer = await open_shop(tg, SHOP, group=False)
    order = await place_order(tg, shop_id)
    ivan = await bound_buyer(tg, order)
    await tg.deliver()
    tg.emulator.block(ivan)
    await tg.settle()
    before = len(bot_texts(tg, ivan))
    # when the order changes while the buyer has blocked the bot
    staff = await ref(tg, manager)
    await tg.container.orders.apply(order.id, staff, "confirm")
    await tg.deliver()
    # then their delivery failed with Telegram's reason, and nothing tries it again
    [failed] = [d for d in await deliveries(tg) if d.chat_id == ivan.id and d.state != "sent"]
    assert failed.state == "failed" and "blocked" in failed.last_error
    tg.container.clock.advance(timedelta(hours=2))
    await tg.deliver()
    [again] = [d for d in await deliveries(tg) if d.id == failed.id]
    assert (again.state, again.attempts) == ("failed", 0)
    assert len(bot_texts(tg, ivan)) == before


async def test_a_429_storm_is_waited_out_and_everything_arrives_once(tg):
    shop_id, _owner, manager, _packer, group = await open_shop(tg, SHOP)
    start = tg.container.clock.now()
    # given Telegram answers the next five sends "too many requests, retry after 7 s"
    tg.emulator.inject_flood(5, retry_after=7)
    orders = [await place_order(tg, shop_id) for _ in range(3)]
    await tg.deliver()
    # then every ping arrived once, after waiting at least retry_after
    for order in orders:
        ping = f"🆕 Новый заказ #{order.number}"
        assert sum(t.startswith(ping) for t in bot_texts(tg, group)) == 1
        assert sum(t.startswith(ping) for t in bot_texts(tg, manager)) == 1
    assert tg.container.clock.now() - start >= timedelta(seconds=7)
    states = Counter(d.state for d in await deliveries(tg))
    assert states == {"sent": 6}
    assert any("retry after 7" in (d.last_error or "") for d in await deliveries(tg))


async def test_killed_mid_batch_and_restarted_every_chat_gets_exactly_one(database_url, engine):
    # given Telegram's flood limits on, one virtual clock for Telegram and the pump, and 300
    # orders, each with its own buyer in their own chat
    clock = FrozenClock(START)
    async with (
        telegram_world(database_url, clock, flood=FloodLimits(), telegram_clock=clock) as world,
        build_bot(BOT_TOKEN, world.emulator.url, wait_out_floods=False) as bot,
    ):
        emulator, container = world
        created = await container.shops.create_shop(
            name="Cats & Dogs", owner_telegram_id=1, preset="marketplace"
        )
        buyers = [emulator.user(f"Buyer {n}") for n in range(300)]
        for n, person in enumerate(buyers):
            emulator.start_bot(person)
            await container.orders.create_orders(
                created.shop.id,
                OrderDraft(
                    buyer=BuyerDraft(name=f"B{n}", phone=f"+7916{n:07d}", telegram_id=person.id),
                    items=[item()],
                    payment_method="card",
                    delivery_method="post",
                ),
                ActorRef.system(Channel.API),
                source="api",
            )
        async with container.sessions() as session, session.begin():
            # Only the buyers' messages count here; the shop's pings are other tests' subject.
            await session.execute(delete(OutboxMessage).where(OutboxMessage.topic == "new_order"))

        def received() -> Counter:
            return Counter({p.id: sum(m.outgoing for m in emulator.messages(p)) for p in buyers})

        # when the pump is stopped in the middle of the batch
        halfway_there = asyncio.Event()
        virtual = moving_sleep(clock)

        async def sleep(seconds: float) -> None:
            await virtual(seconds)
            if sum(received().values()) >= 130:
                halfway_there.set()

        first = build_pump(container, bot, sleep=sleep, batch=100)
        running = asyncio.create_task(first.run(asyncio.Event()))
        await asyncio.wait_for(halfway_there.wait(), 60)
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
        halfway = sum(received().values())
        assert 130 <= halfway < 300
        # and a new pump starts on the same database
        second = build_pump(container, bot, sleep=moving_sleep(clock))
        while True:
            if await second.run_once(100):
                continue
            due = await second.next_due()
            if due is None:
                break
            clock.set(max(due, clock.now() + timedelta(seconds=1)))
        # then every chat got exactly one message, and no send met Telegram's flood control
        assert set(received().values()) == {1}
        async with container.sessions() as session:
            rows = list(await session.scalars(select(Delivery)))
        assert len(rows) == 300 and {r.state for r in rows} == {"sent"}
        assert not [(r.chat_id, r.last_error, r.sent_at) for r in rows if r.last_error]


async def test_a_card_that_can_no_longer_be_edited_is_forgotten(tg):
    shop_id, owner, manager, _packer = await open_shop(tg, SHOP, group=False)
    order = await place_order(tg, shop_id)
    card = await open_card(tg, owner, order.number)
    owner_id = (await db_user(tg, owner)).id
    # given a card the registry knows of but Telegram no longer has (deleted in the chat)
    await tg.container.cards.remember(order.id, owner_id, owner.id, card.message_id + 50)
    staff = await ref(tg, manager)
    await tg.container.orders.apply(order.id, staff, "confirm")
    await tg.deliver()
    # then the live card is redrawn, and the lost one is forgotten: never tried again
    assert "Ожидает оплаты" in card.text
    assert [c.message_id for c in await tg.container.cards.shown(order.id)] == [card.message_id]
    [lost] = [d for d in await deliveries(tg) if d.target_message_id == card.message_id + 50]
    assert lost.state == "failed" and "message to edit not found" in lost.last_error


async def test_telegram_out_of_reach_is_a_transient_failure(tg):
    shop_id, *_ = await open_shop(tg, SHOP, group=False)
    await place_order(tg, shop_id)
    # given Telegram cannot be reached (nothing listens on that port)
    unreachable = build_bot(BOT_TOKEN, "http://127.0.0.1:9", wait_out_floods=False)
    pump = build_pump(tg.container, unreachable, sleep=moving_sleep(tg.container.clock))
    try:
        await pump.run_once()
    finally:
        await unreachable.session.close()
    # then the ping waits for its next try, one second on
    [delivery] = await deliveries(tg)
    assert (delivery.state, delivery.attempts) == ("pending", 1)
    assert delivery.last_error.startswith("TelegramNetworkError")
    assert delivery.next_attempt_at == tg.container.clock.now() + timedelta(seconds=1)
