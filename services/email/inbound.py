"""Buyers' replies to order e-mails, received over SMTP into the order's dialog (D3).

The mail server of the reply domain forwards `reply+TOKEN@domain` to this receiver. It speaks
SMTP with aiosmtpd's protocol on the application's own event loop (`start_receiver`), not
aiosmtpd's `Controller`, which runs a thread with its own loop: the async database engine
belongs to the loop that made it.

What the sending server hears, and why:
  - RCPT TO: 250 only for a reply address whose token we signed, of an order that exists;
    anything else is refused then (550 5.1.1), before any content is taken. One mail may name
    several orders' addresses: it lands on each order once.
  - Size: aiosmtpd refuses more than `max_bytes` (552) at MAIL FROM (SIZE=) or after DATA.
  - DATA: 250 only after the message is committed; a database that fails is 451 4.3.0, so
    the sending server tries again later (a whole mail is one transaction: never half
    stored). Bounces (MAIL FROM:<>), auto-replies (Auto-Submitted other than "no") and
    bulk/list mail (Precedence) are accepted and dropped, so mail loops end here; so is a
    reply with no new text and no files.
"""

from __future__ import annotations

import asyncio
import logging
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.dialog import MAX_ATTACHMENTS, DialogService
from services.email.links import LinkSigner
from services.email.reply_text import Reply, read_reply
from services.orders.unit import MAX_ID
from storage.database import reading
from storage.models import Order

log = logging.getLogger(__name__)

OK = "250 OK"
NO_SUCH_RECIPIENT = "550 5.1.1 No such recipient here"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
TRY_AGAIN = "451 4.3.0 Try again later"
UNREADABLE = "554 5.6.0 The message could not be read"
MAX_RECIPIENTS = 20  # orders one mail may reply to; more are asked to come in another mail
BULK = frozenset({"bulk", "junk", "list"})
AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-mailru-autoreply")


class ReplyReceiver:
    """The aiosmtpd handler: `handle_RCPT` checks reply addresses, `handle_DATA` stores."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        dialog: DialogService,
        signer: LinkSigner,
        *,
        domain: str,
        max_bytes: int,
        max_files: int = MAX_ATTACHMENTS,
    ):
        self._sessions = sessions
        self._dialog = dialog
        self._signer = signer
        self.domain = domain
        self.max_bytes = max_bytes
        self._max_files = max_files

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        order_id = self._signer.order_of_reply(address, self.domain)
        if order_id is None or not 0 < order_id <= MAX_ID:
            log.info("inbound mail to %r refused: not a reply address of ours", address)
            return NO_SUCH_RECIPIENT
        if len({self._order(a) for a in envelope.rcpt_tos} | {order_id}) > MAX_RECIPIENTS:
            return TOO_MANY_RECIPIENTS
        try:
            async with reading(self._sessions) as db:
                exists = await db.scalar(select(Order.id).where(Order.id == order_id))
        except Exception:
            log.exception("inbound mail to %r: the database could not be read", address)
            return TRY_AGAIN
        if exists is None:
            log.info("inbound mail to order %s refused: no such order", order_id)
            return NO_SUCH_RECIPIENT
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
            automatic, sender, reply = await asyncio.to_thread(self._read, content)
        except Exception:
            # Our reading failed, not the server's delivery: a retry would fail the same way,
            # and a bounce at least tells the buyer their mail did not arrive.
            log.exception("an inbound mail to orders %s could not be read", order_ids)
            return UNREADABLE
        if automatic:
            log.info("an automatic mail (%s) to orders %s dropped", automatic, order_ids)
            return OK
        sender = sender or envelope.mail_from
        try:
            stored = await self._dialog.from_email_to_orders(
                order_ids,
                sender=sender,
                text=reply.text,
                files=reply.attachments,
                max_files=self._max_files,
            )
        except Exception:
            log.exception("an inbound mail to orders %s could not be stored", order_ids)
            return TRY_AGAIN
        if stored is None:
            log.info("an inbound mail to orders %s dropped: the orders are gone", order_ids)
            return NO_SUCH_RECIPIENT
        if stored:
            log.info(
                "an e-mail reply from %s stored on orders %s (%d files)",
                sender,
                [m.order_id for m in stored],
                len(reply.attachments),
            )
        return OK

    def _read(self, content: bytes) -> tuple[str | None, str, Reply]:
        """Whether a program sent it (why), the From address, and the reply's text and files."""
        message: Any = BytesParser(policy=policy.default).parsebytes(content)
        automatic = _automatic(message)
        if automatic:
            return automatic, "", Reply("", [])
        return None, _sender(message), read_reply(message)

    def _order(self, address: str) -> int | None:
        return self._signer.order_of_reply(address, self.domain)


def _sender(message: EmailMessage) -> str:
    """The address in From (the envelope's may be a forwarder's rewritten one)."""
    try:
        values = message.get_all("from") or []
        addresses = [address for _name, address in getaddresses([str(v) for v in values])]
    except (IndexError, TypeError, ValueError):
        return ""
    return next((a.strip() for a in addresses if "@" in a), "")


def _automatic(message: EmailMessage) -> str | None:
    """Why a mail was sent by a program (an auto-reply, a list), or None if a person wrote it."""
    submitted = str(message.get("auto-submitted", "") or "").strip().lower()
    if submitted and submitted.split(";")[0].strip() != "no":
        return f"Auto-Submitted: {submitted}"
    precedence = str(message.get("precedence", "") or "").strip().lower()
    if precedence in BULK:
        return f"Precedence: {precedence}"
    for header in AUTOREPLY_HEADERS:
        if message.get(header) is not None:
            return header
    if message.get_content_type() == "multipart/report":
        return "a delivery report"
    return None


async def start_receiver(
    handler: ReplyReceiver,
    host: str,
    port: int,
    *,
    max_bytes: int,
    hostname: str | None = None,
    idle_seconds: float = 300,
) -> asyncio.base_events.Server:
    """Listen on host:port with aiosmtpd's SMTP protocol on the running event loop; close the
    returned server to stop (`server.close(); await server.wait_closed()`). Port 0 takes a
    free port: `server.sockets[0].getsockname()[1]`."""
    loop = asyncio.get_running_loop()
    name = hostname or getattr(handler, "domain", None) or "localhost"

    def protocol() -> SMTP:
        return SMTP(
            handler,
            data_size_limit=max_bytes,
            enable_SMTPUTF8=True,
            hostname=name,  # not socket.getfqdn(): a DNS lookup per connection
            ident="ShopBot",
            timeout=idle_seconds,  # a connection that says nothing this long is closed
            loop=loop,
        )

    return await loop.create_server(protocol, host, port)
