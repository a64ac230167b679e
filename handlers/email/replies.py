"""The SMTP edge of buyers' replies to order e-mails (D3): aiosmtpd's session, read into plain
values for the reply inbox (services/messaging/email/replies.py), which stores them.

The mail server of the reply domain forwards `reply+TOKEN@domain` to this receiver. It speaks
SMTP with aiosmtpd's protocol on the application's own event loop (`bot.mail.start_receiver`).

What the sending server hears, and why:
  - RCPT TO: 250 only for a reply address whose token we signed, of an order that exists;
    anything else is refused then (550 5.1.1), before any content is taken. One mail may name
    several orders' addresses: it lands on each order once. More than
    INBOUND_REPLIES_PER_HOUR to one reply address from one sender are refused for now
    (450 4.7.1): a stolen or looping address cannot flood an order's dialog.
  - Size: aiosmtpd refuses more than `max_bytes` (552) at MAIL FROM (SIZE=) or after DATA.
  - DATA: 250 only after the message is committed; a database that fails is 451 4.3.0, so
    the sending server tries again later (a whole mail is one transaction: never half
    stored). Bounces (MAIL FROM:<>), auto-replies (Auto-Submitted other than "no") and
    bulk/list mail (Precedence) are accepted and dropped, so mail loops end here; so is a
    reply with no new text and no files.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

from aiosmtpd.smtp import SMTP, Envelope, Session

from handlers.email import redaction
from handlers.email.reading import inbound_reply, read_mail
from services.messaging.email.replies import ReplyInbox
from services.storefront.rate_limits import NoLimit, RateLimiter

log = logging.getLogger(__name__)

OK = "250 OK"
NO_SUCH_RECIPIENT = "550 5.1.1 No such recipient here"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
TRY_AGAIN = "451 4.3.0 Try again later"
UNREADABLE = "554 5.6.0 The message could not be read"
TOO_MANY_REPLIES = "450 4.7.1 Too many messages to this address; try again later"
MAX_RECIPIENTS = 20  # orders one mail may reply to; more are asked to come in another mail


class ReplyReceiver:
    """The aiosmtpd handler: `handle_RCPT` checks reply addresses, `handle_DATA` reads the
    mail (handlers/email/reading.py) and hands the inbox its plain values."""

    def __init__(self, inbox: ReplyInbox, *, max_bytes: int, limiter: RateLimiter | None = None):
        self._inbox = inbox
        self.domain = inbox.domain
        self.max_bytes = max_bytes
        # Replies per reply address and sender (INBOUND_REPLIES_PER_HOUR).
        self._limiter = limiter or NoLimit()
        redaction.install()  # aiosmtpd logs every RCPT: never with the reply token

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        order_id = self._inbox.order_of(address)
        if order_id is None:
            log.info("inbound mail refused: not a reply address of ours")
            return NO_SUCH_RECIPIENT
        if len({self._order(a) for a in envelope.rcpt_tos} | {order_id}) > MAX_RECIPIENTS:
            return TOO_MANY_RECIPIENTS
        try:
            exists = await self._inbox.order_exists(order_id)
        except Exception:
            log.exception("inbound mail to order %s: the database could not be read", order_id)
            return TRY_AGAIN
        if not exists:
            log.info("inbound mail to order %s refused: no such order", order_id)
            return NO_SUCH_RECIPIENT
        verdict = await self._limiter.hit(_sender_at(address, envelope.mail_from))
        if not verdict.allowed:
            log.warning("inbound mail to order %s refused for now: too many replies", order_id)
            return TOO_MANY_REPLIES
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return OK

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        order_ids = list(dict.fromkeys(self._order(a) for a in envelope.rcpt_tos))
        order_ids = [i for i in order_ids if i is not None]
        if not order_ids:  # cannot happen: every recipient was checked at RCPT
            return NO_SUCH_RECIPIENT
        if (envelope.mail_from or "<>") in ("<>", ""):
            log.info("a bounce to orders %s dropped", order_ids)
            return OK
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):
            content = content.encode("utf-8", errors="surrogateescape")
        try:
            # Parsing up to max_bytes of MIME is CPU work: off the loop the bot also runs on.
            mail = await asyncio.to_thread(read_mail, content)
        except Exception:
            # Our reading failed, not the server's delivery: a retry would fail the same way,
            # and a bounce at least tells the buyer their mail did not arrive.
            log.exception("an inbound mail to orders %s could not be read", order_ids)
            return UNREADABLE
        if mail.automatic:
            log.info("an automatic mail (%s) to orders %s dropped", mail.automatic, order_ids)
            return OK
        reply = inbound_reply(mail, order_ids, envelope_sender=envelope.mail_from)
        try:
            stored = await self._inbox.store(reply)
        except Exception:
            log.exception("an inbound mail to orders %s could not be stored", order_ids)
            return TRY_AGAIN
        if stored is None:
            log.info("an inbound mail to orders %s dropped: the orders are gone", order_ids)
            return NO_SUCH_RECIPIENT
        if stored:
            log.info(
                "an e-mail reply stored on orders %s (%d files)",
                [m.order_id for m in stored],
                len(reply.files),
            )
        return OK

    def _order(self, address: str) -> int | None:
        return self._inbox.order_of(address)


def _sender_at(address: str, sender: str | None) -> str:
    """What replies are counted by: the reply address and the sender, hashed (the address
    holds the token, and the counter may live in Redis)."""
    pair = f"{address.strip().strip('<>').lower()}\n{(sender or '').strip().strip('<>').lower()}"
    return "reply:" + hashlib.sha256(pair.encode()).hexdigest()[:32]
