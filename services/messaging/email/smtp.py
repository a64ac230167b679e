"""Sending e-mail with aiosmtplib, and what the server's answer means for the message.

One connection is opened when the first message of a pump pass is sent and kept for the
rest of the pass. The server's answer is sorted into what the pump does next:
  - accepted: sent;
  - refused for the recipient (550/551/553 without an enhanced code, or any 5.1.x: no such
    mailbox, bad address): `Rejected`, never retried, the shop is told;
  - any other refusal of the message, 4xx or 5xx (greylisting, a relay that will not relay,
    rejected content): `Deferred`, this message later with backoff, never the shop's;
  - no connection, timeouts, a dropped connection, failed login, MAIL FROM refused (the
    relay's settings): the server is down; the whole pump waits and nothing is counted
    against the messages.
Only recipient errors are the shop's to act on; everything else is the operator's.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from enum import StrEnum

import aiosmtplib

from services.messaging.email.compose import OutgoingMail

log = logging.getLogger(__name__)


class Tls(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"  # implicit TLS, usually port 465


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int = 587
    user: str | None = None
    password: str | None = None
    tls: Tls = Tls.STARTTLS
    timeout: float = 30.0
    ca_file: str | None = None  # a private CA's certificates (PEM); None: the system's


@dataclass(frozen=True)
class Accepted:
    pass


@dataclass(frozen=True)
class Rejected:
    """The recipient's address is refused for good (no such mailbox): the shop's to know."""

    error: str


@dataclass(frozen=True)
class Deferred:
    """The server refused this message, but not for its recipient (4xx, or a 5xx about the
    relay or the content): the operator's to fix; this message is tried again later."""

    error: str


@dataclass(frozen=True)
class ServerDown:
    """No server to talk to: every message waits."""

    error: str


SendOutcome = Accepted | Rejected | Deferred | ServerDown


class SmtpSender:
    """Sends through one connection at a time; `close()` ends it (the pump does, per pass)."""

    def __init__(self, config: SmtpConfig):
        self._config = config
        self._smtp: aiosmtplib.SMTP | None = None

    async def send(self, mail: OutgoingMail) -> SendOutcome:
        try:
            smtp = await self._connection()
            await smtp.sendmail(mail.sender, [mail.recipient], mail.data)
            return Accepted()
        except aiosmtplib.SMTPRecipientsRefused as refused:
            # Every recipient refused (a message here has one): the recipient's answer decides.
            worst = max(refused.recipients, key=lambda r: r.code)
            return _by_code(worst.code, worst.message)
        except aiosmtplib.SMTPSenderRefused as error:
            # MAIL FROM refused: MAIL_FROM or the login does not suit the relay; every message
            # would meet the same answer, so all wait until the operator fixes it.
            await self.close()
            return ServerDown(f"{error.code} {error.message}")
        except (
            aiosmtplib.SMTPServerDisconnected,
            aiosmtplib.SMTPConnectError,
            aiosmtplib.SMTPTimeoutError,
            aiosmtplib.SMTPAuthenticationError,
            aiosmtplib.SMTPHeloError,
            OSError,
        ) as error:
            await self.close()
            return ServerDown(f"{type(error).__name__}: {error}")
        except aiosmtplib.SMTPResponseException as error:
            # The sender or the data refused (SMTPSenderRefused, SMTPDataError).
            await self._reset()
            return _by_code(error.code, error.message)
        except aiosmtplib.SMTPException as error:
            await self.close()
            return ServerDown(f"{type(error).__name__}: {error}")

    async def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None and smtp.is_connected:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError):
                smtp.close()

    async def _connection(self) -> aiosmtplib.SMTP:
        if self._smtp is not None and self._smtp.is_connected:
            return self._smtp
        config = self._config
        smtp = aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            timeout=config.timeout,
            use_tls=config.tls is Tls.TLS,
            start_tls=True if config.tls is Tls.STARTTLS else False,
            cert_bundle=config.ca_file,
        )
        await smtp.connect()
        if config.user:
            await smtp.login(config.user, config.password or "")
        self._smtp = smtp
        return smtp

    async def _reset(self) -> None:
        """After a refused message the session goes on with the next one: RSET first."""
        if self._smtp is None:
            return
        try:
            await self._smtp.rset()
        except (aiosmtplib.SMTPException, OSError):
            await self.close()


RECIPIENT_CODES = frozenset({550, 551, 553})  # mailbox unavailable, not local, bad name
_ENHANCED = re.compile(r"^\s*([245])\.(\d{1,3})\.(\d{1,3})\b")


def _by_code(code: int, message: str) -> SendOutcome:
    error = f"{code} {message}"
    if 500 <= code < 600:
        return Rejected(error) if recipient_error(code, message) else Deferred(error)
    if 400 <= code < 500:
        return Deferred(error)
    return ServerDown(error)  # not an answer SMTP allows here: treat the server as broken


def recipient_error(code: int, message: str) -> bool:
    """A permanent refusal about the recipient's address (RFC 3463 class 5, subject 1; or,
    without an enhanced code, 550/551/553). "550 5.7.1 Relaying denied" is the relay's."""
    enhanced = _ENHANCED.match(message or "")
    if enhanced is not None:
        return enhanced.group(1) == "5" and enhanced.group(2) == "1"
    return code in RECIPIENT_CODES
