"""Ratings and reviews (F3, seed 000): after receipt the buyer gives 1-5 stars, then words.

The transitions with the `request_review` effect (received, picked up) ask the buyer
(services.orders.notices.status_changed). One review per order: the stars first, the text
once after them (optional); the shop is told, sees it on the order and answers once, and
the answer goes to the buyer. A shop's average and count show in its settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders import notices
from services.orders.access import EDITOR_ROLES
from services.orders.actors import ActorRef, ActorType
from services.orders.events import OrderEvents
from services.orders.unit import Unit
from services.orders.work import OrderWork
from services.refusals import OrderRefused, Problem
from services.workflow.definition import StatusKind
from storage.database import reading
from storage.models import Order, Review

MAX_TEXT = 2000
STARS = range(1, 6)


class ReviewProblem(StrEnum):
    NOT_RECEIVED = "not_received"  # the order has not reached a final success
    BAD_STARS = "bad_stars"  # not 1 to 5
    ALREADY_RATED = "already_rated"  # one review per order
    NOT_RATED = "not_rated"  # words before stars
    TEXT_GIVEN = "text_given"  # the words come once
    BAD_TEXT = "bad_text"  # empty or too long
    ALREADY_ANSWERED = "already_answered"  # the shop answers once
    NOT_FOUND = "not_found"


class ReviewRefused(Exception):
    """A review, its words or its answer refused; nothing was changed."""

    def __init__(self, code: ReviewProblem, message: str):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


@dataclass(frozen=True)
class ReviewView:
    """An order's review as the buyer and the shop see it."""

    stars: int
    text: str  # "" until the buyer adds words
    answer: str | None  # the shop's one answer

    @classmethod
    def of(cls, review: Review) -> ReviewView:
        return cls(stars=review.stars, text=review.text, answer=review.answer)


@dataclass(frozen=True)
class ShopRating:
    average: float | None  # None: no reviews yet
    count: int


