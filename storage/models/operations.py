"""What operations keep: receipts of the e-mails read from the reply mailbox by IMAP."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base


class InboundEmail(Base):
    """A message taken from the IMAP mailbox, written in the transaction that stores it: if
    marking it read fails afterwards, the next poll finds its receipt and stores it no more.

    `receipt` is a SHA-256 of the mailbox, its UIDVALIDITY and the message's UID: no
    address or content. Rows older than the poller's horizon are purged.
    """

    __tablename__ = "inbound_emails"

    receipt: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
