"""The per-order dialog (C6): who may write, where a reply goes, what the outbox gets."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from services.buyers.service import BuyerService
from services.messaging.dialog import DialogService, Direction, ReplyTarget
from services.orders.actors import ActorRef
from services.refusals import OrderRefused, Problem
from storage.models import DialogMessage, DialogRelay, OutboxMessage
from tests.factories import make_order, make_shop

GROUP = -100_500
PHOTO = {"kind": "photo", "file_id": "AgAD-photo", "name": None}


@pytest.fixture
def dialog(services) -> DialogService:
    return DialogService(services.sessions, services.clock)


@pytest.fixture
def buyers(services) -> BuyerService:
    return BuyerService(services.sessions, services.clock, services.workflows)


async def refused(awaitable) -> OrderRefused:
    with pytest.raises(OrderRefused) as caught:
        await awaitable
    return caught.value


async def stored(services) -> list[DialogMessage]:
    async with services.sessions() as session:
        return list(await session.scalars(select(DialogMessage).order_by(DialogMessage.id)))


async def dialog_outbox(services) -> list[OutboxMessage]:
    async with services.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.topic.like("dialog_%"))
            .order_by(OutboxMessage.id)
        )
        return list(rows)


async def relay(services, message: DialogMessage, chat_id: int, message_id: int) -> None:
    """What the pump's sender records after relaying a dialog message into a chat."""
    async with services.sessions() as session, session.begin():
        session.add(
            DialogRelay(
                dialog_message_id=message.id,
                order_id=message.order_id,
                chat_id=chat_id,
                message_id=message_id,
                created_at=services.clock.now(),
            )
        )


async def shop_with_buyer(services, buyers, **order_args):
    shop = await make_shop(services)
    order = await make_order(services, shop, **order_args)
    await buyers.bind(order.buyer_token, shop.buyer_user.id)
    return shop, order, ActorRef.user(shop.buyer_user.id)


async def test_the_buyer_writes_and_the_shop_is_notified_in_the_same_transaction(
    services, dialog, buyers
):
    shop, order, me = await shop_with_buyer(services, buyers)

    message = await dialog.from_buyer(
        order.id, me, text="  Can I pick it up myself?  ", chat_id=5, message_id=9
    )

    [row] = await stored(services)
    assert row.id == message.id
    assert (row.order_id, row.direction, row.author_user_id, row.channel) == (
        order.id,
        "to_shop",
        shop.buyer_user.id,
        "telegram",
    )
    assert (row.text, row.attachments) == ("Can I pick it up myself?", [])
    assert (row.telegram_chat_id, row.telegram_message_id) == (5, 9)
    assert row.created_at == services.clock.now()
    [note] = await dialog_outbox(services)
    assert (note.topic, note.channel, note.audience, note.shop_id, note.order_id) == (
        "dialog_to_shop",
        "telegram",
        "shop",
        shop.id,
        order.id,
    )
    assert note.payload == {"dialog_message_id": message.id}
    assert note.dedupe_key == f"dialog:{message.id}:telegram"


async def test_photos_and_files_go_with_or_without_a_caption(services, dialog, buyers):
    _shop, order, me = await shop_with_buyer(services, buyers)
    document = {"kind": "document", "file_id": "BQAD-doc", "name": "receipt.pdf"}
    await dialog.from_buyer(order.id, me, attachments=[PHOTO])
    await dialog.from_buyer(order.id, me, text="the receipt", attachments=[document])
    first, second = await stored(services)
    assert (first.text, first.attachments) == ("", [PHOTO])
    assert (second.text, second.attachments) == ("the receipt", [document])


@pytest.mark.parametrize(
    ("text", "attachments", "field"),
    [
        ("", [], "text"),
        ("   ", [], "text"),
        ("x" * 4001, [], "text"),
        ("hi", [{"kind": "sticker", "file_id": "x"}], "attachments"),
        ("hi", [{"kind": "photo", "file_id": ""}], "attachments"),
        ("hi", [{"kind": "document", "file_id": "x", "name": "n" * 300}], "attachments"),
        ("hi", [PHOTO] * 11, "attachments"),
    ],
)
async def test_a_message_out_of_limits_is_refused(
    services, dialog, buyers, text, attachments, field
):
    _shop, order, me = await shop_with_buyer(services, buyers)
    caught = await refused(dialog.from_buyer(order.id, me, text=text, attachments=attachments))
    assert (caught.code, caught.params["field"]) == (Problem.INVALID, field)
    assert await stored(services) == []
    assert await dialog_outbox(services) == []


async def test_the_longest_message_is_taken(services, dialog, buyers):
    _shop, order, me = await shop_with_buyer(services, buyers)
    await dialog.from_buyer(order.id, me, text="я" * 4000)
    [row] = await stored(services)
    assert len(row.text) == 4000


