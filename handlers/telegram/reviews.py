"""Ratings and reviews in Telegram (F3): stars, then words, the shop's one answer.

On receipt the buyer gets a message with five star buttons (services.buyers.reviews through the
outbox); a tap rates the order and invites a few words (or "Skip"). The shop is told with an
"Answer" button, sees the review from the order card's "⭐ Review", and the shop's average
is one tap from /settings. Callback data: the order's id and the stars only.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.callback_answer import CallbackAnswer
from aiogram.utils.i18n import gettext as _

from handlers.telegram.format import esc
from handlers.telegram.returns import alert
from services.buyers.reviews import ReviewProblem, ReviewRefused, ReviewService, ReviewView
from services.messaging.notifications.content import Notice
from services.orders.actors import ActorRef
from services.orders.service import OrderService, OrderView
from services.shops.settings import ShopSettingsService
from services.shops.users import Person
from services.workflow.definition import StatusKind


class ReviewAct(StrEnum):
    STAR = "s"  # the buyer gives `arg` stars to order `id`
    SKIP = "k"  # no words after the stars
    SHOW = "v"  # the order's review (staff, from the card)
    ANSWER = "a"  # the shop starts its answer
    RATING = "r"  # the shop's average (from /settings; `id` is the shop)


class ReviewCB(CallbackData, prefix="rv"):
    act: ReviewAct
    id: int
    arg: int = 0


class ReviewForm(StatesGroup):
    text = State()  # the buyer's words after the stars
    answer = State()  # the shop's answer


def stars(count: int) -> str:
    return "★" * count + "☆" * (5 - count)


def describe(refusal: ReviewRefused) -> str:
    texts = {
        ReviewProblem.NOT_RECEIVED: _("An order can be rated once it is received."),
        ReviewProblem.BAD_STARS: _("Give from 1 to 5 stars."),
        ReviewProblem.ALREADY_RATED: _("This order is rated already. Thank you!"),
        ReviewProblem.NOT_RATED: _("Rate the order with stars first."),
        ReviewProblem.TEXT_GIVEN: _("Your review already has its words."),
        ReviewProblem.BAD_TEXT: _("Please write from 1 to 2000 characters."),
        ReviewProblem.ALREADY_ANSWERED: _("The review has been answered already."),
        ReviewProblem.NOT_FOUND: _("The order has no review yet."),
    }
    return texts.get(refusal.code, _("That did not work."))


def review_text(review: ReviewView, number: int) -> str:
    lines = [
        _("⭐ <b>Review of order #{number}</b>: {stars}").format(
            number=number, stars=stars(review.stars)
        )
    ]
    if review.text:
        lines.append(esc(review.text))
    if review.answer is not None:
        lines.append(_("The shop's answer: {answer}").format(answer=esc(review.answer)))
    return "\n".join(lines)


def stars_keyboard(order_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=f"{n}⭐",
                    callback_data=ReviewCB(act=ReviewAct.STAR, id=order_id, arg=n).pack(),
                )
                for n in range(1, 6)
            ]
        ]
    )


def answer_keyboard(order_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("💬 Answer"),
                    callback_data=ReviewCB(act=ReviewAct.ANSWER, id=order_id).pack(),
                )
            ]
        ]
    )


def card_buttons(view: OrderView) -> list[InlineKeyboardButton]:
    """The shop's "⭐ Review" on a received order's card."""
    if not view.who.is_staff:
        return []
    if view.workflow.status(view.order.status).kind is not StatusKind.FINAL_SUCCESS:
        return []
    return [
        InlineKeyboardButton(
            text=_("⭐ Review"),
            callback_data=ReviewCB(act=ReviewAct.SHOW, id=view.order.id).pack(),
        )
    ]


def settings_button(shop_id: int) -> InlineKeyboardButton:
    """In /settings: the shop's average rating and its latest reviews."""
    return InlineKeyboardButton(
        text=_("⭐ Rating and reviews"),
        callback_data=ReviewCB(act=ReviewAct.RATING, id=shop_id).pack(),
    )


# -- the buyer ------------------------------------------------------------------------------


async def rate(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: ReviewCB,
    reviews: ReviewService,
    actor: ActorRef,
    state: FSMContext,
) -> None:
    try:
        review = await reviews.rate(callback_data.id, actor, callback_data.arg)
    except ReviewRefused as refusal:
        alert(callback_answer, describe(refusal))
        return
    await state.set_state(ReviewForm.text)
    await state.set_data({"order_id": callback_data.id})
    await query.message.edit_text(
        _("Thank you! {stars}\nWrite a few words about the order, or skip.").format(
            stars=stars(review.stars)
        ),
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=_("Skip"),
                        callback_data=ReviewCB(act=ReviewAct.SKIP, id=callback_data.id).pack(),
                    )
                ]
            ]
        ),
    )


