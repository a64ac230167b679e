"""Mail faults told apart (issue 14, item 6): a relay's faults are retried and the operator's,
never the shop's and never dropped; a refused recipient fails that one message and tells the
shop once, in its words, never with the server's text."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from services import metrics
from services.messaging.email.pump import FAILED, PENDING, RECIPIENT_REFUSED, SENT
from services.messaging.email.smtp import Deferred, Rejected, _by_code
from storage.models import OutboxMessage
from tests.factories import make_shop
from tests.mail_server import MailServer
from tests.services.test_mail_pump import email_rows, orders_for, pump_of

INTERNAL = "/etc/postfix/virtual"


@pytest.fixture
async def server():
    server = await MailServer().start()
    yield server
    await server.stop()


async def told(services) -> list[OutboxMessage]:
    async with services.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.topic == "email_failed")
            )
        )


def faults(kind: str) -> float:
    return metrics.MAIL_RELAY_FAULTS.labels(kind)._value.get()


@pytest.mark.parametrize(
    ("code", "text", "recipient"),
    [
        (550, "5.1.1 <a@b.test>: Recipient address rejected: User unknown", True),
        (553, "5.1.3 Bad recipient address syntax", True),
        (551, "User not local", True),
        (550, "No such user", True),
        (550, "5.7.1 Relaying denied", False),
        (554, "5.7.1 <a@b.test>: Relay access denied", False),
        (554, "Transaction failed", False),
        (552, "5.3.4 Message too big", False),
        (535, "5.7.8 Authentication credentials invalid", False),
        (450, "4.2.1 Mailbox busy", False),
    ],
)
def test_only_a_refused_recipient_is_the_shops(code, text, recipient):
    outcome = _by_code(code, text)
    assert isinstance(outcome, Rejected if recipient else Deferred)


async def test_a_misconfigured_relay_holds_every_mail_and_tells_only_the_operator(services, server):
    # given a relay that refuses our sender (MAIL_FROM not allowed), with its internals
    shop = await make_shop(services)
    await orders_for(services, shop, "a@buyer.test", "b@buyer.test")
    server.handler.mail_from_answer = f"553 5.7.1 Sender address rejected: {INTERNAL}"
    down = faults("down")
    pump = pump_of(services, server)
    # when the pump tries, again and again
    for _ in range(4):
        assert await pump.run_once() == 0
        services.clock.set(pump.paused_until)
    # then nothing failed, nothing was counted against the mails, no shop was told
    assert {(r.state, r.attempts) for r in await email_rows(services)} == {(PENDING, 0)}
    assert await told(services) == []
    assert faults("down") == down + 4  # the operator's metric
    # and once the operator fixes the relay, every mail goes, once
    server.handler.mail_from_answer = None
    assert await pump.run_once() == 4
    assert {r.state for r in await email_rows(services)} == {SENT}
    assert len(server.received) == 4


async def test_a_relay_refusing_a_mail_retries_it_and_never_drops_it(services, server):
    shop = await make_shop(services)
    await orders_for(services, shop, "a@buyer.test")
    server.handler.answers["a@buyer.test"] = "554 5.7.1 <a@buyer.test>: Relay access denied"
    deferred = faults("deferred")
    pump = pump_of(services, server)
    for _ in range(12):  # more than the old eight attempts before a mail was failed
        await pump.run_once()
        services.clock.advance(timedelta(hours=1))
    row = next(r for r in await email_rows(services) if r.topic == "order_created")
    assert (row.state, row.attempts) == (PENDING, 12)
    assert await told(services) == []
    assert faults("deferred") == deferred + 12
    del server.handler.answers["a@buyer.test"]
    await pump.run_once()
    assert [m["Subject"].split()[1] for m in server.to("a@buyer.test")] == ["order_created"]


async def test_a_refused_recipient_fails_once_and_the_shop_is_told_without_server_text(
    services, server
):
    shop = await make_shop(services)
    await orders_for(services, shop, "gone@buyer.test")
    server.handler.answers["gone@buyer.test"] = (
        f"550 5.1.1 <gone@buyer.test>: Recipient address rejected: User unknown in {INTERNAL}"
    )
    pump = pump_of(services, server)
    await pump.run_once()
    services.clock.advance(timedelta(days=1))
    await pump.run_once()
    row = next(r for r in await email_rows(services) if r.topic == "order_created")
    assert (row.state, row.attempts) == (FAILED, 1)
    assert INTERNAL in row.last_error  # kept for the operator, on the outbox row
    (notice,) = await told(services)
    assert notice.payload["error"] == RECIPIENT_REFUSED
    assert INTERNAL not in str(notice.payload)
