"""Telegram's initData: the Mini App's proof of who opened it (core.telegram.org/bots/webapps,
"Validating data received via the Mini App").

Telegram signs every launch: the data-check-string (every field but `hash`, sorted by name,
`key=value` joined by line feeds) is signed with HMAC-SHA256 under the key
HMAC-SHA256(key="WebAppData", message=bot token). A launch older than `MAX_AGE` is refused, so
initData copied out of a device stops working within a day. Everything here is outside input:
sizes, types and duplicates are checked before anything is believed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

MAX_AGE = timedelta(hours=24)
# Telegram's clock and ours differ a little; a launch further in the future is forged.
CLOCK_SKEW = timedelta(minutes=5)
MAX_LENGTH = 4096  # real initData is well under 1 KB even with a photo URL and a signature
MAX_FIELDS = 20
_HASH_LENGTH = 64


class LaunchRefused(Exception):
    """initData that does not prove anything; `reason` is for logs, never for the user."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Launch:
    """A verified launch: the Telegram user who opened the Mini App, and when."""

    telegram_id: int
    first_name: str
    last_name: str | None
    username: str | None
    language_code: str | None
    auth_date: datetime
    start_param: str | None = None

    @property
    def name(self) -> str:
        return " ".join(filter(None, [self.first_name, self.last_name]))


def secret_key(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def data_check_string(fields: dict[str, str]) -> str:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields) if key != "hash")


def verify(raw: str, bot_token: str, now: datetime, *, max_age: timedelta = MAX_AGE) -> Launch:
    """The launch `raw` proves, or LaunchRefused."""
    if not bot_token:
        raise LaunchRefused("no bot token to check against")
    if not isinstance(raw, str) or not raw or len(raw) > MAX_LENGTH:
        raise LaunchRefused("empty or oversized initData")
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise LaunchRefused("not a query string") from None
    if len(pairs) > MAX_FIELDS:
        raise LaunchRefused("too many fields")
    fields = dict(pairs)
    if len(fields) != len(pairs):
        raise LaunchRefused("a field given twice")
    given = fields.get("hash", "")
    if len(given) != _HASH_LENGTH:
        raise LaunchRefused("no hash")
    expected = hmac.new(
        secret_key(bot_token), data_check_string(fields).encode(), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise LaunchRefused("bad signature")
    # Signed by Telegram from here on; still checked, since a bug there must not become ours.
    auth_date = _auth_date(fields.get("auth_date", ""))
    if auth_date > now + CLOCK_SKEW:
        raise LaunchRefused("auth_date in the future")
    if now - auth_date > max_age:
        raise LaunchRefused("stale initData")
    user = _user(fields.get("user", ""))
    start = fields.get("start_param")
    return Launch(
        telegram_id=user["id"],
        first_name=_text(user.get("first_name"), 128) or "",
        last_name=_text(user.get("last_name"), 128),
        username=_text(user.get("username"), 64),
        language_code=_text(user.get("language_code"), 16),
        auth_date=auth_date,
        start_param=start[:64] if start else None,
    )


def _auth_date(value: str) -> datetime:
    if not value.isdigit() or len(value) > 12:
        raise LaunchRefused("bad auth_date")
    return datetime.fromtimestamp(int(value), UTC)


def _user(value: str) -> dict:
    try:
        user = json.loads(value)
    except ValueError:
        raise LaunchRefused("user is not JSON") from None
    if not isinstance(user, dict):
        raise LaunchRefused("user is not an object")
    user_id = user.get("id")
    # Telegram ids have at most 52 significant bits; bool is an int in Python, and not an id.
    if isinstance(user_id, bool) or not isinstance(user_id, int) or not 0 < user_id < 2**52:
        raise LaunchRefused("bad user id")
    return user


def _text(value: object, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip()[:limit] or None
