"""A buyer who never opens Telegram runs their order by e-mail (D1-D3), end to end: the real
bot and emulator, the e-mail pump rendering and sending to a real SMTP server on loopback,
the reply receiver, and the web server behind the one-click links."""

from __future__ import annotations

import re
from datetime import timedelta
from email.message import EmailMessage

import aiohttp
import aiosmtplib

from bot.mail import build_mail_pump, signer_of, start_reply_receiver
from bot.settings import SmtpTls
from bot.web import build_web_app, start_web
from services.messaging.email.links import LinkSigner
from tests.e2e.chats import bot_messages
from tests.e2e.shops import ShopRecipe, dialog_of, open_shop, place_order, ref
from tests.mail_server import MailServer

BUYER = "buyer@example.com"
LINK = re.compile(r"https?://127\.0\.0\.1:\d+/l/[\w.=-]+")
SHOP = ShopRecipe(group=True)


def parts(message: EmailMessage) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_content()
        for part in message.walk()
        if part.get_content_type() in ("text/plain", "text/html")
    }


def links_by_action(message: EmailMessage, signer: LinkSigner, now) -> dict[str, str]:
    text = parts(message)["text/plain"]
    return {
        signer.read_action(url.rsplit("/", 1)[1], now).action: url for url in LINK.findall(text)
    }


async def test_a_buyer_by_email_reads_answers_and_cancels(tg):
    container = tg.container
    mail_server = await MailServer().start()
    web = await start_web(
        build_web_app(container, signer_of(container.settings), bot_username="shopbot_test_bot"),
        "127.0.0.1",
        0,
    )
    port = web.addresses[0][1]
    settings = container.settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": mail_server.port,
            "smtp_tls": SmtpTls.NONE,
            "public_url": f"http://127.0.0.1:{port}",
            "mail_from": "orders@shopbot.test",
        }
    )
    signer = signer_of(settings)
    pump = build_mail_pump(container, settings, bot_username="shopbot_test_bot")
    receiver = await start_reply_receiver(
        container, settings.model_copy(update={"inbound_smtp_port": 0})
    )
    receiver_port = receiver.sockets[0].getsockname()[1]
    try:
        shop_id, _owner, manager, group = await open_shop(tg, SHOP)
        order = await place_order(tg, shop_id)  # an e-mail address, never in the bot
        await tg.deliver()

        # the order placed: one e-mail to the buyer, both parts, in Russian, threaded, with a
        # reply address that leads to this order and a link into Telegram
        await pump.run_once()
        [placed] = mail_server.to(BUYER)
        assert placed["To"] == f"Ivan Petrov <{BUYER}>"
        assert "Cats & Dogs" in str(placed["From"]) and "orders@shopbot.test" in placed["From"]
        assert placed["Content-Language"] == "ru"
        assert signer.order_of_reply(placed["Reply-To"], settings.reply_domain) == order.id
        assert f"<order-{order.id}@" in placed["References"]
        body = parts(placed)
        assert set(body) == {"text/plain", "text/html"}
        assert f"#{order.number}" in body["text/plain"] and "Item CAT-1" in body["text/html"]
        assert f"https://t.me/shopbot_test_bot?start={order.buyer_token}" in body["text/plain"]

        # the manager bills it: the buyer is told, with a link to cancel
        await container.orders.apply(order.id, await ref(tg, manager), "confirm")
        await pump.run_once()
        billed = mail_server.to(BUYER)[-1]
        links = links_by_action(billed, signer, container.clock.now())
        assert "cancel" in links

        # the buyer answers the e-mail: the staff group reads it in Telegram
        answer = EmailMessage()
        answer["From"] = f"Ivan Petrov <{BUYER}>"
        answer["To"] = billed["Reply-To"]
        answer["Subject"] = f"Re: {billed['Subject']}"
        answer.set_content("Can I pay on delivery?\n\n> the quoted e-mail")
        await aiosmtplib.send(answer, hostname="127.0.0.1", port=receiver_port, start_tls=False)
        await tg.deliver()
        [relayed] = bot_messages(tg, group, f"💬 #{order.number} ·")
        assert relayed.content.endswith(": Can I pay on delivery?")

        # the manager replies in the group: the buyer gets it by e-mail, able to reply again
        await tg.say(manager, "Sorry, by card only", chat=group, reply_to=relayed)
        await pump.run_once()
        reply = mail_server.to(BUYER)[-1]
        assert "Sorry, by card only" in parts(reply)["text/plain"]
        assert signer.order_of_reply(reply["Reply-To"], settings.reply_domain) == order.id
        assert await dialog_of(tg, order.id) == [
            ("to_shop", "Can I pay on delivery?"),
            ("to_buyer", "Sorry, by card only"),
        ]

        # the buyer cancels from the e-mail's link: the page asks, the form does it
        async with aiohttp.ClientSession() as browser:
            async with browser.get(links["cancel"]) as page:
                assert page.status == 200
            assert (await container.orders.get(order.id, _system())).status == "awaiting_payment"
            form = {"reason": "changed_mind"}
            async with browser.post(links["cancel"], data=form) as done:
                assert done.status == 200
            async with browser.post(links["cancel"], data=form) as again:
                assert again.status == 409
        cancelled = await container.orders.get(order.id, _system())
        assert cancelled.status == "cancelled"
        await pump.run_once()
        assert len(mail_server.to(BUYER)) == 4  # placed, billed, the reply, cancelled
        # each message once: distinct Message-IDs
        assert len({m["Message-ID"] for m in mail_server.to(BUYER)}) == 4
    finally:
        receiver.close()
        await receiver.wait_closed()
        await web.cleanup()
        await mail_server.stop()


def _system():
    from services.orders.actors import ActorRef

    return ActorRef.system()


async def test_a_mailbox_that_does_not_exist_is_reported_to_the_shop_once(tg):
    container = tg.container
    mail_server = await MailServer().start()
    mail_server.handler.reject.add(BUYER)
    settings = container.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": mail_server.port, "smtp_tls": SmtpTls.NONE}
    )
    pump = build_mail_pump(container, settings, bot_username=None)
    try:
        shop_id, owner, manager, _group = await open_shop(tg, SHOP)
        order = await place_order(tg, shop_id)
        await pump.run_once()
        container.clock.advance(timedelta(hours=2))
        await pump.run_once()  # refused for good: not tried again
        await tg.deliver()
        told = f"📧 The e-mail about order #{order.number} could not be delivered to the buyer"
        owner_texts = [m.content for m in tg.emulator.messages(owner) if m.outgoing]
        assert sum(told in text for text in owner_texts) == 1
        # in the shop's words, never the mail server's (it may carry a relay's internals)
        notice = next(text for text in owner_texts if told in text)
        assert "does not exist or does not accept mail" in notice and "550" not in notice
        assert not any(told in m.content for m in tg.emulator.messages(manager) if m.outgoing)
        assert mail_server.received == []
    finally:
        await mail_server.stop()
