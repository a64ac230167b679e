"""The shop hears of every buyer action; the buyer hears every reason (issue 14, item 3).

A buyer who cancels (in Telegram or from the e-mail link page), confirms receipt, rates or
writes: the owner (no staff group) or the staff group is told, even when the new status has
no responsible role (a return request: tests/e2e/test_returns.py). A cancellation by the
shop reaches the buyer with its reason and comment, in Telegram and by e-mail, and the cards
show them.
"""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.web import build_web_app
from services.messaging.email.content import MailContentReader
from services.messaging.email.links import LinkSigner
from services.orders.actors import ActorRef, Channel
from storage.models import OutboxMessage
from tests.e2e.chats import card_of, message_starting
from tests.e2e.shops import ShopRecipe, open_shop, ref
from tests.factories import draft, item

SECRET = "told-secret"
SHIPPED = (
    ("confirm", {}),
    ("mark_paid", {}),
    ("ship", {"carrier": "CDEK", "track_code": "RA123456789RU"}),
)


async def setup_shop(tg):
    """Olga's marketplace shop with its manager Max: the shop, Max as an actor, Olga, Max."""
    shop = await open_shop(tg, ShopRecipe())
    return shop.id, await ref(tg, shop.manager), shop.owner, shop.manager


async def order_for(tg, shop_id, buyer_name=None):
    """A storefront order; opened in Telegram by `buyer_name` when given (else e-mail only)."""
    [order] = await tg.container.orders.create_orders(
        shop_id, draft(item("CAT-1", 1, 150_000)), ActorRef.system(Channel.API), source="api"
    )
    buyer = None
    if buyer_name is not None:
        buyer = tg.emulator.user(buyer_name, language_code="en")
        await tg.say(buyer, f"/start {order.buyer_token}")
    await tg.deliver()  # the new-order pings: what follows is the news of the buyer's acts
    return order, buyer


def told(tg, chat, prefix: str) -> str:
    return message_starting(tg, chat, prefix).text


async def test_the_owner_hears_every_buyer_action_when_there_is_no_staff_group(tg):
    # given a shop with no staff group: its owner Olga and manager Max
    shop_id, manager, olga, _max = await setup_shop(tg)
    order, ivan = await order_for(tg, shop_id, "Ivan")

    # when the buyer cancels from their card (the cancelled status has no responsible role)
    card = card_of(tg, ivan, order.number)
    await tg.tap(ivan, card, text="Cancel the order")
    await tg.tap(ivan, card, text="Changed my mind")
    await tg.deliver()

    # then the owner is told, with the buyer's reason
    text = told(tg, olga, f"👤 The buyer of order #{order.number}")
    assert "«Cancel the order»" in text and "Cancelled" in text
    assert "Reason: Changed my mind" in text

    # when another buyer confirms receipt of a shipped order (received: no responsible role)
    second, anna = await order_for(tg, shop_id, "Anna")
    for action, inputs in SHIPPED:
        await tg.container.orders.apply(second.id, manager, action, inputs)
    await tg.deliver()
    card = card_of(tg, anna, second.number)
    await tg.tap(anna, card, text="I have received it")
    await tg.tap(anna, card, text="✅ Yes")
    await tg.deliver()
    text = told(tg, olga, f"👤 The buyer of order #{second.number}")
    assert "«I have received it»" in text and "Received" in text

    # when she rates it and writes to the shop, the owner is told too
    ask = message_starting(tg, anna, f"How was your order #{second.number}")
    await tg.tap(anna, ask, text="4⭐")
    await tg.say(anna, "Lovely")
    await tg.deliver()
    assert "★★★★☆" in told(tg, olga, f"⭐ Review of order #{second.number}")
    await tg.tap(anna, card_of(tg, anna, second.number), text="💬 Write to the shop")
    await tg.say(anna, "Thank you!")
    await tg.deliver()
    assert "Thank you!" in told(tg, olga, f"💬 #{second.number}")


async def test_a_cancellation_from_the_email_page_reaches_the_staff_group(tg):
    # given a shop whose staff group is bound, and an e-mail-only buyer
    shop_id, _manager, olga, max_ = await setup_shop(tg)
    group = tg.emulator.group("Cats staff", olga, max_)
    tg.emulator.add_bot_to_group(group, olga)
    await tg.settle()
    await tg.say(olga, "/bind", chat=group)
    order, _ = await order_for(tg, shop_id)

    # when the buyer cancels on the page behind the e-mail's link ("we told the shop")
    signer = LinkSigner(SECRET)
    token = signer.action_token(order.id, order.buyer_id, "cancel", tg.container.clock.now())
    app = build_web_app(tg.container, signer, bot_username=None)
    async with TestClient(TestServer(app)) as client:
        async with client.post(f"/l/{token}", data={"reason": "changed_mind"}) as response:
            assert response.status == 200, await response.text()
    await tg.deliver()

    # then the staff group hears it from the bot, in the shop's language, with the reason
    text = told(tg, group, f"👤 Покупатель заказа #{order.number}")
    assert "«Отменить заказ»" in text and "Причина: Передумал" in text


async def test_the_buyer_hears_the_shops_reason_and_comment_and_the_cards_show_them(tg):
    # given a platform order the buyer follows in Telegram and by e-mail
    olga = tg.emulator.user("Olga", language_code="en")
    created = await tg.container.shops.create_shop(
        name="Cats & Dogs", owner_telegram_id=olga.id, preset="platform", owner_name="Olga"
    )
    await tg.say(olga, "/start")
    order, ivan = await order_for(tg, created.shop.id, "Ivan")

    # when the owner cancels it: "other reasons", with the comment it needs (seed 003)
    await tg.say(olga, f"/order {order.number}")
    card = tg.last(olga)
    await tg.tap(olga, card, text="Cancel the order")
    await tg.tap(olga, card, text="Other reasons")
    await tg.say(olga, "The supplier closed for the season")
    await tg.deliver()

    # then the buyer's news says why, and both cards say why
    news = told(tg, ivan, f"Order #{order.number} at Cats & Dogs: Cancelled")
    assert "Reason: Other reasons" in news
    assert "Comment: The supplier closed for the season" in news
    for person in (ivan, olga):
        shown = card_of(tg, person, order.number).text
        assert "Reason: Other reasons" in shown, person.first_name
        assert "Comment: The supplier closed for the season" in shown, person.first_name

    # and so does the e-mail
    reader = MailContentReader(
        tg.container.sessions,
        tg.container.workflows,
        LinkSigner(SECRET),
        public_url="https://shop.example",
        reply_domain="reply.example",
        bot_username=None,
    )
    async with tg.container.sessions() as session:
        rows = list(
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.order_id == order.id,
                    OutboxMessage.channel == "email",
                    OutboxMessage.topic == "status_changed",
                )
            )
        )
    now = tg.container.clock.now()
    texts = [(await reader.read(row, now)).text for row in rows]
    assert any(
        "Reason: Other reasons." in text
        and "The shop's comment: The supplier closed for the season" in text
        for text in texts
    ), texts
