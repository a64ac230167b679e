"""A real SMTP server on loopback for tests (aiosmtpd on the test's event loop).

It keeps what it receives, and can be told to refuse a recipient for good (550) or for now
(450), to go down and come back on the same port, and to speak STARTTLS or implicit TLS.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.smtp import SMTP, AuthResult, Envelope


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    reject: set[str] = field(default_factory=set)  # 550: never
    defer: set[str] = field(default_factory=set)  # 450: not now
    answers: dict[str, str] = field(default_factory=dict)  # address -> its RCPT answer
    mail_from_answer: str | None = None  # a relay that refuses our MAIL FROM

    async def handle_MAIL(self, server, session, envelope: Envelope, address, options):
        if self.mail_from_answer is not None:
            return self.mail_from_answer
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope: Envelope, address, options):
        if address.lower() in self.answers:
            return self.answers[address.lower()]
        if address.lower() in self.reject:
            return "550 5.1.1 No such mailbox"
        if address.lower() in self.defer:
            return "450 4.2.1 Mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope: Envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted"


class MailServer:
    def __init__(
        self,
        *,
        starttls: ssl.SSLContext | None = None,
        implicit_tls: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
    ):
        self.handler = _Handler()
        self.port = 0
        self._starttls = starttls
        self._implicit = implicit_tls
        self._credentials = credentials
        self._server: asyncio.base_events.Server | None = None

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.recipients]

    async def start(self) -> MailServer:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._protocol, "127.0.0.1", self.port, ssl=self._implicit
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _protocol(self) -> SMTP:
        options = {}
        if self._credentials is not None:
            user, password = self._credentials

            def check(server, session, envelope, mechanism, auth_data):
                ok = auth_data.login == user.encode() and auth_data.password == password.encode()
                return AuthResult(success=ok)

            options = {
                "authenticator": check,
                "auth_required": True,
                # Over implicit TLS aiosmtpd cannot tell the connection is encrypted already.
                "auth_require_tls": self._starttls is not None,
            }
        return SMTP(
            self.handler,
            hostname="mail.test",
            tls_context=self._starttls,
            require_starttls=self._starttls is not None,
            **options,
        )
