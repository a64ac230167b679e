"""Buyers' replies read from a mailbox by IMAP (no MX record of ours): the same dialog as by
SMTP, nothing lost (unseen until stored), nothing twice (a receipt per message), refusals
marked and logged. A real IMAP client (aioimaplib) against an IMAP4rev1 server on loopback
(tests/imap_server.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import ssl
from email.message import EmailMessage

import pytest
import trustme
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from handlers.email.mailbox import ImapConfig, ImapError, MailboxPoller
from services.messaging.dialog import DialogService
from services.messaging.email.links import LinkSigner
from services.messaging.email.replies import ReplyInbox
from storage.models import DialogFile, DialogMessage, InboundEmail
from tests.factories import make_order, make_shop
from tests.imap_server import ImapServer, Mailbox

DOMAIN = "shop.example"
MAX_BYTES = 64 * 1024


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
async def server(mailbox):
    server = await ImapServer(mailbox).start()
    yield server
    await server.stop()


@pytest.fixture
def signer() -> LinkSigner:
    return LinkSigner("test-secret")


def inbox_of(services, signer) -> ReplyInbox:
    dialog = DialogService(services.sessions, services.clock)
    return ReplyInbox(services.sessions, dialog, signer, domain=DOMAIN, clock=services.clock)


def poller_of(services, signer, server, mailbox, **config) -> MailboxPoller:
    settings = {
        "host": "127.0.0.1",
        "port": server.port,
        "user": mailbox.user,
        "password": mailbox.password,
        "tls": False,
        "max_bytes": MAX_BYTES,
        "timeout": 10,
        **config,
    }
    return MailboxPoller(inbox_of(services, signer), ImapConfig(**settings))


def reply(to: str, text: str, *, sender="Ivan Petrov <buyer@example.com>", **headers) -> bytes:
    """A buyer's reply as the mailbox holds it: the delivering server added Return-Path and
    Delivered-To (RFC 5321 4.4; Postfix and Dovecot write Delivered-To)."""
    message = EmailMessage()
    message["Return-Path"] = "<buyer@example.com>"
    message["Delivered-To"] = to
    message["From"] = sender
    message["To"] = to
    message["Subject"] = "Re: Your order"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message.as_bytes()


async def stored(services) -> list[DialogMessage]:
    async with services.sessions() as session:
        return list(await session.scalars(select(DialogMessage).order_by(DialogMessage.id)))


async def an_order(services):
    shop = await make_shop(services)
    return await make_order(services, shop)


async def test_a_reply_in_the_mailbox_lands_in_the_dialog_and_is_marked_seen(
    services, signer, server, mailbox
):
    # given a buyer's reply with a file, delivered to the mailbox by plus addressing
    order = await an_order(services)
    message = EmailMessage()
    message.set_content("Can I pick it up tomorrow?\n\nOn Mon, Shop wrote:\n> Your order")
    message.add_attachment(
        b"%PDF-1.4 receipt", maintype="application", subtype="pdf", filename="receipt.pdf"
    )
    message["From"] = "Ivan Petrov <buyer@example.com>"
    message["To"] = signer.reply_address(order.id, DOMAIN)
    message["Return-Path"] = "<buyer@example.com>"
    uid = mailbox.deliver(message.as_bytes())

    # when the poller runs
    report = await poller_of(services, signer, server, mailbox).poll_once()

    # then the dialog has it, the quoted history cut and the file kept, as by SMTP
    [row] = await stored(services)
    assert (row.order_id, row.direction, row.channel) == (order.id, "to_shop", "email")
    assert row.text == "Can I pick it up tomorrow?"
    async with services.sessions() as session:
        [file] = list(await session.scalars(select(DialogFile)))
    assert (file.name, file.data) == ("receipt.pdf", b"%PDF-1.4 receipt")
    assert report.stored == 1 and mailbox.flags(uid) == {"\\Seen"}
    # it was fetched without being marked (PEEK) and marked only after it was stored
    fetches = [c for c in mailbox.commands if c.startswith("UID")]
    assert fetches == ["UID SEARCH", "UID FETCH", "UID FETCH", "UID STORE"]

    # and a second poll finds nothing to do
    again = await poller_of(services, signer, server, mailbox).poll_once()
    assert (again.stored, again.dropped) == (0, 0)
    assert len(await stored(services)) == 1


async def test_a_database_failure_leaves_the_message_unseen_for_the_next_poll(
    services, signer, server, mailbox, monkeypatch
):
    order = await an_order(services)
    uid = mailbox.deliver(reply(signer.reply_address(order.id, DOMAIN), "Still there?"))
    poller = poller_of(services, signer, server, mailbox)

    async def down(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("database is down"))

    monkeypatch.setattr(DialogService, "from_email_to_orders", down)
    report = await poller.poll_once()
    assert (report.stored, report.left) == (0, 1)
    assert mailbox.flags(uid) == set()  # not seen: nothing lost
    monkeypatch.undo()

    report = await poller.poll_once()
    assert report.stored == 1 and mailbox.flags(uid) == {"\\Seen"}
    assert [m.text for m in await stored(services)] == ["Still there?"]


async def test_a_message_whose_mark_was_lost_is_not_stored_twice(services, signer, server, mailbox):
    # given the connection drops right after the message was stored, before \Seen
    order = await an_order(services)
    uid = mailbox.deliver(reply(signer.reply_address(order.id, DOMAIN), "Only once, please"))
    mailbox.drop_on_store = 1
    with pytest.raises(ImapError):
        await poller_of(services, signer, server, mailbox).poll_once()
    assert mailbox.flags(uid) == set()
    assert len(await stored(services)) == 1

    # when the next poll reads it again
    report = await poller_of(services, signer, server, mailbox).poll_once()

    # then its receipt is found: marked now, stored no more
    assert (report.stored, report.again) == (0, 1)
    assert mailbox.flags(uid) == {"\\Seen"}
    assert len(await stored(services)) == 1
    async with services.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(InboundEmail)) == 1


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (lambda to: reply(to, "I am away", Auto_Submitted="auto-replied"), "auto-reply"),
        (lambda to: reply(to, "Out of office", Precedence="bulk"), "bulk"),
        (
            lambda to: reply(to, "Undeliverable").replace(
                b"Return-Path: <buyer@example.com>", b"Return-Path: <>"
            ),
            "bounce",
        ),
        (lambda to: reply("reply+1.000000000000000000000000@shop.example", "forged"), "forged"),
        (lambda to: reply("someone@else.example", "not ours"), "not ours"),
        (lambda to: reply(to, "\n\nOn Mon, Shop wrote:\n> Your order"), "nothing new"),
    ],
)
async def test_what_smtp_would_refuse_or_drop_is_marked_seen_and_not_stored(
    services, signer, server, mailbox, content, why
):
    order = await an_order(services)
    uid = mailbox.deliver(content(signer.reply_address(order.id, DOMAIN)))
    report = await poller_of(services, signer, server, mailbox).poll_once()
    assert await stored(services) == [], why
    assert mailbox.flags(uid) == {"\\Seen"}, why
    assert report.stored == 0


async def test_a_huge_message_is_flagged_and_never_downloaded(services, signer, server, mailbox):
    order = await an_order(services)
    big = reply(signer.reply_address(order.id, DOMAIN), "x" * (MAX_BYTES + 10))
    uid = mailbox.deliver(big)
    report = await poller_of(services, signer, server, mailbox).poll_once()
    assert report.flagged == 1 and await stored(services) == []
    assert mailbox.flags(uid) == {"\\Seen", "\\Flagged"}
    assert mailbox.commands.count("UID FETCH") == 1  # its size, never its body


async def test_one_mail_to_two_orders_lands_on_each_once(services, signer, server, mailbox):
    shop = await make_shop(services)
    first = await make_order(services, shop, external_id="a")
    second = await make_order(services, shop, external_id="b")
    message = EmailMessage()
    message["From"] = "buyer@example.com"
    message["To"] = signer.reply_address(first.id, DOMAIN)
    message["Cc"] = signer.reply_address(second.id, DOMAIN)
    message.set_content("Both, please")
    mailbox.deliver(message.as_bytes())
    await poller_of(services, signer, server, mailbox).poll_once()
    assert sorted(m.order_id for m in await stored(services)) == [first.id, second.id]


async def test_a_wrong_password_or_folder_is_an_error_that_names_no_secret(
    services, signer, server, mailbox
):
    wrong = poller_of(services, signer, server, mailbox, password="not-the-password")
    with pytest.raises(ImapError) as refused:
        await wrong.poll_once()
    assert "login refused" in str(refused.value)
    assert "not-the-password" not in str(refused.value)
    missing = poller_of(services, signer, server, mailbox, folder="Replies")
    with pytest.raises(ImapError, match="no folder 'Replies'"):
        await missing.poll_once()
    nobody = poller_of(services, signer, server, mailbox, port=1)
    with pytest.raises(ImapError, match="cannot connect"):
        await nobody.poll_once()


async def test_implicit_tls_with_a_trusted_certificate(services, signer, mailbox):
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    server = await ImapServer(mailbox, ssl_context=server_context).start()
    try:
        order = await an_order(services)
        mailbox.deliver(reply(signer.reply_address(order.id, DOMAIN), "Over TLS"))
        poller = poller_of(services, signer, server, mailbox, tls=True, ssl_context=client_context)
        assert (await poller.poll_once()).stored == 1
        # a server whose certificate is not trusted is not given the password
        untrusted = poller_of(services, signer, server, mailbox, tls=True)
        logins = mailbox.logins
        with pytest.raises(ImapError, match="cannot connect"):
            await untrusted.poll_once()
        assert mailbox.logins == logins
    finally:
        await server.stop()
