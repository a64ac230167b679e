"""Logging set-up: text for a terminal, JSON lines for a log collector (LOG_FORMAT), and
errors to Sentry when SENTRY_DSN is set, scrubbed of secrets and personal data.

Every record carries the Telegram update id and the order ("shop id/number") it was written
for, when known (services/log_context.py), so one update or one order can be followed
across instances.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from handlers.email import redaction
from handlers.email.redaction import ReplyTokenFilter
from services.log_context import ORDER, UPDATE_ID

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s"


class ContextFilter(logging.Filter):
    """Adds `update_id`, `order` and a ready `context` suffix for the text format."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.update_id = UPDATE_ID.get()
        record.order = ORDER.get()
        parts = []
        if record.update_id is not None:
            parts.append(f"update={record.update_id}")
        if record.order is not None:
            parts.append(f"order={record.order}")
        record.context = f" [{' '.join(parts)}]" if parts else ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("update_id", "order"):
            value = getattr(record, key, None)
            if value is not None:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def setup_logging(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(ContextFilter())
    handler.addFilter(ReplyTokenFilter())  # a reply address is a credential: never logged
    redaction.install()  # and on aiosmtpd's logger itself, before any handler sees a record
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler says "running job" at INFO every few seconds: only its problems matter.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))


# -- Sentry (optional: SENTRY_DSN) -------------------------------------------------------------

# What must never leave for Sentry, whatever message or exception carries it: secrets (the bot
# token, storefront API tokens, one-click link tokens, reply addresses, passwords in URLs)
# and buyers' contact details (e-mail addresses, phone numbers).
_SCRUBBED = (
    (re.compile(r"(?<!\d)\d{5,}:[A-Za-z0-9_-]{30,}"), "[bot token]"),
    (re.compile(r"\bsbk_[A-Za-z0-9_-]{16,}"), "[api token]"),
    (re.compile(r"/l/[A-Za-z0-9_.=-]+"), "/l/[link]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [token]"),
    (re.compile(r"://[^/\s:@]+:[^/\s@]+@"), "://[credentials]@"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[e-mail]"),
    (re.compile(r"\+\d{10,15}\b|\b[78]\d{10}\b"), "[phone]"),
)


def scrub_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    for secret in secrets:
        text = text.replace(secret, "[secret]")
    for pattern, replacement in _SCRUBBED:
        text = pattern.sub(replacement, text)
    return text


def _scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, secrets)
    if isinstance(value, dict):
        return {key: _scrub(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item, secrets) for item in value]
    return value


def sentry_scrubber(secrets: tuple[str, ...]):
    """Sentry's before_send and before_breadcrumb: every string of the event scrubbed, and no
    user, request body, cookies or headers at all (the storefront's token travels in one)."""
    secrets = tuple(s for s in secrets if len(s) >= 6)

    def before_send(event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        event.pop("user", None)
        request = event.get("request")
        if isinstance(request, dict):
            for key in ("data", "cookies", "headers", "query_string", "env"):
                request.pop(key, None)
        return _scrub(event, secrets)

    return before_send


def setup_sentry(dsn: str, *, secrets: tuple[str, ...] = (), release: str | None = None) -> None:
    """Errors (and the ERROR log lines) to Sentry; called only when SENTRY_DSN is set."""
    import sentry_sdk

    scrubber = sentry_scrubber(secrets)
    sentry_sdk.init(
        dsn=dsn,
        release=release,
        send_default_pii=False,  # no IP addresses, users or cookies
        include_local_variables=False,  # a frame's locals may hold an order or a token
        max_request_body_size="never",
        traces_sample_rate=0.0,  # errors only: no performance data leaves
        before_send=scrubber,
        before_breadcrumb=scrubber,
    )