async def test_only_the_orders_buyer_writes_to_the_shop(services, dialog, buyers):
    shop, order, _me = await shop_with_buyer(services, buyers)
    # a stranger learns nothing; the shop's staff answer by reply, not from here
    for actor, code in (
        (ActorRef.user(shop.stranger.id), Problem.NOT_FOUND),
        (ActorRef.user(shop.manager.id), Problem.FORBIDDEN),
        (ActorRef.system(), Problem.FORBIDDEN),
    ):
        assert (await refused(dialog.from_buyer(order.id, actor, text="hi"))).code is code
    for missing in (0, -1, 2**40, order.id + 1000):
        caught = await refused(
            dialog.from_buyer(missing, ActorRef.user(shop.buyer_user.id), text="x")
        )
        assert caught.code is Problem.NOT_FOUND
    assert await stored(services) == []
    assert await dialog_outbox(services) == []


async def test_an_unbound_buyer_is_nobody_in_telegram(services, dialog):
    # given an order whose link was never opened
    shop = await make_shop(services)
    order = await make_order(services, shop)
    caught = await refused(dialog.from_buyer(order.id, ActorRef.user(shop.buyer_user.id), text="x"))
    assert caught.code is Problem.NOT_FOUND


async def test_an_email_buyer_proven_by_a_signed_link_writes_too(services, dialog):
    shop = await make_shop(services)
    order = await make_order(services, shop)
    message = await dialog.from_buyer(order.id, ActorRef.buyer(order.buyer_id), text="by e-mail")
    assert (message.channel, message.author_user_id) == ("email", None)
    other = await refused(dialog.from_buyer(order.id, ActorRef.buyer(order.buyer_id + 1), text="x"))
    assert other.code is Problem.NOT_FOUND


async def test_staff_answer_by_replying_to_the_relayed_message(services, dialog, buyers):
    # given a buyer's message relayed to the staff group as message 70
    shop, order, me = await shop_with_buyer(services, buyers)
    question = await dialog.from_buyer(order.id, me, text="When do you ship?")
    await relay(services, question, GROUP, 70)
    assert await dialog.reply_target(GROUP, 70) == ReplyTarget(
        order.id, order.number, Direction.TO_BUYER
    )

    # when the packer replies to it there
    answer = await dialog.from_staff_reply(
        GROUP, 70, ActorRef.user(shop.packer.id), text="Tomorrow morning", message_id=71
    )

    # then the answer is the order's, to the buyer, and the buyer is told in Telegram
    assert (answer.order_id, answer.direction, answer.author_user_id) == (
        order.id,
        "to_buyer",
        shop.packer.id,
    )
    assert (answer.telegram_chat_id, answer.telegram_message_id) == (GROUP, 71)
    notes = await dialog_outbox(services)
    assert [(n.topic, n.channel, n.audience) for n in notes] == [
        ("dialog_to_shop", "telegram", "shop"),
        ("dialog_to_buyer", "telegram", "buyer"),
    ]
    assert notes[1].payload == {"dialog_message_id": answer.id}


async def test_a_stranger_replying_to_a_relayed_message_stores_nothing(services, dialog, buyers):
    shop, order, me = await shop_with_buyer(services, buyers)
    question = await dialog.from_buyer(order.id, me, text="Hello?")
    await relay(services, question, GROUP, 70)
    other_shop = await make_shop(services)
    for actor in (
        ActorRef.user(shop.stranger.id),
        ActorRef.user(other_shop.manager.id),  # staff, but of another shop
        me,  # the buyer is no staff member
    ):
        caught = await refused(dialog.from_staff_reply(GROUP, 70, actor, text="Pretending"))
        assert caught.code is Problem.NOT_FOUND
    assert [m.id for m in await stored(services)] == [question.id]
    assert len(await dialog_outbox(services)) == 1


async def test_a_reply_to_a_message_that_was_not_relayed_is_not_found(services, dialog, buyers):
    shop, order, me = await shop_with_buyer(services, buyers)
    question = await dialog.from_buyer(order.id, me, text="Hello?")
    await relay(services, question, GROUP, 70)
    for chat_id, message_id in ((GROUP, 69), (GROUP + 1, 70)):
        caught = await refused(
            dialog.from_staff_reply(chat_id, message_id, ActorRef.user(shop.manager.id), text="x")
        )
        assert caught.code is Problem.NOT_FOUND
        assert await dialog.reply_target(chat_id, message_id) is None
    assert len(await stored(services)) == 1


async def test_a_buyer_without_telegram_gets_the_answer_by_email(services, dialog):
    # given an order whose buyer has an e-mail and never opened the bot
    shop = await make_shop(services)
    order = await make_order(services, shop)
    question = await dialog.from_buyer(order.id, ActorRef.buyer(order.buyer_id), text="?")
    await relay(services, question, GROUP, 70)
    answer = await dialog.from_staff_reply(GROUP, 70, ActorRef.user(shop.manager.id), text="!")
    [note] = [n for n in await dialog_outbox(services) if n.topic == "dialog_to_buyer"]
    assert (note.channel, note.audience, note.payload) == (
        "email",
        "buyer",
        {"dialog_message_id": answer.id},
    )
    assert note.dedupe_key == f"dialog:{answer.id}:email"