class ReviewService:
    def __init__(self, work: OrderWork):
        self._work = work
        self._sessions = work.sessions

    async def of_order(self, order_id: int, actor: ActorRef) -> ReviewView | None:
        async with reading(self._sessions) as session:
            unit = self._work.unit(session)
            order = await unit.load(order_id, items=False, asking=actor)
            await unit.who(order, actor)
            review = await session.scalar(select(Review).where(Review.order_id == order_id))
            return ReviewView.of(review) if review is not None else None

    async def rating(self, shop_id: int) -> ShopRating:
        async with reading(self._sessions) as session:
            average, count = (
                await session.execute(
                    select(func.avg(Review.stars), func.count(Review.id)).where(
                        Review.shop_id == shop_id
                    )
                )
            ).one()
            return ShopRating(float(average) if count else None, int(count))

    async def rate(self, order_id: int, actor: ActorRef, stars: int) -> ReviewView:
        """The buyer's stars: once per order, after receipt."""
        if stars not in STARS:
            raise ReviewRefused(ReviewProblem.BAD_STARS, "from 1 to 5 stars")

        async def work(unit: Unit) -> ReviewView:
            order = await self._buyers_order(unit, order_id, actor)
            if await _review(unit.session, order_id) is not None:
                raise ReviewRefused(ReviewProblem.ALREADY_RATED, "this order is rated already")
            review = Review(order_id=order.id, shop_id=order.shop_id, stars=stars, text="")
            review.created_at = unit.now
            unit.session.add(review)
            await unit.session.flush()
            who = await unit.who(order, actor)
            unit.add_event(order, who, action=OrderEvents.REVIEW_LEFT, payload={"stars": stars})
            _tell_shop(unit, order, review, "stars")
            return ReviewView.of(review)

        try:
            return await self._work.run(work)
        except IntegrityError as error:  # a concurrent tap inserted it first (SQLite)
            raise ReviewRefused(
                ReviewProblem.ALREADY_RATED, "this order is rated already"
            ) from error

    async def add_text(self, order_id: int, actor: ActorRef, text: str) -> ReviewView:
        """The buyer's words after the stars: once."""
        text = (text or "").strip()
        if not text or len(text) > MAX_TEXT:
            raise ReviewRefused(ReviewProblem.BAD_TEXT, f"1 to {MAX_TEXT} characters")

        async def work(unit: Unit) -> ReviewView:
            order = await self._buyers_order(unit, order_id, actor)
            review = await _review(unit.session, order_id)
            if review is None:
                raise ReviewRefused(ReviewProblem.NOT_RATED, "stars first")
            if review.text:
                raise ReviewRefused(ReviewProblem.TEXT_GIVEN, "the review has its words already")
            review.text, review.text_at = text, unit.now
            who = await unit.who(order, actor)
            unit.add_event(order, who, action=OrderEvents.REVIEW_TEXT, comment=text)
            _tell_shop(unit, order, review, "text")
            return ReviewView.of(review)

        return await self._work.run(work)

    async def answer(self, order_id: int, actor: ActorRef, text: str) -> ReviewView:
        """The shop's one answer to the review; it goes to the buyer."""
        text = (text or "").strip()
        if not text or len(text) > MAX_TEXT:
            raise ReviewRefused(ReviewProblem.BAD_TEXT, f"1 to {MAX_TEXT} characters")

        async def work(unit: Unit) -> ReviewView:
            order = await unit.load(order_id, lock=True, items=False, asking=actor)
            who = await unit.who(order, actor)
            if not who.actor.roles & EDITOR_ROLES:
                raise OrderRefused(Problem.FORBIDDEN, "only the shop's managers answer reviews")
            review = await _review(unit.session, order_id)
            if review is None:
                raise ReviewRefused(ReviewProblem.NOT_FOUND, "the order has no review")
            if review.answer is not None:
                raise ReviewRefused(ReviewProblem.ALREADY_ANSWERED, "answered already")
            review.answer, review.answered_at = text, unit.now
            review.answered_by_user_id = actor.user_id if actor.type is ActorType.USER else None
            unit.add_event(order, who, action=OrderEvents.REVIEW_ANSWERED, comment=text)
            notices.to_buyer(
                unit.outbox,
                order,
                "review_answer",
                {"number": order.number, "review_id": review.id, "answer": text},
                key=f"review:{review.id}:answer",
            )
            return ReviewView.of(review)

        return await self._work.run(work)

    async def _buyers_order(self, unit: Unit, order_id: int, actor: ActorRef) -> Order:
        order = await unit.load(order_id, lock=True, items=False, asking=actor)
        who = await unit.who(order, actor)
        if not who.actor.is_buyer:
            raise OrderRefused(Problem.FORBIDDEN, "only the order's buyer reviews it")
        workflow = await unit.workflow(order)
        if workflow.status(order.status).kind is not StatusKind.FINAL_SUCCESS:
            raise ReviewRefused(ReviewProblem.NOT_RECEIVED, "an order is reviewed after receipt")
        return order


async def _review(session: AsyncSession, order_id: int) -> Review | None:
    return await session.scalar(
        select(Review).where(Review.order_id == order_id).execution_options(populate_existing=True)
    )


def _tell_shop(unit: Unit, order: Order, review: Review, part: str) -> None:
    unit.outbox.add(
        key=f"review:{review.id}:{part}:shop",
        channel="telegram",
        audience="staff",
        topic="review_to_shop",
        shop_id=order.shop_id,
        order_id=order.id,
        payload={
            "number": order.number,
            "review_id": review.id,
            "stars": review.stars,
            "text": review.text,
            "role": "manager",
        },
    )


def request_review(outbox, order: Order) -> None:
    """Ask the buyer for stars (a transition with the `request_review` effect)."""
    notices.to_buyer(outbox, order, "review_request", {}, key="review")
