"""An order's invoice is rendered once for the buyer's Telegram message, their e-mail and
their link (issue 15, SPEC E3): the render pool keeps each document by what it shows, in the
bot's process, whichever of its workers would have taken a request."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from services.documents.pool import RenderLimits, RenderPool
from services.documents.service import DocumentService
from services.orders.actors import ActorRef
from storage.models import OutboxMessage
from tests.factories import mail_reader, make_order, make_shop


@pytest.fixture
async def pool():
    pool = RenderPool(2, RenderLimits(seconds=30))
    yield pool
    await pool.close()


async def test_the_telegram_message_the_mail_and_the_link_share_one_render(services, pool):
    # given an order awaiting payment, and the services that send and show its invoice
    documents = DocumentService(services.sessions, services.clock, services.orders, pool)
    reader = mail_reader(services, documents=documents)
    shop = await make_shop(services)
    order = await make_order(services, shop)
    await services.orders.apply(order.id, shop.as_user(shop.manager), "confirm", {})
    async with services.sessions() as session:
        [row] = list(
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.channel == "email", OutboxMessage.topic == "status_changed"
                )
            )
        )
    assert row.payload["status"] == "awaiting_payment"

    # when the Telegram notifier and the mail pump ask for it at the same time (two workers
    # free), and the buyer then opens their link
    telegram, mail = await asyncio.gather(
        documents.invoice_for_buyer(order.id, "ru"),
        reader.read(row, services.clock.now()),
    )
    link = await documents.for_order(order.id, ActorRef.buyer(order.buyer_id), "invoice", "ru")

    # then one document was rendered, and all three carry it
    assert pool.renders == 1
    [(name, content_type, attached)] = mail.attachments
    assert (name, content_type) == (telegram.name, "application/pdf")
    assert telegram.pdf == attached == link.pdf
    assert telegram.pdf.startswith(b"%PDF")


async def test_a_changed_order_is_rendered_again(services, pool):
    # given its invoice rendered once
    documents = DocumentService(services.sessions, services.clock, services.orders, pool)
    shop = await make_shop(services)
    order = await make_order(services, shop)
    first = await documents.invoice_for_buyer(order.id, "ru")
    assert (await documents.invoice_for_buyer(order.id, "ru")).pdf == first.pdf
    # when the order changes (its status: a template may show it), or another language is asked
    await services.orders.apply(order.id, shop.as_user(shop.manager), "confirm", {})
    changed = await documents.invoice_for_buyer(order.id, "ru")
    english = await documents.invoice_for_buyer(order.id, "en")
    # then each is a render of its own
    assert pool.renders == 3
    assert changed.pdf.startswith(b"%PDF") and english.pdf != first.pdf
