"""Returns (F1, seed 002) on a real database: the rules, the lifecycle, its log and notices."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from services.money.returns import ReturnProblem, ReturnRefused, ReturnStatus
from services.orders.actors import ActorRef
from services.refusals import OrderRefused, Problem
from services.time.sweep import TimerSweep
from storage.models import LedgerEntry, OrderEvent, OutboxMessage, ReturnRequest, Timer
from tests.factories import item, mail_reader, make_order, make_shop
from tests.returns_factories import received_order, return_service, returnable


async def events_of(services, order_id, prefix="return"):
    async with services.sessions() as session:
        rows = await session.scalars(
            select(OrderEvent)
            .where(OrderEvent.order_id == order_id, OrderEvent.action.startswith(prefix))
            .order_by(OrderEvent.id)
        )
        return list(rows)


async def outbox_topics(services, order_id, topic_prefix="return"):
    async with services.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.order_id == order_id, OutboxMessage.topic.startswith(topic_prefix))
            .order_by(OutboxMessage.id)
        )
        return [(m.topic, m.channel, m.payload.get("step")) for m in rows]


async def returned_in_ledger(services, order_id):
    async with services.sessions() as session:
        rows = await session.execute(
            select(LedgerEntry.order_item_id, LedgerEntry.quantity).where(
                LedgerEntry.order_id == order_id,
                LedgerEntry.kind == "return_income",
                LedgerEntry.quantity > 0,
            )
        )
        return [tuple(row) for row in rows]


async def count_requests(services):
    async with services.sessions() as session:
        return await session.scalar(select(func.count(ReturnRequest.id)))


async def test_full_return_lifecycle(services):
    # given a received order with a returnable line of 3 units and a plain one
    shop = await make_shop(services)
    order = await received_order(services, shop, returnable("A", 3, 1000), item("B", 1, 500))
    returns = return_service(services)
    buyer, manager = ActorRef.user(shop.buyer_user.id), ActorRef.user(shop.manager.id)
    line_a = next(i for i in order.items if i.sku == "A")

    # when the buyer asks to return 2 of A with a reason
    request = await returns.request(order.id, buyer, {line_a.id: 2}, "Wrong size")
    assert request.status == ReturnStatus.REQUESTED
    assert request.amount == 2000
    assert request.answer_due_at > services.clock.now()

    # and the shop approves, receives the goods and refunds
    for step in (returns.approve, returns.goods_received):
        services.clock.advance(timedelta(hours=1))
        request = await step(request.id, manager)
    assert await returned_in_ledger(services, order.id) == []
    request = await returns.refund(request.id, manager)
    assert request.status == ReturnStatus.REFUNDED
    assert request.refunded_at == services.clock.now()
    # then the ledger reversed the returned units in the refund's transaction (F2)
    assert await returned_in_ledger(services, order.id) == [(line_a.id, 2)]

    # then every step is in the order's audit log, visible to the buyer
    log = [
        (e.action, e.actor_kind, e.visible_to_buyer) for e in await events_of(services, order.id)
    ]
    assert log == [
        ("return_requested", "buyer", True),
        ("return_approved", "staff", True),
        ("return_goods_received", "staff", True),
        ("return_refunded", "staff", True),
    ]
    history = await services.orders.history(order.id, buyer)
    assert "return_refunded" in [e.action for e in history]
    # and both sides were told of every step (the buyer in Telegram)
    told = await outbox_topics(services, order.id)
    for step in ("requested", "approved", "goods_received", "refunded"):
        assert ("return_to_shop", "telegram", step) in told
        assert ("return_to_buyer", "telegram", step) in told
    # and one more unit of A can be returned, B never
    options = await returns.options(order.id, buyer)
    available = {o.name: (o.available, o.problem) for o in options.items}
    assert available == {"Item A": (1, None), "Item B": (0, ReturnProblem.NOT_RETURNABLE)}


async def test_reject_with_a_reason_frees_the_units(services):
    shop = await make_shop(services)
    order = await received_order(services, shop, returnable("A", 1))
    returns = return_service(services)
    buyer, manager = ActorRef.user(shop.buyer_user.id), ActorRef.user(shop.manager.id)
    request = await returns.request(order.id, buyer, {order.items[0].id: 1}, "Broken")

    # a rejection needs a reason
    with pytest.raises(ReturnRefused) as refused:
        await returns.reject(request.id, manager, "  ")
    assert refused.value.code is ReturnProblem.NO_REASON

    request = await returns.reject(request.id, manager, "Used goods are not taken back")
    assert (request.status, request.reject_reason) == ("rejected", "Used goods are not taken back")
    [event] = await events_of(services, order.id, "return_rejected")
    assert event.comment == "Used goods are not taken back"
    assert ("return_to_buyer", "telegram", "rejected") in await outbox_topics(services, order.id)
    # a rejected request is over: no further step, and its unit may be asked for again
    with pytest.raises(ReturnRefused) as refused:
        await returns.goods_received(request.id, manager)
    assert refused.value.code is ReturnProblem.WRONG_STEP
    assert (await returns.options(order.id, buyer)).items[0].available == 1


async def test_outside_the_period_and_not_returnable_are_refused(services):
    shop = await make_shop(services)
    order = await received_order(services, shop, returnable("A", 1, days=7), item("B", 1))
    returns = return_service(services)
    buyer = ActorRef.user(shop.buyer_user.id)
    line_a, line_b = order.items

    # a line not marked returnable: refused, naming it
    with pytest.raises(ReturnRefused) as refused:
        await returns.request(order.id, buyer, {line_b.id: 1}, "Do not like it")
    assert refused.value.code is ReturnProblem.NOT_RETURNABLE
    assert refused.value.params["item"] == "Item B"

    # seven days after receipt A may still go back; a second later it may not
    services.clock.advance(timedelta(days=7, seconds=1))
    with pytest.raises(ReturnRefused) as refused:
        await returns.request(order.id, buyer, {line_a.id: 1}, "Do not like it")
    assert refused.value.code is ReturnProblem.PERIOD_OVER
    assert refused.value.params["item"] == "Item A"
    assert refused.value.params["until"] < services.clock.now()
    # and nothing was written
    assert await count_requests(services) == 0
    assert await events_of(services, order.id) == []


async def test_not_before_receipt_and_not_by_staff(services):
    shop = await make_shop(services)
    order = await make_order(services, shop, returnable("A", 1))
    from tests.factories import bind_buyer

    await bind_buyer(services, order, shop.buyer_user)
    returns = return_service(services)
    with pytest.raises(ReturnRefused) as refused:
        await returns.request(
            order.id, ActorRef.user(shop.buyer_user.id), {order.items[0].id: 1}, "Why not"
        )
    assert refused.value.code is ReturnProblem.NOT_RECEIVED
    received = await received_order(services, shop, returnable("A", 1))
    with pytest.raises(OrderRefused) as forbidden:
        await returns.request(
            received.id, ActorRef.user(shop.manager.id), {received.items[0].id: 1}, "x"
        )
    assert forbidden.value.code is Problem.FORBIDDEN
    # a stranger learns nothing of the order
    with pytest.raises(OrderRefused) as hidden:
        await returns.request(
            received.id, ActorRef.user(shop.stranger.id), {received.items[0].id: 1}, "x"
        )
    assert hidden.value.code is Problem.NOT_FOUND


async def test_too_many_units_are_refused(services):
    shop = await make_shop(services)
    order = await received_order(services, shop, returnable("A", 3))
    returns = return_service(services)
    buyer = ActorRef.user(shop.buyer_user.id)
    line = order.items[0]
    with pytest.raises(ReturnRefused) as refused:
        await returns.request(order.id, buyer, {line.id: 4}, "Too many")
    assert (refused.value.code, refused.value.params["available"]) == (ReturnProblem.TOO_MANY, 3)

    # two units pending: only one more may be asked for
    await returns.request(order.id, buyer, {line.id: 2}, "Two")
    with pytest.raises(ReturnRefused) as refused:
        await returns.request(order.id, buyer, {line.id: 2}, "Two more")
    assert (refused.value.code, refused.value.params["available"]) == (ReturnProblem.TOO_MANY, 1)
    assert await count_requests(services) == 1


async def test_money_of_parts_adds_up_to_what_the_line_cost(services):
    # 3 units for 1000 less a line discount of 1, and an order discount of 100 shared with
    # a line of 1000: line A cost 2999 - 75 = 2924; no kopeck lost across three returns
    shop = await make_shop(services)
    order = await received_order(
        services, shop, returnable("A", 3, 1000, discount=1), item("B", 1, 1000), discount=100
    )
    returns = return_service(services)
    buyer = ActorRef.user(shop.buyer_user.id)
    amounts = []
    for n in range(3):
        request = await returns.request(order.id, buyer, {order.items[0].id: 1}, f"Unit {n}")
        amounts.append(request.amount)
    assert amounts == [974, 975, 975]
    assert sum(amounts) == 2924


async def test_a_double_tap_changes_once(services):
    shop = await make_shop(services)
    order = await received_order(services, shop, returnable("A", 1))
    returns = return_service(services)
    buyer, manager = ActorRef.user(shop.buyer_user.id), ActorRef.user(shop.manager.id)
    request = await returns.request(order.id, buyer, {order.items[0].id: 1}, "Broken")

    # two taps on "Approve" at the same time
    results = await asyncio.gather(
        returns.approve(request.id, manager),
        returns.approve(request.id, manager),
        return_exceptions=True,
    )
    refusals = [r for r in results if isinstance(r, ReturnRefused)]
    assert len(refusals) == 1 and refusals[0].code is ReturnProblem.ALREADY_DONE
    assert len(await events_of(services, order.id, "return_approved")) == 1


async def test_a_double_tap_on_send_makes_one_request(services):
    shop = await make_shop(services)
    order = await received_order(services, shop, returnable("A", 3))
    returns = return_service(services)
    buyer = ActorRef.user(shop.buyer_user.id)
    line = order.items[0]
    results = await asyncio.gather(
        returns.request(order.id, buyer, {line.id: 1}, "Broken"),
        returns.request(order.id, buyer, {line.id: 1}, "Broken"),
        return_exceptions=True,
    )
    refusals = [r for r in results if isinstance(r, ReturnRefused)]
    assert [r.code for r in refusals] == [ReturnProblem.ALREADY_DONE]
    assert await count_requests(services) == 1
    # a different request for the remaining units is a request of its own
    await returns.request(order.id, buyer, {line.id: 2}, "Broken")
    assert await count_requests(services) == 2


async def test_the_shop_is_alerted_when_it_does_not_answer(services):
    # given a request made on a Tuesday morning (24 business hours: 11 h a day, Mon-Fri)
    shop = await make_shop(services)
    order = await received_order(services, shop, returnable("A", 1))
    returns = return_service(services)
    buyer = ActorRef.user(shop.buyer_user.id)
    request = await returns.request(order.id, buyer, {order.items[0].id: 1}, "Broken")
    sweep = TimerSweep(services.sessions, services.clock, services.orders)

    # when the time has not passed yet, the sweep does nothing
    services.clock.set(request.answer_due_at - timedelta(minutes=1))
    assert (await sweep.run_once()).fired == 0
    # when it has, the shop is alerted once, and the log says so (not to the buyer)
    services.clock.set(request.answer_due_at)
    report = await sweep.run_once()
    assert report.outcomes["flagged"] == 1
    assert (await sweep.run_once()).fired == 0
    [event] = await events_of(services, order.id, "return_overdue")
    assert event.visible_to_buyer is False
    assert ("return_overdue", "telegram", None) in await outbox_topics(services, order.id)
    async with services.sessions() as session:
        assert (await session.get(ReturnRequest, request.id)).overdue_at == services.clock.now()


async def test_an_answered_request_raises_no_alert(services):
    shop = await make_shop(services)
    order = await received_order(services, shop, returnable("A", 1))
    returns = return_service(services)
    request = await returns.request(
        order.id, ActorRef.user(shop.buyer_user.id), {order.items[0].id: 1}, "Broken"
    )
    await returns.approve(request.id, ActorRef.user(shop.manager.id))
    services.clock.set(request.answer_due_at + timedelta(hours=1))
    report = await TimerSweep(services.sessions, services.clock, services.orders).run_once()
    assert report.outcomes == {"answered": 1}
    assert await events_of(services, order.id, "return_overdue") == []
    async with services.sessions() as session:
        timer = await session.scalar(select(Timer).where(Timer.kind == "return_sla"))
        assert (timer.state, timer.outcome) == ("done", "answered")


async def test_packers_may_not_decide_and_forged_ids_are_not_found(services):
    shop = await make_shop(services)
    order = await received_order(services, shop, returnable("A", 1))
    returns = return_service(services)
    request = await returns.request(
        order.id, ActorRef.user(shop.buyer_user.id), {order.items[0].id: 1}, "Broken"
    )
    with pytest.raises(OrderRefused) as forbidden:
        await returns.approve(request.id, ActorRef.user(shop.packer.id))
    assert forbidden.value.code is Problem.FORBIDDEN
    for forged in (request.id + 100, 0, 2**40):
        with pytest.raises(ReturnRefused) as missing:
            await returns.approve(forged, ActorRef.user(shop.manager.id))
        assert missing.value.code is ReturnProblem.NOT_FOUND
    # another shop's manager learns nothing
    other = await make_shop(services)
    with pytest.raises(OrderRefused) as hidden:
        await returns.approve(request.id, ActorRef.user(other.manager.id))
    assert hidden.value.code is Problem.NOT_FOUND
    assert (await returns.get(request.id, ActorRef.user(shop.owner.id))).request.status == (
        "requested"
    )


async def test_an_email_buyer_reads_each_step(services):
    # given a buyer without Telegram: the return is asked for through a signed link (e-mail)
    shop = await make_shop(services)
    order = await received_order(services, shop, returnable("A", 2, 1000), bind=False)
    returns = return_service(services)
    buyer, manager = ActorRef.buyer(order.buyer_id), ActorRef.user(shop.manager.id)
    request = await returns.request(order.id, buyer, {order.items[0].id: 1}, "Too big")
    await returns.reject(request.id, manager, "Worn <already>")
    reader = mail_reader(services, secret="secret")
    async with services.sessions() as session:
        rows = list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.topic == "return_to_buyer", OutboxMessage.channel == "email")
                .order_by(OutboxMessage.id)
            )
        )
    assert [row.payload["step"] for row in rows] == ["requested", "rejected"]
    mails = [await reader.read(row, services.clock.now()) for row in rows]
    assert mails[0].to_address == "buyer@example.com"
    # in the buyer's language (Russian)
    assert "Ваша заявка на возврат #1 по заказу #1 отправлена в магазин «Shop marketplace»" in (
        mails[0].text
    )
    assert "Item A × 1" in mails[0].text
    assert "отклонил ваш возврат #1: Worn <already>" in mails[1].text
    assert "Worn &lt;already&gt;" in mails[1].html
