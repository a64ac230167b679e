"""Logging set-up: text for a terminal, JSON lines for a log collector (LOG_FORMAT).

Every record carries the Telegram update id and the order ("shop id/number") it was written
for, when known (services/log_context.py), so one update or one order can be followed
across instances.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

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
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # APScheduler says "running job" at INFO every few seconds: only its problems matter.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
