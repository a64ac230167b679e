"""Ratings and reviews (F3, seed 000): asked for on receipt, 1-5 stars, one per order,
words once, one answer from the shop, the shop's average."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from services.buyers.reviews import ReviewProblem, ReviewRefused
from services.orders.actors import ActorRef
from services.refusals import OrderRefused, Problem
from storage.models import OrderEvent, OutboxMessage, Review
from tests.factories import bind_buyer, make_order, make_shop
from tests.returns_factories import received_order, review_service


async def topics(services, order_id):
    async with services.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.order_id == order_id, OutboxMessage.topic.startswith("review"))
            .order_by(OutboxMessage.id)
        )
        return [(m.topic, m.channel) for m in rows]


async def reviews_count(services):
    async with services.sessions() as session:
        return await session.scalar(select(func.count(Review.id)))


async def test_receipt_asks_for_a_review_and_the_shop_answers_once(services):
    # given an order the buyer has just confirmed as received
    shop = await make_shop(services)
    order = await received_order(services, shop)
    reviews = review_service(services)
    buyer, manager = ActorRef.user(shop.buyer_user.id), ActorRef.user(shop.manager.id)
    # then the buyer was asked for stars (in Telegram; by e-mail, to reply with words)
    assert await topics(services, order.id) == [
        ("review_request", "telegram"),
        ("review_request", "email"),
    ]

    # when the buyer gives 4 stars and then a few words
    review = await reviews.rate(order.id, buyer, 4)
    review = await reviews.add_text(order.id, buyer, "Fast, but the box was dented")
    assert (review.stars, review.text) == (4, "Fast, but the box was dented")
    # then the shop was told of both, and sees the review
    assert (await topics(services, order.id)).count(("review_to_shop", "telegram")) == 2
    seen = await reviews.of_order(order.id, manager)
    assert (seen.stars, seen.text, seen.answer) == (4, "Fast, but the box was dented", None)

    # when the shop answers: the buyer gets it; a second answer is refused
    review = await reviews.answer(order.id, manager, "Sorry about the box!")
    assert review.answer == "Sorry about the box!"
    told = await topics(services, order.id)
    assert ("review_answer", "telegram") in told and ("review_answer", "email") in told
    with pytest.raises(ReviewRefused) as refused:
        await reviews.answer(order.id, ActorRef.user(shop.owner.id), "Again")
    assert refused.value.code is ReviewProblem.ALREADY_ANSWERED
    assert (await reviews.of_order(order.id, manager)).answer == "Sorry about the box!"
    # and the order's log has it all
    async with services.sessions() as session:
        actions = list(
            await session.scalars(
                select(OrderEvent.action)
                .where(OrderEvent.order_id == order.id, OrderEvent.action.startswith("review"))
                .order_by(OrderEvent.id)
            )
        )
    assert actions == ["review_left", "review_text", "review_answered"]


@pytest.mark.parametrize("stars", [0, 6, -1, 100])
async def test_only_one_to_five_stars(services, stars):
    shop = await make_shop(services)
    order = await received_order(services, shop)
    with pytest.raises(ReviewRefused) as refused:
        await review_service(services).rate(order.id, ActorRef.user(shop.buyer_user.id), stars)
    assert refused.value.code is ReviewProblem.BAD_STARS
    assert await reviews_count(services) == 0


async def test_one_review_per_order_even_on_a_double_tap(services):
    shop = await make_shop(services)
    order = await received_order(services, shop)
    reviews = review_service(services)
    buyer = ActorRef.user(shop.buyer_user.id)
    results = await asyncio.gather(
        reviews.rate(order.id, buyer, 5), reviews.rate(order.id, buyer, 1), return_exceptions=True
    )
    refusals = [r for r in results if isinstance(r, ReviewRefused)]
    assert [r.code for r in refusals] == [ReviewProblem.ALREADY_RATED]
    assert await reviews_count(services) == 1
    # the words come once
    await reviews.add_text(order.id, buyer, "Good")
    with pytest.raises(ReviewRefused) as refused:
        await reviews.add_text(order.id, buyer, "Better")
    assert refused.value.code is ReviewProblem.TEXT_GIVEN


async def test_only_the_buyer_after_receipt(services):
    shop = await make_shop(services)
    reviews = review_service(services)
    pending = await make_order(services, shop)
    await bind_buyer(services, pending, shop.buyer_user)
    with pytest.raises(ReviewRefused) as refused:
        await reviews.rate(pending.id, ActorRef.user(shop.buyer_user.id), 5)
    assert refused.value.code is ReviewProblem.NOT_RECEIVED
    order = await received_order(services, shop)
    with pytest.raises(OrderRefused) as forbidden:
        await reviews.rate(order.id, ActorRef.user(shop.manager.id), 5)
    assert forbidden.value.code is Problem.FORBIDDEN
    with pytest.raises(ReviewRefused) as refused:
        await reviews.add_text(order.id, ActorRef.user(shop.buyer_user.id), "Words first?")
    assert refused.value.code is ReviewProblem.NOT_RATED
    with pytest.raises(OrderRefused) as forbidden:
        await reviews.answer(order.id, ActorRef.user(shop.buyer_user.id), "Me?")
    assert forbidden.value.code is Problem.FORBIDDEN


async def test_the_shops_average(services):
    shop = await make_shop(services)
    reviews = review_service(services)
    assert (await reviews.rating(shop.id)).count == 0
    for stars in (5, 4, 2):
        order = await received_order(services, shop)
        await reviews.rate(order.id, ActorRef.user(shop.buyer_user.id), stars)
    rating = await reviews.rating(shop.id)
    assert (round(rating.average, 2), rating.count) == (3.67, 3)
