"""A parcel followed at its carrier moves the order with no tap (issue 18), end to end: the
real dispatcher and database, the real CDEK adapter against its fake on loopback, the
tracking sweep on a moved clock, the buyer told in Telegram with the carrier's words, the
staff card showing the latest checkpoints and the carrier's tracking page."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.outbound import AiohttpTransport
from handlers.telegram.order_edit.menu import EditAct, EditCB
from services.carriers.cdek import CdekAdapter
from services.deliveries.sweep import TrackingSweep
from storage.models import OutboxMessage
from tests.e2e.chats import bot_texts, card_of, labels, message_starting, open_card
from tests.e2e.shops import (
    ShopRecipe,
    bound_buyer,
    fresh,
    open_shop,
    place_order,
    ref,
    status_of,
)
from tests.outside.fakes.carriers import RECORDINGS, FakeCdek

SHOP = ShopRecipe(preset="platform", staff=("manager",))
CODE = "1106207236"  # the recording's parcel: at the pickup point, then handed over


@pytest.fixture
async def cdek(tg) -> AsyncIterator[tuple[FakeCdek, TrackingSweep]]:
    fake = FakeCdek()
    await fake.start()
    transport = AiohttpTransport()
    clock = tg.container.clock

    async def moving_sleep(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    adapters = {"cdek": CdekAdapter(transport, fake.url, sleep=moving_sleep, clock=clock)}
    c = tg.container
    sweep = TrackingSweep(c.sessions, clock, c.orders, c.carrier_accounts, adapters, c.workflows)
    yield fake, sweep
    await transport.close()
    await fake.stop()


async def test_a_parcel_at_the_pickup_point_then_handed_over_moves_the_order(tg, cdek):
    fake, sweep = cdek
    shop = await open_shop(tg, SHOP)
    owner = await ref(tg, shop.owner)
    await tg.container.carrier_accounts.save(
        shop.id,
        "cdek",
        {"client_id": fake.client_id, "client_secret": fake.client_secret},
        user_id=owner.user_id,
    )
    order = await place_order(tg, shop.id)
    ivan = await bound_buyer(tg, order)
    manager = await ref(tg, shop.manager)
    await tg.container.orders.open(order.id, manager)
    for action in ("confirm", "pack"):
        await tg.container.orders.apply(order.id, manager, action)
    # the carrier as the card's buttons name it
    await tg.container.orders.apply(
        order.id, manager, "ship", {"carrier": "СДЭК", "track_code": CODE}
    )
    await tg.deliver()

    # no tap: the sweep asks CDEK when the parcel is due
    tg.container.clock.advance(timedelta(hours=2))
    report = await sweep.run_once()
    await tg.deliver()

    assert report.requests == 1
    assert await status_of(tg, order.id) == "received"
    texts = bot_texts(tg, ivan)
    pickup = [t for t in texts if "Ожидает в пункте выдачи" in t]
    received = [t for t in texts if t.startswith(f"Заказ #{order.number}") and "Получено" in t]
    # told once of each, with what the carrier said
    assert len(pickup) == 1 and len(received) == 1
    assert "📍" in pickup[0]
    assert "📍 Вручен, Москва" in received[0]

    # the staff card shows the latest checkpoints and the carrier's page
    card = await open_card(tg, shop.manager, order.number)
    assert "Follow the parcel" in card.text
    assert card.text.count("📍") == 5
    assert "Вручен, Москва" in card.text

    # asked again later: nothing is due, nothing told twice
    tg.container.clock.advance(timedelta(days=2))
    again = await sweep.run_once()
    await tg.deliver()
    assert again.parcels == 0
    assert len([t for t in bot_texts(tg, ivan) if "Ожидает в пункте выдачи" in t]) == 1


async def test_the_sending_date_agreed_with_the_buyer(tg):
    shop = await open_shop(tg, SHOP)
    order = await place_order(tg, shop.id)
    ivan = await bound_buyer(tg, order)
    # 2026-11-24 10:00 in Moscow: the next days are offered, from today
    card = await open_card(tg, shop.manager, order.number)
    await tg.tap(shop.manager, card, text="✏️ Edit")
    await tg.tap(shop.manager, card, text="📅 Sending date")
    assert labels(tg, card)[:3] == ["24.11", "25.11", "26.11"]
    await tg.tap(shop.manager, card, text="26.11")
    assert "📅 Sending date: 26.11.2026" in card.text
    await tg.deliver()
    assert any("отправит ваш заказ" in t and "26.11.2026" in t for t in bot_texts(tg, ivan))
    # the call script says it instead of a blank
    await tg.tap(shop.manager, card, text="📞 Script")
    script = message_starting(tg, shop.manager, "Call script")
    assert "We will send the goods on 26.11.2026." in script.text

    # a forged day far ahead changes nothing
    version = (await fresh(tg, order.id)).version
    forged = EditCB(act=EditAct.DATE_SET, id=order.id, v=version, a="2027-12-31").pack()
    query = await tg.forged_tap(shop.manager, card, forged)
    assert tg.answer(query) == "That value is not valid."
    assert (await fresh(tg, order.id)).delivery_date.isoformat() == "2026-11-26"

    # once shipped, nothing of the delivery is edited: the date is no longer offered
    manager = await ref(tg, shop.manager)
    for action in ("confirm", "pack"):
        await tg.container.orders.apply(order.id, manager, action)
    await tg.container.orders.apply(
        order.id, manager, "ship", {"carrier": "DPD", "track_code": "DPD123456"}
    )
    card = await open_card(tg, shop.manager, order.number)
    assert "✏️ Edit" not in labels(tg, card)
    query = await tg.forged_tap(
        shop.manager, card, EditCB(act=EditAct.DATE, id=order.id, v=version + 3).pack()
    )
    assert (await fresh(tg, order.id)).delivery_date.isoformat() == "2026-11-26"


async def test_the_courier_visit_and_phone_for_courier_delivery(tg):
    shop = await open_shop(tg, SHOP)
    order = await place_order(tg, shop.id, delivery="courier", delivery_cost=None)
    ivan = await bound_buyer(tg, order)
    card = await open_card(tg, shop.manager, order.number)
    # the call script asks the buyer when the courier may come (seed 003, step 7)
    await tg.tap(shop.manager, card, text="📞 Script")
    script = message_starting(tg, shop.manager, "Call script")
    assert "When would it suit you for our courier to come?" in script.text
    await tg.tap(shop.manager, card, text="✏️ Edit")
    await tg.tap(shop.manager, card, text="🚴 Courier visit")
    await tg.say(shop.manager, "26.11, 14:00–18:00")
    # a phone that is not one is asked again; nothing is saved meanwhile
    await tg.say(shop.manager, "call Petr")
    assert message_starting(tg, shop.manager, "That is not a phone number")
    assert (await fresh(tg, order.id)).courier_phone is None
    await tg.say(shop.manager, "+7 916 000-11-22")
    saved = await fresh(tg, order.id)
    assert (saved.courier_window, saved.courier_phone) == ("26.11, 14:00–18:00", "+79160001122")
    card = await open_card(tg, shop.manager, order.number)
    assert "🚴 Courier: 26.11, 14:00–18:00, +79160001122" in card.text
    # and then the script says the visit and the phone agreed
    before = {m.message_id for m in tg.emulator.messages(shop.manager)}
    await tg.tap(shop.manager, card, text="📞 Script")
    script = await tg.emulator.wait_for_message(
        shop.manager, lambda m: m.message_id not in before and "Call script" in (m.text or "")
    )
    assert "Our courier comes 26.11, 14:00–18:00, the courier's phone: " in script.text
    assert "When would it suit" not in script.text
    await tg.deliver()
    told = [t for t in bot_texts(tg, ivan) if "+79160001122" in t]
    assert len(told) == 1 and "14:00–18:00" in told[0]


async def test_no_courier_visit_for_a_parcel_by_post(tg):
    shop = await open_shop(tg, SHOP)
    order = await place_order(tg, shop.id, delivery="post")
    card = await open_card(tg, shop.manager, order.number)
    await tg.tap(shop.manager, card, text="📞 Script")
    script = message_starting(tg, shop.manager, "Call script")
    assert "courier" not in script.text
    await tg.tap(shop.manager, card, text="✏️ Edit")
    assert "🚴 Courier visit" not in labels(tg, card)
    # a forged one is refused and changes nothing
    version = (await fresh(tg, order.id)).version
    query = await tg.forged_tap(
        shop.manager, card, EditCB(act=EditAct.COURIER, id=order.id, v=version).pack()
    )
    await tg.say(shop.manager, "today")
    await tg.say(shop.manager, "+7 916 000-11-22")
    assert (await fresh(tg, order.id)).courier_phone is None
    assert query is not None


def cdek_answer(*codes: str) -> bytes:
    """The recording of CODE with only its statuses `codes` (a parcel still on its way)."""
    body = json.loads((RECORDINGS / "cdek" / f"{CODE}.json").read_text())
    body["entity"]["statuses"] = [s for s in body["entity"]["statuses"] if s["code"] in codes]
    return json.dumps(body, ensure_ascii=False).encode()


async def test_each_in_transit_checkpoint_redraws_the_staff_card_in_place(tg, cdek):
    fake, sweep = cdek
    shop = await open_shop(tg, SHOP)
    owner = await ref(tg, shop.owner)
    await tg.container.carrier_accounts.save(
        shop.id,
        "cdek",
        {"client_id": fake.client_id, "client_secret": fake.client_secret},
        user_id=owner.user_id,
    )
    order = await place_order(tg, shop.id)
    manager = await ref(tg, shop.manager)
    await tg.container.orders.open(order.id, manager)
    for action in ("confirm", "pack"):
        await tg.container.orders.apply(order.id, manager, action)
    await tg.container.orders.apply(
        order.id, manager, "ship", {"carrier": "СДЭК", "track_code": CODE}
    )
    await tg.deliver()
    card = await open_card(tg, shop.manager, order.number)
    assert "Отправлен в г. получатель" not in card.text
    on_the_way = ("ACCEPTED", "CREATED", "RECEIVED_AT_SHIPMENT_WAREHOUSE")
    on_the_way += ("READY_TO_SHIP_AT_SENDING_OFFICE", "TAKEN_BY_TRANSPORTER_FROM_SENDER_CITY")
    fake.answer_with(CODE, cdek_answer(*on_the_way, "SENT_TO_RECIPIENT_CITY"))

    # the sweep records an in-transit checkpoint: the card the manager holds is redrawn
    tg.container.clock.advance(timedelta(hours=2))
    await sweep.run_once()
    await tg.deliver()
    assert await status_of(tg, order.id) == "delivering"  # the preset's in_transit reaction
    assert "Отправлен в г. получатель" in card.text
    assert card_of(tg, shop.manager, order.number) is card  # in place, not a new message

    # the next one changes no status (already delivering) but redraws it again;
    # an answer with nothing new redraws nothing
    fake.answer_with(
        CODE, cdek_answer(*on_the_way, "SENT_TO_RECIPIENT_CITY", "ACCEPTED_IN_RECIPIENT_CITY")
    )
    tg.container.clock.advance(timedelta(days=1))
    await sweep.run_once()
    await tg.deliver()
    assert "Встречен в г. получателе" in card.text
    refreshes = await refresh_rows(tg, order.id)
    tg.container.clock.advance(timedelta(days=1))
    assert (await sweep.run_once()).parcels == 1
    await tg.deliver()
    assert await refresh_rows(tg, order.id) == refreshes
    assert await status_of(tg, order.id) == "delivering"


async def refresh_rows(tg, order_id: int) -> int:
    async with tg.container.sessions() as session:
        return await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.order_id == order_id, OutboxMessage.topic == "refresh_cards")
        )
