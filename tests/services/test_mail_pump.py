"""The e-mail pump against a real SMTP server on loopback: once, in order per recipient,
through outages, deferrals and refusals; plain, STARTTLS and implicit TLS with a login."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP

import pytest
import trustme
from sqlalchemy import select

from services.messaging.email.compose import OutgoingMail
from services.messaging.email.pump import FAILED, PENDING, SENT, MailPump
from services.messaging.email.smtp import SmtpConfig, SmtpSender, Tls
from storage.models import Buyer, Order, OutboxMessage, Shop
from tests.factories import item, make_order, make_shop
from tests.mail_server import MailServer


def builder(services):
    """A plain rendering of an outbox row (the pump is under test here, not the templates):
    to the shop's or the buyer's address, the row's id and topic in the subject."""

    async def build(row: OutboxMessage, now) -> OutgoingMail | None:
        async with services.sessions() as session:
            order = await session.get(Order, row.order_id)
            if row.audience == "shop":
                address = await session.scalar(select(Shop.email).where(Shop.id == row.shop_id))
            else:
                address = await session.scalar(
                    select(Buyer.email).where(Buyer.id == order.buyer_id)
                )
        if not address:
            return None
        message = EmailMessage()
        message["From"] = "shop@shopbot.test"
        message["To"] = address
        message["Subject"] = f"{row.id} {row.topic}"
        message.set_content(f"order {order.number}")
        return OutgoingMail("shop@shopbot.test", address, message.as_bytes(policy=SMTP))

    return build


def pump_of(services, server: MailServer, **config) -> MailPump:
    sender = SmtpSender(SmtpConfig("127.0.0.1", server.port, tls=Tls.NONE, **config))
    return MailPump(services.sessions, services.clock, builder(services), sender)


async def email_rows(services) -> list[OutboxMessage]:
    async with services.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.channel == "email")
                .order_by(OutboxMessage.id)
            )
        )


def subjects(server: MailServer, address: str) -> list[str]:
    return [m["Subject"] for m in server.to(address)]


@pytest.fixture
async def server():
    server = await MailServer().start()
    yield server
    await server.stop()


async def orders_for(services, shop, *emails):
    return [
        await make_order(services, shop, item(f"S{i}"), email=address, phone=f"+7916123456{i}")
        for i, address in enumerate(emails)
    ]


async def test_every_message_once_to_its_recipient(services, server):
    shop = await make_shop(services)
    await orders_for(services, shop, "a@buyer.test", "b@buyer.test")
    pump = pump_of(services, server)
    assert await pump.run_once() == 4  # two new-order mails to the shop, one to each buyer
    assert await pump.run_once() == 0
    rows = await email_rows(services)
    assert {r.state for r in rows} == {SENT}
    assert len(server.received) == 4
    assert subjects(server, "a@buyer.test") == [f"{rows[1].id} order_created"]
    assert [s.split()[1] for s in subjects(server, "shop@example.com")] == ["new_order"] * 2


async def test_server_down_then_back_delivers_all_once_in_order(services, server):
    shop = await make_shop(services)
    [order] = await orders_for(services, shop, "a@buyer.test")
    manager = shop.as_user(shop.manager)
    await server.stop()  # the mail server is down while the order moves on
    await services.orders.apply(order.id, manager, "confirm")
    await services.orders.apply(order.id, shop.as_user(shop.accountant), "mark_paid")
    pump = pump_of(services, server)
    for _ in range(3):  # passes while it is down: nothing sent, nothing counted, a pause
        assert await pump.run_once() == 0
        assert pump.paused_until is not None
        services.clock.set(pump.paused_until)
    rows = await email_rows(services)
    assert {(r.state, r.attempts) for r in rows} == {(PENDING, 0)}
    # the server is back
    await server.start()
    assert await pump.run_once() == len(rows)
    buyer_mails = [s for s in subjects(server, "a@buyer.test")]
    ids = [int(s.split()[0]) for s in buyer_mails]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 3  # created, confirmed, paid
    assert {r.state for r in await email_rows(services)} == {SENT}


async def test_a_deferred_message_holds_back_the_later_ones_to_that_address(services, server):
    shop = await make_shop(services)
    [order] = await orders_for(services, shop, "busy@buyer.test")
    server.handler.defer.add("busy@buyer.test")
    pump = pump_of(services, server)
    await pump.run_once()
    await services.orders.apply(order.id, shop.as_user(shop.manager), "confirm")
    await pump.run_once()  # the newer mail must not overtake the deferred one
    assert subjects(server, "busy@buyer.test") == []
    first = next(r for r in await email_rows(services) if r.topic == "order_created")
    assert (first.state, first.attempts) == (PENDING, 1)
    assert "450" in first.last_error
    # the mailbox frees up; a minute later both go, oldest first
    server.handler.defer.clear()
    services.clock.advance(timedelta(minutes=1))
    await pump.run_once()
    assert [s.split()[1] for s in subjects(server, "busy@buyer.test")] == [
        "order_created",
        "status_changed",
    ]


async def test_a_refused_address_fails_once_and_the_shop_is_told(services, server):
    shop = await make_shop(services)
    await orders_for(services, shop, "nobody@buyer.test")
    server.handler.reject.add("nobody@buyer.test")
    pump = pump_of(services, server)
    await pump.run_once()
    services.clock.advance(timedelta(days=1))
    await pump.run_once()  # not tried again
    refused = next(r for r in await email_rows(services) if r.topic == "order_created")
    assert (refused.state, refused.attempts) == (FAILED, 1)
    assert refused.last_error.startswith("550")
    async with services.sessions() as session:
        told = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.topic == "email_failed")
            )
        )
    assert [(t.channel, t.audience, t.payload["topic"]) for t in told] == [
        ("telegram", "shop", "order_created")
    ]


async def test_two_pumps_send_each_message_once(services, server, engine):
    from storage.database import create_session_factory

    shop = await make_shop(services)
    await orders_for(services, shop, *(f"b{i}@buyer.test" for i in range(8)))
    first = pump_of(services, server)
    other = MailPump(
        create_session_factory(engine),
        services.clock,
        builder(services),
        SmtpSender(SmtpConfig("127.0.0.1", server.port, tls=Tls.NONE)),
        batch=2,
    )
    await asyncio.gather(first.run_once(), other.run_once())
    rows = await email_rows(services)
    assert len(server.received) == len(rows) == 16
    assert len({m["Subject"] for m in (r.message for r in server.received)}) == 16


@pytest.fixture(scope="module")
def authority():
    return trustme.CA()


@pytest.mark.parametrize("tls", [Tls.STARTTLS, Tls.TLS])
async def test_tls_and_login(services, authority, tmp_path, tls):
    context = authority.issue_cert("127.0.0.1").configure_cert  # a server certificate
    import ssl

    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context(server_context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    server = MailServer(
        starttls=server_context if tls is Tls.STARTTLS else None,
        implicit_tls=server_context if tls is Tls.TLS else None,
        credentials=("shopbot", "s3cret"),
    )
    await server.start()
    try:
        shop = await make_shop(services)
        await orders_for(services, shop, "a@buyer.test")
        sender = SmtpSender(
            SmtpConfig(
                "127.0.0.1",
                server.port,
                tls=tls,
                user="shopbot",
                password="s3cret",
                ca_file=str(ca_file),
            )
        )
        pump = MailPump(services.sessions, services.clock, builder(services), sender)
        assert await pump.run_once() == 2
        assert len(server.received) == 2
    finally:
        await server.stop()