async def test_an_answer_to_a_buyer_with_no_channel_is_kept_for_the_history(services, dialog):
    shop = await make_shop(services)
    order = await make_order(services, shop, email=None)
    question = await dialog.from_buyer(order.id, ActorRef.buyer(order.buyer_id), text="?")
    await relay(services, question, GROUP, 70)
    await dialog.from_staff_reply(GROUP, 70, ActorRef.user(shop.manager.id), text="!")
    assert len(await stored(services)) == 2
    assert [n.topic for n in await dialog_outbox(services)] == ["dialog_to_shop"]


async def test_the_buyer_replies_to_the_relayed_answer_of_the_right_order(services, dialog, buyers):
    # given one buyer with two open orders (each opened by its link), and the shop's answers
    # relayed to their chat
    shop, first, me = await shop_with_buyer(services, buyers)
    second = await make_order(services, shop)
    await buyers.bind(second.buyer_token, shop.buyer_user.id)
    chat = shop.buyer_user.telegram_id
    staff = ActorRef.user(shop.manager.id)
    for number, order in enumerate((first, second)):
        question = await dialog.from_buyer(order.id, me, text=f"about {order.number}")
        await relay(services, question, GROUP, 100 + number)
        answer = await dialog.from_staff_reply(GROUP, 100 + number, staff, text="ok")
        await relay(services, answer, chat, 10 + number)

    # when the buyer replies to the answer about the second order
    assert (await dialog.reply_target(chat, 11)).direction is Direction.TO_SHOP
    reply = await dialog.from_buyer_reply(chat, 11, me, text="thanks", message_id=12)

    # then it lands on the second order, and nowhere else
    assert (reply.order_id, reply.direction) == (second.id, "to_shop")
    assert [m.text for m in await dialog.history(first.id, me)] == [f"about {first.number}", "ok"]
    assert [m.text for m in await dialog.history(second.id, me)] == [
        f"about {second.number}",
        "ok",
        "thanks",
    ]
    # and a stranger's reply there stores nothing
    caught = await refused(
        dialog.from_buyer_reply(chat, 11, ActorRef.user(shop.stranger.id), text="x")
    )
    assert caught.code is Problem.NOT_FOUND
    assert (await refused(dialog.from_buyer_reply(chat, 99, me, text="x"))).code is (
        Problem.NOT_FOUND
    )


async def test_a_reply_to_the_buyers_card_goes_to_its_order(services, dialog, buyers):
    from services.messaging.cards import CardRegistry

    shop, order, me = await shop_with_buyer(services, buyers)
    cards = CardRegistry(services.sessions, services.clock)
    chat = shop.buyer_user.telegram_id
    await cards.remember(order.id, shop.buyer_user.id, chat, 40)
    await cards.remember(order.id, shop.manager.id, shop.manager.telegram_id, 41)
    assert await dialog.reply_target(chat, 40) == ReplyTarget(
        order.id, order.number, Direction.TO_SHOP
    )
    # staff replying to their own card is no dialog message
    assert await dialog.reply_target(shop.manager.telegram_id, 41) is None
    message = await dialog.from_buyer_reply(chat, 40, me, text="hi", message_id=42)
    assert message.order_id == order.id


async def test_the_history_is_for_the_shops_staff_and_the_buyer(services, dialog, buyers):
    shop, order, me = await shop_with_buyer(services, buyers)
    question = await dialog.from_buyer(order.id, me, text="one")
    await relay(services, question, GROUP, 70)
    await dialog.from_staff_reply(GROUP, 70, ActorRef.user(shop.manager.id), text="two")
    for actor in (me, ActorRef.user(shop.packer.id), ActorRef.system()):
        assert [m.text for m in await dialog.history(order.id, actor)] == ["one", "two"]
    thread = await dialog.thread(order.id, ActorRef.user(shop.owner.id))
    assert (thread.order_id, thread.number) == (order.id, order.number)
    assert thread.authors[shop.buyer_user.id] == shop.buyer_user.name
    assert set(thread.authors) == {shop.buyer_user.id, shop.manager.id}
    caught = await refused(dialog.history(order.id, ActorRef.user(shop.stranger.id)))
    assert caught.code is Problem.NOT_FOUND


async def test_messages_are_counted_once_per_write(services, dialog, buyers):
    _shop, order, me = await shop_with_buyer(services, buyers)
    for index in range(5):
        await dialog.from_buyer(order.id, me, text=str(index))
    async with services.sessions() as session:
        keys = await session.scalar(
            select(func.count(func.distinct(OutboxMessage.dedupe_key))).where(
                OutboxMessage.topic == "dialog_to_shop"
            )
        )
    assert keys == 5
