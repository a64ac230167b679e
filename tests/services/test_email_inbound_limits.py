"""Inbound replies (issue 14, item 6): a reply address is a credential, never logged, and one
address cannot flood an order's dialog: more than the hourly limit per reply address and
sender get a temporary SMTP refusal, and go through once the hour turns."""

from __future__ import annotations

import logging
from datetime import timedelta

import aiosmtplib
import pytest

from bot.mail import start_receiver
from handlers.email.redaction import redact
from handlers.email.replies import ReplyReceiver
from services.messaging.dialog import DialogService
from services.messaging.email.links import LinkSigner
from services.messaging.email.replies import ReplyInbox
from services.storefront.rate_limits import LocalRateLimiter
from tests.services.test_email_inbound import DOMAIN, MAX_BYTES, Mail, an_order, reply, stored

LIMIT = 3


@pytest.fixture
async def mail(services):
    signer = LinkSigner("test-secret")
    dialog = DialogService(services.sessions, services.clock)
    inbox = ReplyInbox(services.sessions, dialog, signer, domain=DOMAIN, clock=services.clock)
    limiter = LocalRateLimiter(services.clock, LIMIT, 3600)
    receiver = ReplyReceiver(inbox, max_bytes=MAX_BYTES, limiter=limiter)
    server = await start_receiver(receiver, "127.0.0.1", 0, max_bytes=MAX_BYTES)
    try:
        yield Mail(server.sockets[0].getsockname()[1], signer, dialog, receiver)
    finally:
        server.close()
        await server.wait_closed()


async def test_more_replies_than_the_limit_are_refused_for_now(services, mail):
    _shop, order = await an_order(services)
    address = mail.address(order.id)
    for n in range(LIMIT):
        await mail.send(reply(address, f"message {n}"), sender="buyer@example.com")
    # the next one from the same sender to the same address: a temporary refusal (4xx)
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
        await mail.send(reply(address, "one too many"), sender="buyer@example.com")
    (answer,) = refused.value.recipients
    assert answer.code == 450
    assert [m.text for m in await stored(services)] == [f"message {n}" for n in range(LIMIT)]
    # another sender is counted on its own
    await mail.send(reply(address, "from the spouse"), sender="spouse@example.com")
    # and an hour later the buyer gets through again
    services.clock.advance(timedelta(hours=1))
    await mail.send(reply(address, "later"), sender="buyer@example.com")
    assert [m.text for m in await stored(services)][-2:] == ["from the spouse", "later"]


async def test_reply_tokens_never_reach_the_logs(services, mail, caplog):
    _shop, order = await an_order(services)
    address = mail.address(order.id)
    token = address.split("@")[0].split(".")[-1]
    forged = address.replace(token, "0" * len(token))
    caplog.set_level(logging.DEBUG)
    await mail.send(reply(address, "hello"), sender="buyer@example.com")
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await mail.send(reply(forged, "hello"), recipients=[forged], sender="x@example.com")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "RCPT" in logged or "rcpt" in logged.lower()  # aiosmtpd did log the recipients
    assert token not in logged and "0" * len(token) not in logged
    assert f"{order.id}.[hidden]" in logged


def test_redact_keeps_the_order_and_hides_the_mac():
    text = "RCPT TO:<reply+42.0123456789abcdef01234567@shop.example>"
    assert redact(text) == "RCPT TO:<reply+42.[hidden]@shop.example>"
    assert redact("nothing here 42.5") == "nothing here 42.5"
