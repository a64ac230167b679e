"""Buyers' e-mail replies land in the order's dialog (D3): the receiver runs on the test's event
loop and real SMTP conversations (aiosmtplib) talk to it, against SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib
import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.mail import start_receiver
from handlers.email.replies import ReplyReceiver
from services.messaging.dialog import MAX_TEXT, DialogService
from services.messaging.email.links import LinkSigner
from services.messaging.email.replies import ReplyInbox
from services.refusals import OrderRefused, Problem
from storage.models import DialogFile, DialogMessage, OutboxMessage
from tests.factories import make_order, make_shop

DOMAIN = "shop.example"
MAX_BYTES = 64 * 1024
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8 + b"\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(200)) + b"\xff\xd9"
QUOTED = (
    "\n\nOn Mon, 23 Nov 2026 at 10:00, Shop marketplace <\n{address}> wrote:\n\n"
    "> Your order is ready.\n>\n> Shop marketplace\n"
)


@dataclass
class Mail:
    port: int
    signer: LinkSigner
    dialog: DialogService
    receiver: ReplyReceiver

    def address(self, order_id: int) -> str:
        return self.signer.reply_address(order_id, DOMAIN)

    async def send(self, message: EmailMessage | bytes, *, sender=None, recipients=None, **kw):
        return await aiosmtplib.send(
            message,
            sender=sender,
            recipients=recipients,
            hostname="127.0.0.1",
            port=self.port,
            start_tls=False,
            timeout=10,
            **kw,
        )


@pytest.fixture
async def mail(services):
    signer = LinkSigner("test-secret")
    dialog = DialogService(services.sessions, services.clock)
    inbox = ReplyInbox(services.sessions, dialog, signer, domain=DOMAIN)
    receiver = ReplyReceiver(inbox, max_bytes=MAX_BYTES)
    server = await start_receiver(receiver, "127.0.0.1", 0, max_bytes=MAX_BYTES)
    port = server.sockets[0].getsockname()[1]
    try:
        yield Mail(port, signer, dialog, receiver)
    finally:
        server.close()
        await server.wait_closed()


def reply(to: str | list[str], text: str, *, sender="Ivan Petrov <buyer@example.com>", **headers):
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to) if isinstance(to, list) else to
    message["Subject"] = "Re: Your order"
    message["Message-ID"] = "<reply-1@example.com>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message


async def stored(services) -> list[DialogMessage]:
    async with services.sessions() as session:
        return list(await session.scalars(select(DialogMessage).order_by(DialogMessage.id)))


async def files(services) -> list[DialogFile]:
    async with services.sessions() as session:
        return list(await session.scalars(select(DialogFile).order_by(DialogFile.id)))


async def outbox(services) -> list[OutboxMessage]:
    async with services.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.topic.like("dialog_%"))
            .order_by(OutboxMessage.id)
        )
        return list(rows)


async def an_order(services):
    shop = await make_shop(services)
    return shop, await make_order(services, shop)  # the buyer gave buyer@example.com


async def test_a_reply_lands_in_the_dialog_without_the_quoted_history(services, mail):
    _shop, order = await an_order(services)
    address = mail.address(order.id)

    answer, _ = await mail.send(
        reply(address, "Can I pick it up tomorrow?" + QUOTED.format(address=address))
    )

    assert answer == {}  # every recipient accepted
    [message] = await stored(services)
    assert (message.order_id, message.direction, message.channel) == (order.id, "to_shop", "email")
    assert message.author_user_id is None and message.telegram_message_id is None
    assert (message.text, message.attachments) == ("Can I pick it up tomorrow?", [])
    [row] = await outbox(services)
    assert (row.channel, row.audience, row.topic, row.order_id) == (
        "telegram",
        "shop",
        "dialog_to_shop",
        order.id,
    )
    assert row.payload == {"dialog_message_id": message.id}


async def test_attachments_are_kept_with_their_bytes(services, mail):
    _shop, order = await an_order(services)
    message = reply(mail.address(order.id), "The receipt and a photo of the box.")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="receipt.pdf")
    message.add_attachment(JPEG, maintype="image", subtype="jpeg", filename="../../box.jpg")

    await mail.send(message)

    [row] = await stored(services)
    assert row.text == "The receipt and a photo of the box."
    assert [(a["kind"], a["name"], a["size"]) for a in row.attachments] == [
        ("document", "receipt.pdf", len(PDF)),
        ("document", "box.jpg", len(JPEG)),
    ]
    kept = await files(services)
    assert [(f.dialog_message_id, f.name, f.content_type, f.size) for f in kept] == [
        (row.id, "receipt.pdf", "application/pdf", len(PDF)),
        (row.id, "box.jpg", "image/jpeg", len(JPEG)),
    ]
    assert [bytes(f.data) for f in kept] == [PDF, JPEG]
    assert len(await outbox(services)) == 1


async def test_files_alone_are_a_message_and_too_many_are_dropped_with_a_note(services, mail):
    _shop, order = await an_order(services)
    message = reply(mail.address(order.id), "")
    for n in range(12):
        message.add_attachment(PDF, maintype="application", subtype="pdf", filename=f"page-{n}.pdf")

    await mail.send(message)

    [row] = await stored(services)
    assert len(row.attachments) == 10 and len(await files(services)) == 10
    assert row.text == "📎 2 more file(s) not kept (at most 10): page-10.pdf, page-11.pdf"


async def test_a_long_text_is_cut_not_refused(services, mail):
    _shop, order = await an_order(services)

    await mail.send(reply(mail.address(order.id), "word " * 1500))

    [row] = await stored(services)
    assert len(row.text) == MAX_TEXT and row.text.endswith("word…")


async def test_another_sender_is_accepted_and_named_to_the_shop(services, mail):
    _shop, order = await an_order(services)

    await mail.send(reply(mail.address(order.id), "I am his wife.", sender="anna@example.org"))
    # the buyer's own address, in other letters' case, is the buyer
    await mail.send(reply(mail.address(order.id), "And I am Ivan.", sender="BUYER@Example.com"))

    assert [m.text for m in await stored(services)] == [
        "(from anna@example.org) I am his wife.",
        "And I am Ivan.",
    ]


@pytest.mark.parametrize(
    "recipient",
    [
        pytest.param("forged", id="forged-token"),
        pytest.param("garbled", id="garbled-token"),
        pytest.param("other-order", id="token-of-another-order-id"),
        pytest.param("info@shop.example", id="unknown-local-part"),
        pytest.param("other-domain", id="other-domain"),
        pytest.param("gone", id="order-gone"),
    ],
)
async def test_addresses_that_are_not_ours_are_refused_at_rcpt(services, mail, recipient):
    _shop, order = await an_order(services)
    good = mail.address(order.id)
    local, _, _domain = good.partition("@")
    address = {
        "forged": f"{local[:-4]}abcd@{DOMAIN}",
        "garbled": f"reply+{order.id}.not-hex@{DOMAIN}",
        "other-order": f"reply+{order.id + 1}.{local.split('.')[1]}@{DOMAIN}",
        "other-domain": f"{local}@elsewhere.example",
        "gone": mail.address(order.id + 1000),  # a token we signed, for no order
    }.get(recipient, recipient)

    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await mail.send(reply(address, "Hello?"))

    [error] = refused.value.recipients
    assert (error.code, error.message) == (550, "5.1.1 No such recipient here")
    assert await stored(services) == [] and await outbox(services) == []


async def test_one_good_address_among_refused_ones_is_delivered(services, mail):
    _shop, order = await an_order(services)
    good, bad = mail.address(order.id), f"reply+{order.id}.{'0' * 24}@{DOMAIN}"

    errors, _ = await mail.send(reply([bad, good], "Hi"))

    assert errors[bad].code == 550
    assert [m.order_id for m in await stored(services)] == [order.id]


async def test_an_oversized_mail_is_refused_552(services, mail):
    _shop, order = await an_order(services)
    message = reply(mail.address(order.id), "Big photo")
    message.add_attachment(b"x" * MAX_BYTES, maintype="image", subtype="jpeg", filename="big.jpg")

    # up front, as the receiver announces SIZE and the client says it (MAIL FROM ... SIZE=)
    with pytest.raises(aiosmtplib.SMTPSenderRefused) as refused:
        await mail.send(message)
    assert refused.value.code == 552
    # and at the end of DATA from a client that does not say it
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=mail.port, start_tls=False) as smtp:
        await smtp.mail("buyer@example.com")
        await smtp.rcpt(mail.address(order.id))
        with pytest.raises(aiosmtplib.SMTPDataError) as refused:
            await smtp.data(message.as_bytes())
    assert refused.value.code == 552
    assert await stored(services) == [] and await files(services) == []


@pytest.mark.parametrize(
    "automatic",
    [
        pytest.param({"Auto_Submitted": "auto-replied"}, id="auto-replied"),
        pytest.param({"Auto_Submitted": "auto-generated; owner-email=x@y"}, id="auto-generated"),
        pytest.param({"Precedence": "bulk"}, id="bulk"),
        pytest.param({"Precedence": "junk"}, id="junk"),
        pytest.param({"Precedence": "list"}, id="list"),
        pytest.param({"X_Autoreply": "yes"}, id="x-autoreply"),
    ],
)
async def test_auto_replies_are_accepted_and_dropped(services, mail, automatic):
    _shop, order = await an_order(services)

    answer, _ = await mail.send(reply(mail.address(order.id), "I am on holiday", **automatic))

    assert answer == {}
    assert await stored(services) == []


async def test_a_bounce_is_accepted_and_dropped(services, mail):
    _shop, order = await an_order(services)
    message = reply(mail.address(order.id), "Delivery to the following recipient failed")

    answer, _ = await mail.send(message, sender="")

    assert answer == {}
    assert await stored(services) == []


async def test_a_person_saying_auto_submitted_no_is_stored(services, mail):
    _shop, order = await an_order(services)
    await mail.send(reply(mail.address(order.id), "Hello", Auto_Submitted="no"))
    assert [m.text for m in await stored(services)] == ["Hello"]


async def test_a_reply_with_nothing_new_is_accepted_and_stores_nothing(services, mail):
    _shop, order = await an_order(services)
    address = mail.address(order.id)

    answer, _ = await mail.send(reply(address, "\n" + QUOTED.format(address=address)))

    assert answer == {}
    assert await stored(services) == [] and await outbox(services) == []


async def test_two_orders_in_one_mail_each_get_it_once(services, mail):
    shop, first = await an_order(services)
    second = await make_order(services, shop)
    to = [mail.address(first.id), mail.address(second.id), mail.address(first.id).upper()]
    message = reply(to, "Please ship both together.")
    message.add_attachment(PDF, maintype="application", subtype="pdf", filename="list.pdf")

    await mail.send(message)

    rows = await stored(services)
    assert sorted((m.order_id, m.text) for m in rows) == [
        (first.id, "Please ship both together."),
        (second.id, "Please ship both together."),
    ]
    assert sorted(f.dialog_message_id for f in await files(services)) == sorted(m.id for m in rows)
    assert sorted(r.order_id for r in await outbox(services)) == sorted([first.id, second.id])


async def test_a_database_error_asks_the_sender_to_try_again(services, mail, monkeypatch):
    _shop, order = await an_order(services)

    async def broken(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(mail.dialog, "from_email_to_orders", broken)
    with pytest.raises(aiosmtplib.SMTPDataError) as deferred:
        await mail.send(reply(mail.address(order.id), "Hello"))

    assert (deferred.value.code, deferred.value.message) == (451, "4.3.0 Try again later")
    monkeypatch.undo()
    # the sending server's retry then lands
    await mail.send(reply(mail.address(order.id), "Hello"))
    assert [m.text for m in await stored(services)] == ["Hello"]


async def test_non_utf8_mail_is_read(services, mail):
    _shop, order = await an_order(services)
    raw = (
        "From: buyer@example.com\r\n"
        f"To: {mail.address(order.id)}\r\n"
        "Subject: =?koi8-r?B?8M/M1d7FzsnF?=\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=koi8-r\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\n"
    ).encode("ascii") + "Когда доставка?\r\n\r\n> Заказ собран.\r\n".encode("koi8-r")

    await mail.send(raw, sender="buyer@example.com", recipients=[mail.address(order.id)])

    assert [m.text for m in await stored(services)] == ["Когда доставка?"]


async def test_from_email_directly(services):
    dialog = DialogService(services.sessions, services.clock)
    _shop, order = await an_order(services)

    assert await dialog.from_email(order.id, sender="buyer@example.com", text="  ") is None
    files_only = await dialog.from_email(
        order.id, sender="buyer@example.com", files=[("a.pdf", "application/pdf", PDF)]
    )
    assert (files_only.text, [a["name"] for a in files_only.attachments]) == ("", ["a.pdf"])
    with pytest.raises(OrderRefused) as refused:
        await dialog.from_email(order.id + 1000, sender="buyer@example.com", text="hi")
    assert refused.value.code is Problem.NOT_FOUND
