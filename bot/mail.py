"""The e-mail side of a running bot, built from settings: the pump that sends the outbox's
e-mail rows through SMTP, and the receiver of buyers' replies (SPEC D1-D3).

Both are off while SMTP_HOST is unset: a shop that does not send e-mail gets no replies.
"""

from __future__ import annotations

import logging
from datetime import datetime
from email.message import EmailMessage

from bot.container import Container
from bot.settings import Settings, SmtpTls
from services.email.compose import compose
from services.email.content import MailContentReader
from services.email.inbound import ReplyReceiver, start_receiver
from services.email.links import LinkSigner
from services.email.pump import MailPump
from services.email.smtp import SmtpConfig, SmtpSender, Tls
from storage.models import OutboxMessage

log = logging.getLogger(__name__)

DEFAULT_SECRET = "change-me"


def signer_of(settings: Settings) -> LinkSigner:
    return LinkSigner(settings.secret_key.get_secret_value())


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

    async def build(row: OutboxMessage, now: datetime) -> EmailMessage | None:
        mail = await reader.read(row, now)
        return compose(mail, from_address=settings.mail_from) if mail is not None else None

    return MailPump(
        container.sessions, container.clock, build, SmtpSender(smtp_config(settings)), **options
    )


async def start_reply_receiver(container: Container, settings: Settings):
    """The SMTP server the reply domain's mail server forwards `reply+...@` mail to."""
    handler = ReplyReceiver(
        container.sessions,
        container.dialog,
        signer_of(settings),
        domain=settings.reply_domain,
        max_bytes=settings.inbound_max_bytes,
    )
    return await start_receiver(
        handler,
        settings.inbound_smtp_host,
        settings.inbound_smtp_port,
        max_bytes=settings.inbound_max_bytes,
    )


def check_secret(settings: Settings) -> None:
    """Links in e-mails are signed with SECRET_KEY: the default one would let anybody make
    links for any order, so e-mail is not sent with it."""
    if settings.smtp_host and settings.secret_key.get_secret_value() == DEFAULT_SECRET:
        raise SystemExit("SECRET_KEY: set a long random value before sending e-mail (SMTP_HOST)")