async def words(
    message: Message, state: FSMContext, reviews: ReviewService, actor: ActorRef
) -> None:
    data = await state.get_data()
    try:
        await reviews.add_text(data["order_id"], actor, message.text)
    except ReviewRefused as refusal:
        if refusal.code is not ReviewProblem.BAD_TEXT:
            await state.clear()
        await message.answer(describe(refusal))
        return
    await state.clear()
    await message.answer(_("Thank you for your review! The shop will read it."))


async def skip(query: CallbackQuery, state: FSMContext) -> None:
    if await state.get_state() == ReviewForm.text.state:
        await state.clear()
    await query.message.edit_reply_markup(reply_markup=None)
    await query.message.answer(_("Thank you for your rating!"))


# -- the shop -------------------------------------------------------------------------------


async def show(
    query: CallbackQuery,
    callback_data: ReviewCB,
    reviews: ReviewService,
    orders: OrderService,
    actor: ActorRef,
) -> None:
    view = await orders.view(callback_data.id, actor)
    review = await reviews.of_order(callback_data.id, actor)
    if review is None:
        await query.message.answer(_("The buyer has not rated this order yet."))
        return
    markup = (
        answer_keyboard(callback_data.id) if review.answer is None and view.who.is_staff else None
    )
    await query.message.answer(review_text(review, view.order.number), reply_markup=markup)


async def ask_answer(
    query: CallbackQuery,
    callback_answer: CallbackAnswer,
    callback_data: ReviewCB,
    reviews: ReviewService,
    actor: ActorRef,
    state: FSMContext,
) -> None:
    review = await reviews.of_order(callback_data.id, actor)
    if review is None:
        alert(callback_answer, _("The order has no review yet."))
        return
    if review.answer is not None:
        alert(callback_answer, _("The review has been answered already."))
        return
    await state.set_state(ReviewForm.answer)
    await state.set_data({"order_id": callback_data.id})
    await query.message.answer(_("Write your answer to the review. The buyer will get it."))


async def answer_typed(
    message: Message, state: FSMContext, reviews: ReviewService, actor: ActorRef
) -> None:
    data = await state.get_data()
    try:
        await reviews.answer(data["order_id"], actor, message.text)
    except ReviewRefused as refusal:
        if refusal.code is not ReviewProblem.BAD_TEXT:
            await state.clear()
        await message.answer(describe(refusal))
        return
    await state.clear()
    await message.answer(_("Your answer is sent to the buyer."))


async def rating(
    query: CallbackQuery,
    callback_data: ReviewCB,
    reviews: ReviewService,
    shop_settings: ShopSettingsService,
    user: Person,
) -> None:
    await shop_settings.get(callback_data.id, user.id)  # the shop's staff only
    result = await reviews.rating(callback_data.id)
    if not result.count:
        await query.message.answer(_("⭐ No reviews yet."))
        return
    await query.message.answer(
        _("⭐ Average rating: <b>{average}</b> from {count} reviews").format(
            average=f"{result.average:.1f}", count=result.count
        )
    )


# -- notifications (handlers.telegram.notifier) ----------------------------------------


TOPICS = frozenset({"review_request", "review_to_shop", "review_answer"})


def render_notice(
    topic: str, data: dict, notice: Notice
) -> tuple[str, InlineKeyboardMarkup | None]:
    order = notice.order
    number = data.get("number", order.number)
    if topic == "review_request":
        text = _("How was your order #{number} at {shop}? Rate it:").format(
            number=number, shop=esc(notice.shop.name)
        )
        return text, stars_keyboard(order.id)
    if topic == "review_to_shop":
        text = _("⭐ Review of order #{number}: {stars}").format(
            number=number, stars=stars(int(data.get("stars") or 0))
        )
        if data.get("text"):
            text += "\n" + esc(data["text"])
        return text, answer_keyboard(order.id)
    text = _("💬 {shop} answered your review of order #{number}: {answer}").format(
        shop=esc(notice.shop.name), number=number, answer=esc(data.get("answer"))
    )
    return text, None


def router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(rate, ReviewCB.filter(F.act == ReviewAct.STAR))
    router.message.register(words, ReviewForm.text, F.text)
    router.callback_query.register(skip, ReviewCB.filter(F.act == ReviewAct.SKIP))
    router.callback_query.register(show, ReviewCB.filter(F.act == ReviewAct.SHOW))
    router.callback_query.register(ask_answer, ReviewCB.filter(F.act == ReviewAct.ANSWER))
    router.message.register(answer_typed, ReviewForm.answer, F.text)
    router.callback_query.register(rating, ReviewCB.filter(F.act == ReviewAct.RATING))
    return router
