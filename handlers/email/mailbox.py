"""The IMAP door for buyers' replies: when the reply domain's mail cannot be pointed at the
bot (no MX record of ours, no open port 25), the replies wait in an ordinary mailbox (plus
addressing: `reply+TOKEN@domain` lands in `reply@domain`) and this poller reads them.

Same dialog semantics as the SMTP receiver (handlers/email/replies.py), through the same
reading (handlers/email/reading.py) and the same reply inbox; what differs is only how a
message is refused or kept:

- Nothing is lost: a message is marked \\Seen only after it is stored (or found not to be
  stored, for a reason that will not change). A database that fails leaves it unseen: the
  next poll takes it again. BODY.PEEK fetches it without marking it.
- Nothing is stored twice: the message's receipt (mailbox, UIDVALIDITY, UID, hashed) is
  written in the transaction that stores it, so a message whose \\Seen mark failed (the
  connection dropped) is recognised and only marked the next time.
- Refusals have no SMTP answer to go back in: a mail to an address that is not ours, an
  automatic one, a bounce, an empty reply are marked seen and dropped (logged); one over
  INBOUND_MAX_BYTES or unreadable is marked \\Flagged and seen, never downloaded again, for
  the mailbox's owner to look at.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import ssl
from dataclasses import dataclass, field
from datetime import timedelta

import aioimaplib

from handlers.email.reading import inbound_reply, read_mail
from handlers.email.replies import MAX_RECIPIENTS
from services.messaging.email.replies import ReplyInbox

log = logging.getLogger(__name__)

BATCH = 50  # messages one poll takes; the rest wait for the next
RECEIPTS_KEPT = timedelta(days=30)
_UIDVALIDITY = re.compile(rb"\[UIDVALIDITY (\d{1,10})\]")
_SIZE = re.compile(rb"RFC822\.SIZE (\d{1,12})")


class ImapError(Exception):
    """The mailbox could not be read this time (refused login, no such folder, a dropped
    connection); the next poll tries again."""


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    tls: bool = True
    max_bytes: int = 10 * 1024 * 1024
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = None  # None: the system's trusted CAs


@dataclass
class PollReport:
    stored: int = 0  # messages that landed in dialogs
    dropped: int = 0  # read and let go: not ours, automatic, empty, orders gone
    flagged: int = 0  # too big or unreadable: left flagged for a person
    again: int = 0  # stored before, only marked now
    left: int = 0  # not taken this time (the database failed): the next poll takes them


class MailboxPoller:
    def __init__(self, inbox: ReplyInbox, config: ImapConfig, *, batch: int = BATCH):
        self._inbox = inbox
        self._config = config
        self._batch = batch

    async def run(self, stop: asyncio.Event, every_seconds: float) -> None:
        """Poll until `stop` is set; a failed poll is logged and tried at the next turn."""
        while not stop.is_set():
            try:
                report = await self.poll_once()
                if report.stored or report.flagged:
                    log.info("mailbox polled: %s", report)
            except ImapError as error:
                log.warning("the reply mailbox could not be read: %s", error)
            except Exception:
                log.exception("polling the reply mailbox failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_seconds)

    async def poll_once(self) -> PollReport:
        config = self._config
        lost = asyncio.Event()
        context = (config.ssl_context or ssl.create_default_context()) if config.tls else None
        client = _Client(
            aioimaplib.IMAP4(
                config.host,
                config.port,
                timeout=config.timeout,
                conn_lost_cb=lambda _error: lost.set(),
                ssl_context=context,
            ),
            lost,
            config.timeout,
        )
        report = PollReport()
        try:
            try:
                await client.call(client.imap.wait_hello_from_server())
            except (OSError, ImapError, aioimaplib.AioImapException) as error:
                raise ImapError(f"cannot connect to {config.host}:{config.port}: {error}") from None
            login = await client.call(client.imap.login(config.user, config.password))
            if login.result != "OK":
                raise ImapError(f"login refused for {config.user}")  # never the password
            selected = await client.call(client.imap.select(f'"{config.folder}"'))
            if selected.result != "OK":
                raise ImapError(f"no folder {config.folder!r} in the mailbox")
            validity = next(
                (int(m.group(1)) for line in selected.lines if (m := _UIDVALIDITY.search(line))),
                0,
            )
            for uid in await self._unseen(client):
                if not await self._take(client, uid, validity, report):
                    break  # the database failed: the rest wait for the next poll
            await self._inbox.forget_receipts(RECEIPTS_KEPT)
        except (aioimaplib.AioImapException, ConnectionError) as error:
            raise ImapError(f"the IMAP conversation broke off: {error!r}") from None
        finally:
            with contextlib.suppress(Exception):
                if not lost.is_set():
                    await client.call(client.imap.logout(), seconds=5)
        return report

    async def _unseen(self, client) -> list[int]:
        found = await client.call(client.imap.uid_search("UNSEEN", charset=None))
        if found.result != "OK":
            raise ImapError("the mailbox refused to search")
        uids = sorted(
            {
                int(word)
                for line in found.lines[:-1]
                if isinstance(line, bytes | bytearray)
                for word in bytes(line).split()
                if word.isdigit() and len(word) <= 10
            }
        )
        return uids[: self._batch]

    async def _take(self, client, uid: int, validity: int, report: PollReport) -> bool:
        """One message: read, stored, marked. False when it must wait (the database failed)."""
        config = self._config
        sized = await client.call(client.imap.uid("fetch", str(uid), "(RFC822.SIZE)"))
        size = next(
            (int(m.group(1)) for line in sized.lines if (m := _SIZE.search(bytes(line)))), None
        )
        if size is None:
            return True  # gone meanwhile (another client moved it)
        if size > config.max_bytes:
            log.warning("reply mail uid %s is %s bytes, over the limit: flagged", uid, size)
            await self._mark(client, uid, "\\Seen \\Flagged")
            report.flagged += 1
            return True
        fetched = await client.call(client.imap.uid("fetch", str(uid), "(BODY.PEEK[])"))
        # The message is the literal of the FETCH answer (RFC 3501 7.4.2): a bytearray here.
        content = next((bytes(x) for x in fetched.lines if isinstance(x, bytearray)), None)
        if content is None or len(content) > config.max_bytes:
            await self._mark(client, uid, "\\Seen \\Flagged")
            report.flagged += 1
            return True
        try:
            # Parsing up to max_bytes of MIME is CPU work: off the loop the bot also runs on.
            mail = await asyncio.to_thread(read_mail, content, delivered=True)
        except Exception:
            log.exception("reply mail uid %s could not be read: flagged", uid)
            await self._mark(client, uid, "\\Seen \\Flagged")
            report.flagged += 1
            return True
        if mail.automatic:
            log.info("an automatic mail (%s) in the mailbox dropped", mail.automatic)
            return await self._dropped(client, uid, report)
        order_ids = list(
            dict.fromkeys(i for a in mail.recipients if (i := self._inbox.order_of(a)) is not None)
        )[:MAX_RECIPIENTS]
        if not order_ids:
            log.info("a mail in the mailbox is not to a reply address of ours: dropped")
            return await self._dropped(client, uid, report)
        receipt = hashlib.sha256(
            f"{config.host}|{config.user}|{config.folder}|{validity}|{uid}".encode()
        ).hexdigest()
        try:
            stored = await self._inbox.store(inbound_reply(mail, order_ids, receipt=receipt))
        except Exception:
            log.exception("a reply mail to orders %s could not be stored: left unseen", order_ids)
            report.left += 1
            return False
        await self._mark(client, uid, "\\Seen")
        if stored:
            log.info("an e-mail reply stored on orders %s", [m.order_id for m in stored])
            report.stored += 1
        elif stored is None:
            log.info("a reply mail to orders %s dropped: the orders are gone", order_ids)
            report.dropped += 1
        else:  # stored before (its receipt), or nothing new in it
            report.again += 1
        return True

    async def _dropped(self, client, uid: int, report: PollReport) -> bool:
        await self._mark(client, uid, "\\Seen")
        report.dropped += 1
        return True

    async def _mark(self, client, uid: int, flags: str) -> None:
        marked = await client.call(client.imap.uid("store", str(uid), f"+FLAGS.SILENT ({flags})"))
        if marked.result != "OK":
            raise ImapError(f"the mailbox refused to mark message {uid}")


class _Client:
    """aioimaplib's client, each command bounded in time and ended by a lost connection
    (the library would wait for an answer that never comes)."""

    def __init__(self, imap: aioimaplib.IMAP4, lost: asyncio.Event, timeout: float):
        self.imap = imap
        self._lost = lost
        self._timeout = timeout

    async def call(self, awaitable, *, seconds: float | None = None):
        command = asyncio.ensure_future(awaitable)
        lost = asyncio.ensure_future(self._lost.wait())
        try:
            done, _ = await asyncio.wait(
                {command, lost},
                timeout=seconds or self._timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            lost.cancel()
        if command in done:
            return command.result()
        command.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await command
        raise ImapError("the connection was lost" if self._lost.is_set() else "no answer in time")
