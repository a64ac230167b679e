"""Buyer identity end to end (issue 14, item 1), as the issue reproduced it.

Order A is Vera's, with her phone +7 903 555-12-34. Mallory places order B through the
storefront API with 89035551234 (the same number, written otherwise) and her own e-mail. B's
buyer link must not show A in /my, must not let Mallory cancel A, and Vera's status e-mails
must not go to Mallory. Then Vera proves her phone with Telegram's "share contact" button
and her orders come to /my; a contact that is not hers proves nothing.
"""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from bot.web import build_api_app, build_web_app
from handlers.telegram.callbacks import OrderAct, OrderCB
from handlers.telegram.dialog import BuyerAct, BuyerCB
from services.messaging.email.content import MailContentReader
from services.messaging.email.links import LinkSigner
from services.orders.actors import ActorRef
from storage.models import Buyer, OutboxMessage
from tests.e2e.chats import labels
from tests.e2e.shops import ShopRecipe, open_shop, place_order, ref, status_of

BOT = "cats_shop_bot"


async def setup_shop(tg):
    """Olga's marketplace shop with its manager Max: the shop and Max as an actor."""
    shop = await open_shop(tg, ShopRecipe())
    return shop.id, await ref(tg, shop.manager)


async def new_order(tg, shop_id, phone="+79161234567", **kwargs):
    return await place_order(tg, shop_id, phone=phone, **kwargs)


async def order_through_the_api(tg, shop_id: int, phone: str, email: str) -> dict:
    """Mallory's order, placed the way a storefront does: the real HTTP API on loopback."""
    app = build_web_app(
        tg.container,
        LinkSigner("e2e"),
        bot_username=BOT,
        subapps={"/api": build_api_app(tg.container, bot_username=BOT)},
    )
    token = (await tg.container.api_tokens.create(shop_id, "storefront")).token
    body = {
        "external_id": "web-666",
        "buyer": {"name": "M.", "phone": phone, "email": email},
        "items": [{"sku": "CAT-1", "name": "Cat house", "quantity": 1, "unit_price": "10.00"}],
        "delivery": {"method": "post", "address": "Somewhere 1", "cost": "0"},
        "payment": {"method": "card"},
    }
    async with TestClient(TestServer(app)) as client:
        async with client.post(
            "/api/v1/orders", json=body, headers={"Authorization": f"Bearer {token}"}
        ) as response:
            assert response.status == 201, await response.text()
            return (await response.json())["orders"][0]


async def test_a_phone_on_an_order_does_not_open_another_buyers_orders(tg):
    # given Vera's order A from the storefront, with her phone, address and door code (she
    # has not opened it in Telegram, and gave no e-mail)
    shop_id, manager = await setup_shop(tg)
    order_a = await new_order(
        tg, shop_id, phone="+7 903 555-12-34", email=None, comment="Door code 4512"
    )

    # when Mallory places order B through the API with Vera's phone and her own e-mail
    placed = await order_through_the_api(tg, shop_id, "89035551234", "mallory@example.com")
    mallory = tg.emulator.user("Mallory", language_code="en", phone_number="79990000000")
    link = placed["buyer_link"]
    await tg.say(mallory, f"/start {link.rsplit('start=', 1)[1]}")

    # then B's link gives her B only: /my does not list A
    await tg.say(mallory, "/my")
    listing = tg.last(mallory)
    assert labels(tg, listing) == [f"#{placed['number']} · Cats & Dogs"]
    chat = "\n".join(m.text or "" for m in tg.emulator.messages(mallory))
    assert "Door code" not in chat and f"#{order_a.number} " not in chat

    # and forged buttons for A show nothing and cancel nothing
    for data in (
        BuyerCB(act=BuyerAct.OPEN, id=order_a.id).pack(),
        OrderCB(act=OrderAct.DO, id=order_a.id, arg="cancel", v=order_a.version).pack(),
        OrderCB(
            act=OrderAct.REASON, id=order_a.id, arg="changed_mind", x="cancel", v=order_a.version
        ).pack(),
    ):
        tap = await tg.forged_tap(mallory, listing, data)
        assert tg.answer(tap) == "Order not found."
    assert await status_of(tg, order_a.id) == "awaiting_confirmation"
    assert "Door code" not in "\n".join(m.text or "" for m in tg.emulator.messages(mallory))

    # and Vera's status e-mails do not go to Mallory (A has no e-mail: none are sent)
    await tg.container.orders.apply(order_a.id, manager, "confirm")
    reader = MailContentReader(
        tg.container.sessions,
        tg.container.workflows,
        LinkSigner("e2e"),
        public_url="https://shop.example",
        reply_domain="reply.example",
        bot_username=BOT,
    )
    async with tg.container.sessions() as session:
        rows = list(
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.order_id == order_a.id,
                    OutboxMessage.channel == "email",
                    OutboxMessage.audience == "buyer",
                )
            )
        )
    mails = [await reader.read(row, tg.container.clock.now()) for row in rows]
    assert [mail.to_address for mail in mails if mail is not None] == []

    # and when Vera opens her own link, A is hers
    vera = tg.emulator.user("Vera", language_code="en", phone_number="79035551234")
    await tg.say(vera, f"/start {order_a.buyer_token}")
    await tg.say(vera, "/my")
    assert labels(tg, tg.last(vera)) == [f"#{order_a.number} · Cats & Dogs"]


async def test_sharing_ones_own_phone_brings_the_orders_placed_with_it(tg):
    # given two orders placed with Vera's phone that she never opened by their links
    shop_id, _manager = await setup_shop(tg)
    orders = [await new_order(tg, shop_id, phone="+7 903 555-12-34") for _ in range(2)]
    vera = tg.emulator.user("Vera", language_code="en", phone_number="79035551234")
    mallory = tg.emulator.user("Mallory", language_code="en", phone_number="79990000000")

    # when Mallory sends Vera's number as a contact card (not her own: no proof)
    await tg.say(mallory, "/my")
    tg.emulator.send_contact(mallory, "+79035551234", "Vera")
    await tg.settle()
    assert "not your own number" in tg.last(mallory).text
    # nor can she claim to be Vera's account
    tg.emulator.send_contact(mallory, "+79035551234", "Vera", user_id=vera.id)
    await tg.settle()
    assert "not your own number" in tg.last(mallory).text
    async with tg.container.sessions() as session:
        owners = set(await session.scalars(select(Buyer.user_id).where(Buyer.phone.is_not(None))))
    assert owners == {None}

    # when Vera opens /my and taps "Share my phone number" (Telegram sends her own contact)
    await tg.say(vera, "/my")
    assert tg.emulator.keyboard(vera) == [["📱 Share my phone number"]]
    tg.emulator.share_contact(vera)
    await tg.settle()

    # then her phone is confirmed and both orders are in her list
    texts = [m.text or "" for m in tg.emulator.messages(vera) if m.outgoing]
    assert any("Your phone number +7 903 555-12-34 is confirmed" in text for text in texts)
    assert labels(tg, tg.last(vera)) == [
        f"#{orders[1].number} · Cats & Dogs",
        f"#{orders[0].number} · Cats & Dogs",
    ]
    assert tg.emulator.keyboard(vera) == []  # the button is gone
    # and she acts as their buyer
    view = await tg.container.orders.view(orders[0].id, ActorRef.user(await user_id(tg, vera)))
    assert view.who.actor.is_buyer


async def user_id(tg, person) -> int:
    return (await tg.container.users.touch(person.id, name=person.first_name)).id
