"""The e-mail side of a running bot, built from settings: the pump that sends the outbox's
e-mail rows through SMTP, and the receiver of buyers' replies (SPEC D1-D3).

Replies come in by SMTP (the receiver, for a reply domain whose MX points here), and, with
IMAP_HOST set, from a mailbox polled by IMAP as well. All are off while SMTP_HOST is unset:
a shop that does not send e-mail gets no replies.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from aiosmtpd.smtp import SMTP

from bot.container import Container
from bot.settings import ImapTls, Settings, SmtpTls
from handlers.email.mailbox import ImapConfig, MailboxPoller
from handlers.email.replies import ReplyReceiver
from services.messaging.email.compose import OutgoingMail, compose
from services.messaging.email.content import MailContentReader
from services.messaging.email.links import LinkSigner
from services.messaging.email.pump import MailPump
from services.messaging.email.replies import ReplyInbox
from services.messaging.email.smtp import SmtpConfig, SmtpSender, Tls
from services.storefront.rate_limits import (
    LocalRateLimiter,
    NoLimit,
    RateLimiter,
    RedisRateLimiter,
)
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

DEFAULT_SECRET = "change-me"


def signer_of(settings: Settings) -> LinkSigner:
    """Signs with SECRET_KEY; accepts SECRET_KEY_PREVIOUS too (rotation)."""
    return LinkSigner(settings.secret_keys, reply_mailbox=settings.mail_reply_local_part)


def smtp_config(settings: Settings) -> SmtpConfig:
    return SmtpConfig(
        host=settings.smtp_host or "",
        port=settings.smtp_port,
        user=settings.smtp_user,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        tls={SmtpTls.STARTTLS: Tls.STARTTLS, SmtpTls.TLS: Tls.TLS}.get(settings.smtp_tls, Tls.NONE),
    )


def build_reader(
    container: Container, settings: Settings, *, bot_username: str | None
) -> MailContentReader:
    return MailContentReader(
        container.sessions,
        container.workflows,
        signer_of(settings),
        public_url=settings.public_url,
        reply_domain=settings.reply_domain,
        bot_username=bot_username,
        documents=container.documents,
    )


def build_mail_pump(
    container: Container, settings: Settings, *, bot_username: str | None, **options
) -> MailPump:
    reader = build_reader(container, settings, bot_username=bot_username)

    async def build(row: OutboxMessage, now: datetime) -> OutgoingMail | None:
        mail = await reader.read(row, now)
        return compose(mail, from_address=settings.mail_from) if mail is not None else None

    return MailPump(
        container.sessions, container.clock, build, SmtpSender(smtp_config(settings)), **options
    )


async def start_reply_receiver(container: Container, settings: Settings):
    """The SMTP server the reply domain's mail server forwards `reply+...@` mail to."""
    handler = ReplyReceiver(
        reply_inbox(container, settings),
        max_bytes=settings.inbound_max_bytes,
        limiter=reply_limiter(container, settings),
    )
    return await start_receiver(
        handler,
        settings.inbound_smtp_host,
        settings.inbound_smtp_port,
        max_bytes=settings.inbound_max_bytes,
    )


def reply_limiter(container: Container, settings: Settings) -> RateLimiter:
    """INBOUND_REPLIES_PER_HOUR per reply address and sender; in Redis when REDIS_URL is set
    (every instance counts in one place), else in this process."""
    limit = settings.inbound_replies_per_hour
    if limit == 0:
        return NoLimit()
    if settings.redis_url:
        from redis.asyncio import Redis

        return RedisRateLimiter(Redis.from_url(settings.redis_url), container.clock, limit, 3600)
    return LocalRateLimiter(container.clock, limit, 3600)


def reply_inbox(container: Container, settings: Settings) -> ReplyInbox:
    return ReplyInbox(
        container.sessions,
        container.dialog,
        signer_of(settings),
        domain=settings.reply_domain,
        clock=container.clock,
    )


def mailbox_poller(container: Container, settings: Settings, **options) -> MailboxPoller:
    """The IMAP door for replies (IMAP_HOST set): `await poller.run(stop, every_seconds)`."""
    if settings.imap_tls is ImapTls.NONE and settings.imap_host not in LOOPBACK:
        log.warning("IMAP_TLS=none: the mailbox password crosses the network in clear text")
    config = ImapConfig(
        host=settings.imap_host or "",
        port=settings.imap_port,
        user=settings.imap_user or "",
        password=settings.imap_password.get_secret_value() if settings.imap_password else "",
        folder=settings.imap_folder,
        tls=settings.imap_tls is ImapTls.TLS,
        max_bytes=settings.inbound_max_bytes,
        **options,
    )
    return MailboxPoller(reply_inbox(container, settings), config)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_secret(settings: Settings) -> None:
    """Links in e-mails are signed with SECRET_KEY: the default one would let anybody make
    links for any order, so e-mail is not sent with it."""
    if settings.smtp_host and settings.secret_key.get_secret_value() == DEFAULT_SECRET:
        raise SystemExit("SECRET_KEY: set a long random value before sending e-mail (SMTP_HOST)")


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
    free port: `server.sockets[0].getsockname()[1]`.

    Not aiosmtpd's `Controller`, which runs a thread with its own loop: the async database
    engine belongs to the loop that made it."""
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
