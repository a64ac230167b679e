"""A buyer without Telegram answers an order e-mail (D3) end to end: the reply, received over
SMTP, reaches the shop's staff group with its files as documents; a staff member's reply to it
in the group goes back to the buyer by e-mail (an outbox row the e-mail sender takes)."""

from __future__ import annotations

import contextlib
from email.message import EmailMessage

import aiosmtplib
from sqlalchemy import select

from bot.mail import start_receiver
from handlers.email.replies import ReplyReceiver
from services.messaging.email.links import LinkSigner
from services.messaging.email.replies import ReplyInbox
from storage.models import DialogMessage, DialogRelay, OutboxMessage
from tests.e2e.chats import bot_messages
from tests.e2e.shops import ShopRecipe, dialog_of, open_shop, place_order

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(100)) + b"\xff\xd9"
SHOP = ShopRecipe(group=True)


@contextlib.asynccontextmanager
async def receiver(tg):
    """The reply receiver of the running bot, on this event loop; yields its port."""
    container = tg.container
    settings = container.settings
    inbox = ReplyInbox(
        container.sessions,
        container.dialog,
        LinkSigner(settings.secret_key.get_secret_value()),
        domain=settings.reply_domain,
    )
    handler = ReplyReceiver(inbox, max_bytes=settings.inbound_max_bytes)
    server = await start_receiver(handler, "127.0.0.1", 0, max_bytes=settings.inbound_max_bytes)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def reply_address(tg, order) -> str:
    settings = tg.container.settings
    signer = LinkSigner(settings.secret_key.get_secret_value())
    return signer.reply_address(order.id, settings.reply_domain)


def buyer_reply(to: str, text: str, *files: tuple[str, bytes, str, str]) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Ivan Petrov <buyer@example.com>"
    message["To"] = to
    message["Subject"] = "Re: Your order"
    quote = f"On Tue, 24 Nov 2026 at 10:00, Cats & Dogs <{to}> wrote:\n> Your order is placed."
    message.set_content(f"{text}\n\n{quote}")
    for name, data, maintype, subtype in files:
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message


async def send(port: int, message: EmailMessage) -> None:
    await aiosmtplib.send(message, hostname="127.0.0.1", port=port, start_tls=False, timeout=10)


async def outbox_to_buyer(tg, order_id) -> list[OutboxMessage]:
    async with tg.container.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.order_id == order_id, OutboxMessage.topic == "dialog_to_buyer")
            .order_by(OutboxMessage.id)
        )
        return list(rows)


async def test_an_emailed_pdf_reaches_the_group_and_the_staff_reply_goes_back_by_email(tg):
    shop_id, _owner, manager, group = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)  # the buyer gave an e-mail and never opened the bot
    await tg.deliver()
    address = reply_address(tg, order)

    # when the buyer answers the order e-mail with a PDF
    async with receiver(tg) as port:
        await send(
            port,
            buyer_reply(
                address, "Here is the payment slip.", ("slip.pdf", PDF, "application", "pdf")
            ),
        )
    assert await dialog_of(tg, order.id) == [("to_shop", "Here is the payment slip.")]

    # then the staff group gets the PDF itself, the text as its caption
    await tg.deliver()
    [relayed] = bot_messages(tg, group, f"💬 #{order.number} ·")
    assert relayed.document is not None
    assert (relayed.document.name, relayed.document.content) == ("slip.pdf", PDF)
    assert relayed.caption.endswith(": Here is the payment slip.")
    assert "more" not in relayed.caption

    # when the manager answers by replying to it in the group
    await tg.say(manager, "Thank you, the payment arrived", chat=group, reply_to=relayed)
    assert tg.last(group).text == "Sent to the buyer."

    # then the answer is on the order, for the buyer's e-mail
    assert (await dialog_of(tg, order.id))[-1] == ("to_buyer", "Thank you, the payment arrived")
    [row] = await outbox_to_buyer(tg, order.id)
    assert (row.channel, row.audience, row.state) == ("email", "buyer", "pending")
    async with tg.container.sessions() as session:
        answer = await session.get(DialogMessage, row.payload["dialog_message_id"])
    assert (answer.direction, answer.text) == ("to_buyer", "Thank you, the payment arrived")
    # and the Telegram pump leaves it to the e-mail sender
    await tg.deliver()
    assert (await outbox_to_buyer(tg, order.id))[0].state == "pending"


async def test_several_emailed_files_follow_the_first_and_each_can_be_answered(tg):
    shop_id, _owner, manager, group = await open_shop(tg, SHOP)
    order = await place_order(tg, shop_id)
    await tg.deliver()

    async with receiver(tg) as port:
        await send(
            port,
            buyer_reply(
                reply_address(tg, order),
                "The box came broken, see the photos.",
                ("claim.pdf", PDF, "application", "pdf"),
                ("box-1.jpg", JPEG, "image", "jpeg"),
                ("box-2.jpg", JPEG + b"2", "image", "jpeg"),
            ),
        )
    await tg.deliver()

    # the first file carries the text and names the others, which follow as its replies
    [relayed] = bot_messages(tg, group, f"💬 #{order.number} ·")
    assert relayed.document.name == "claim.pdf"
    assert relayed.caption.endswith(
        ": The box came broken, see the photos.\n📎 и ещё 2: box-1.jpg, box-2.jpg"
    )
    following = [m for m in tg.emulator.messages(group) if m.outgoing and m.reply_to is relayed]
    assert [(m.document.name, m.document.content) for m in following] == [
        ("box-1.jpg", JPEG),
        ("box-2.jpg", JPEG + b"2"),
    ]
    async with tg.container.sessions() as session:
        relays = list(await session.scalars(select(DialogRelay).order_by(DialogRelay.id)))
    assert sorted(r.message_id for r in relays) == sorted(
        [relayed.message_id, *(m.message_id for m in following)]
    )

    # a reply to one of the photos goes to the buyer too
    await tg.say(manager, "Sorry! We send a new one today.", chat=group, reply_to=following[1])
    assert tg.last(group).text == "Sent to the buyer."
    [row] = await outbox_to_buyer(tg, order.id)
    assert row.channel == "email"
