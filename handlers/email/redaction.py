"""Reply tokens kept out of the logs (issue 14, item 6).

A reply address (`reply+1234.<MAC>@domain`) is a bearer credential: whoever has it can
write into that order's dialog. aiosmtpd logs each RCPT at INFO (logger "mail.log") and our
edges name addresses too, so a filter on those loggers rewrites every record's text with
the MAC replaced (the order id stays, for an operator to follow). The root handler gets the
same filter (bot/logs.py), for a record from anywhere else.
"""

from __future__ import annotations

import logging
import re

from services.messaging.email.links import REPLY_MAC_CHARS

# "<order id>.<MAC>" before an "@" (or the end of a quoted address): the token's shape.
_TOKEN = re.compile(rf"\b(\d{{1,10}})\.[0-9a-fA-F]{{{REPLY_MAC_CHARS}}}\b")
HIDDEN = "[hidden]"
# aiosmtpd's, and the e-mail edges' own.
LOGGERS = ("mail.log", "handlers.email.replies", "handlers.email.mailbox", "handlers.email.reading")


def redact(text: str) -> str:
    return _TOKEN.sub(rf"\1.{HIDDEN}", text)


class ReplyTokenFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a record that cannot be formatted is left to the handler
            return True
        hidden = redact(text)
        if hidden != text:
            record.msg, record.args = hidden, None
        return True


_FILTER = ReplyTokenFilter()


def install() -> None:
    """Put the filter on aiosmtpd's and our e-mail loggers (once; calling again is harmless)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
