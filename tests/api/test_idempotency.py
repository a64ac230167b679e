"""Idempotency-Key as Stripe has it: a retry replays the first answer, another body with the
same key is refused, concurrent duplicates never make a second order."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from handlers.http.api.schema import parse_request, to_draft
from services.orders.actors import ActorRef, Channel
from services.storefront.idempotency import IdempotencyStore, Proceed, fingerprint
from storage.models import IdempotencyKey, OrderEvent
from tests.api.conftest import ORDER, order_body


async def test_the_same_key_and_body_replay_the_first_answer(api):
    # given a first request
    first = await api.post(ORDER, key="k-1")
    assert first[0] == 201
    # when the storefront retries it (a lost answer), even with the keys in another order
    reordered = dict(reversed(list(ORDER.items())))
    again = await api.post(reordered, key="k-1")
    # then it gets the same status and body, and no second order
    assert again[:2] == first[:2]
    assert again[2]["Idempotent-Replayed"] == "true"
    assert await api.order_count() == 1


async def test_the_same_key_with_another_body_is_422(api):
    assert (await api.post(ORDER, key="k-1"))[0] == 201
    status, body, _ = await api.post(order_body(comment="other"), key="k-1")
    assert (status, body["error"]["code"]) == (422, "idempotency_key_reused")
    assert await api.order_count() == 1


async def test_a_refusal_from_the_service_is_replayed_too(api):
    # a phone the service refuses: the answer is kept for the key like any other
    bad = order_body(buyer={"phone": "+7 000"})
    first = await api.post(bad, key="k-bad")
    assert first[0] == 422 and first[1]["error"]["field"] == "buyer.phone"
    assert (await api.post(bad, key="k-bad"))[:2] == first[:2]


async def test_keys_belong_to_their_shop(api):
    from tests.factories import make_shop

    other = await make_shop(api.container)
    other_token = (await api.tokens.create(other.id, "theirs")).token
    assert (await api.post(ORDER, key="shared"))[0] == 201
    # another shop using the same key string gets its own order
    status, body, _ = await api.post(ORDER, key="shared", token=other_token)
    assert status == 201 and body["orders"][0]["number"] == 1
    assert await api.order_count() == 2


async def test_old_finished_keys_are_pruned(api):
    assert (await api.post(ORDER, key="k-old"))[0] == 201
    keys = IdempotencyStore(api.container.sessions, api.container.clock)
    now = api.container.clock.now()
    assert await keys.prune(now) == 0  # made now: kept
    assert await keys.prune(now + timedelta(hours=24, seconds=1)) == 1
    # after that, the key is new again (and the order's external id still stops a duplicate)
    status, body, _ = await api.post(ORDER, key="k-old")
    assert (status, body["error"]["code"]) == (409, "duplicate")
    assert await api.order_count() == 1


async def test_bad_keys_are_refused(api):
    status, body, _ = await api.post(ORDER, key="x" * 256)
    assert (status, body["error"]["code"]) == (400, "invalid_idempotency_key")
    assert await api.order_count() == 0


async def test_a_key_held_by_a_request_that_died_is_taken_over_without_a_second_order(api):
    # given a request that reserved its key, committed its order, and died before answering
    keys = IdempotencyStore(api.container.sessions, api.container.clock)
    assert await keys.begin(api.shop_id, "k-died", fingerprint(ORDER)) == Proceed()
    draft = to_draft(parse_request(ORDER), "RUB")
    [order] = await api.container.orders.create_orders(
        api.shop_id, draft, ActorRef.system(Channel.API), source="api"
    )
    # when the storefront retries while the lease runs, it is told to wait
    status, body, headers = await api.post(ORDER, key="k-died")
    assert (status, body["error"]["code"], headers["Retry-After"]) == (
        409,
        "idempotency_in_progress",
        "1",
    )
    # and after the lease, the retry takes the key over and answers with the order made
    api.container.clock.advance(timedelta(minutes=2))
    status, body, _ = await api.post(ORDER, key="k-died")
    assert status == 201 and [o["number"] for o in body["orders"]] == [order.number]
    assert await api.order_count() == 1
    # from then on the key replays that answer
    assert (await api.post(ORDER, key="k-died"))[:2] == (status, body)


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_concurrent_requests_with_one_key_make_one_order(api):
    # when 12 copies of one request arrive at once
    answers = await asyncio.gather(*(api.post(ORDER, key="k-race") for _ in range(12)))
    # then exactly one order exists; each copy got the order or "in progress"
    statuses = [status for status, _, _ in answers]
    assert set(statuses) <= {201, 409} and 201 in statuses
    assert await api.order_count() == 1
    created = [body for status, body, _ in answers if status == 201]
    assert all(body == created[0] for body in created)
    # and a retry once all is done gets the same answer
    assert (await api.post(ORDER, key="k-race"))[:2] == (201, created[0])


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
async def test_concurrent_requests_with_one_external_id_and_no_key_make_one_order(api):
    answers = await asyncio.gather(*(api.post(ORDER) for _ in range(8)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [201] + [409] * 7
    assert await api.order_count() == 1


async def test_the_answer_is_kept_in_the_orders_own_transaction(api):
    # given the commits the database sees, once the token is known to this process
    commits: list[int] = []
    event.listen(api.container.engine.sync_engine, "commit", lambda _: commits.append(1))
    assert (await api.get(1))[0] == 404
    commits.clear()
    # when an order is made with a key
    status, body, _ = await api.post(ORDER, key="k-1")
    # then one transaction: the key reserved, the order made and its answer kept
    assert status == 201 and len(commits) == 1
    async with api.container.sessions() as session:
        kept = await session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.shop_id == api.shop_id, IdempotencyKey.key == "k-1"
            )
        )
    assert (kept.state, kept.response_status, kept.response_body) == ("done", 201, body)


async def test_a_request_that_fails_midway_leaves_its_key_free(api, monkeypatch):
    # given a fault inside the order's transaction, after the key was reserved in it
    from services.orders import service

    real = service.notices.new_order
    faults = iter([RuntimeError("the process fell over")])

    def failing_once(*args, **kwargs):
        fault = next(faults, None)
        if fault is not None:
            raise fault
        return real(*args, **kwargs)

    monkeypatch.setattr(service.notices, "new_order", failing_once)
    # when the request fails
    assert (await api.post(ORDER, key="k-fail"))[0] == 500
    # then nothing of it is left: no order, no key held until a lease runs out
    async with api.container.sessions() as session:
        held = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "k-fail"))
    assert held is None and await api.order_count() == 0
    # and its retry is served at once, then replayed
    first = await api.post(ORDER, key="k-fail")
    assert first[0] == 201 and await api.order_count() == 1
    assert (await api.post(ORDER, key="k-fail"))[:2] == first[:2]


async def test_a_key_is_reserved_once_and_stored_as_given(api):
    # the reservation is one prebuilt INSERT ... ON CONFLICT DO NOTHING RETURNING on both
    # databases (storage/statements.py): True once, then False, and nothing overwritten
    keys = IdempotencyStore(api.container.sessions, api.container.clock)
    for print_, reserved in (("first-print", True), ("second-print", False)):
        async with api.container.sessions() as session, session.begin():
            assert await keys.reserve(session, api.shop_id, "k-once", print_) is reserved
    async with api.container.sessions() as session:
        row = await session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "k-once"))
    now = api.container.clock.now()
    assert (row.shop_id, row.fingerprint, row.state) == (api.shop_id, "first-print", "started")
    assert (row.locked_until, row.created_at) == (now + timedelta(seconds=60), now)


async def test_the_answer_and_the_orders_event_go_out_with_its_notifications(api, backend):
    # given the statements the database sees, once the token is known to this process
    seen: list[str] = []
    engine = api.container.engine.sync_engine
    listener = lambda *args: seen.append(" ".join(args[2].split()))  # noqa: E731
    assert (await api.get(1))[0] == 404
    event.listen(engine, "before_cursor_execute", listener)
    # when an order is made with a key
    try:
        status, body, _ = await api.post(ORDER, key="k-last")
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert status == 201
    # then on PostgreSQL the key's answer and the order's audit event are CTEs of the
    # outbox's INSERT, the transaction's last statement (storage.held); apart on SQLite
    kept = [s for s in seen if "UPDATE idempotency_keys" in s]
    created = [s for s in seen if "INSERT INTO order_events" in s]
    assert len(kept) == len(created) == 1
    together = kept == created and "INSERT INTO outbox" in kept[0]
    assert together is (backend == "postgres"), seen
    # and what they wrote is there: the answer kept, the order's creation in its history
    async with api.container.sessions() as session:
        row = await session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.shop_id == api.shop_id, IdempotencyKey.key == "k-last"
            )
        )
        actions = await session.scalars(select(OrderEvent.action))
        assert (row.state, row.response_body) == ("done", body)
        assert list(actions) == ["create"]
