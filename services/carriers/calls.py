"""What the carrier adapters share about calling a carrier and reading its answer.

Pacing keeps `min_interval` between two requests to one carrier (the sleep and the clock are
injected, so tests move time instead of waiting); HTTP outcomes every carrier shares (401/403,
429 with Retry-After, 5xx, no answer) become `CarrierError`s the same way; and the carriers'
times and texts are read defensively: a time in the carrier's documented zone becomes UTC, a
text is trimmed and stripped of control characters, an answer too big to be a parcel's journey
is refused rather than parsed.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from services.carriers.base import (
    CarrierError,
    FailureKind,
    ProblemKind,
    Tracking,
    TrackingProblem,
    TrackResult,
)
from services.outside.http import HttpFailure, HttpReply, Transport
from services.time.clock import Clock, SystemClock

Sleep = Callable[[float], Awaitable[None]]

TIME_LIMIT = 15.0  # seconds for one request to a carrier
MAX_ANSWER_BYTES = 1024 * 1024  # a tracking answer bigger than this is not a parcel's journey
MAX_CHECKPOINTS = 500  # real parcels have tens; more means a broken or hostile answer
MAX_TEXT = 300  # characters kept of a carrier's free text (descriptions, places, messages)

MOSCOW = ZoneInfo("Europe/Moscow")
KYIV = ZoneInfo("Europe/Kyiv")

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_SPACES = re.compile(r"\s+")


class Malformed(Exception):
    """Raised by parsers; the adapter turns it into CarrierError(malformed)."""


class Pacer:
    """At most one request per `min_interval` seconds, whoever asks."""

    def __init__(
        self, min_interval: float, sleep: Sleep = asyncio.sleep, clock: Clock | None = None
    ):
        self.min_interval = min_interval
        self._sleep = sleep
        self._clock = clock or SystemClock()
        self._last: datetime | None = None
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self._lock:
            if self._last is not None:
                waited = (self._clock.now() - self._last).total_seconds()
                if waited < self.min_interval:
                    await self._sleep(self.min_interval - waited)
            self._last = self._clock.now()


class Pacers:
    """One Pacer per carrier account: a carrier's limits are per login, key or token, so two
    shops polling the same carrier do not slow each other down."""

    def __init__(self, min_interval: float, sleep: Sleep, clock: Clock | None):
        self.min_interval = min_interval
        self._sleep = sleep
        self._clock = clock
        self._by_account: dict[str, Pacer] = {}

    async def wait(self, account: str) -> None:
        pacer = self._by_account.get(account)
        if pacer is None:
            pacer = self._by_account[account] = Pacer(self.min_interval, self._sleep, self._clock)
        await pacer.wait()


def account_key(*parts: str) -> str:
    """A key naming a carrier account without keeping its secret in memory as is."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


async def send(
    transport: Transport,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    time_limit: float = TIME_LIMIT,
) -> HttpReply:
    try:
        return await transport.request(
            method, url, headers=headers, body=body, time_limit=time_limit
        )
    except HttpFailure as failure:
        # Only the failure's name: its text may quote the URL, and some carriers (Boxberry)
        # take the shop's token in the query string.
        what = clean(failure.reason.split(":", 1)[0], 80)
        raise CarrierError(FailureKind.UNAVAILABLE, f"no answer ({what})") from None


def common_failure(reply: HttpReply, carrier: str) -> CarrierError | None:
    """The HTTP outcomes every carrier means the same by; None for anything else."""
    if reply.status in (401, 403):
        return CarrierError(FailureKind.UNAUTHORIZED, f"{carrier} refused the credentials")
    if reply.status == 429:
        return CarrierError(
            FailureKind.RATE_LIMITED,
            f"{carrier} asks to slow down",
            retry_after=reply.retry_after(),
        )
    if reply.status >= 500:
        return CarrierError(FailureKind.UNAVAILABLE, f"{carrier} answered {reply.status}")
    return None


def check_size(reply: HttpReply, carrier: str) -> None:
    if len(reply.body) > MAX_ANSWER_BYTES:
        raise CarrierError(
            FailureKind.MALFORMED, f"{carrier} answered {len(reply.body)} bytes: too big"
        )


def json_of(reply: HttpReply) -> object:
    try:
        return reply.json()
    except Exception as error:  # MalformedAnswer, and whatever a hostile body may provoke
        raise Malformed("not JSON") from error


def clean(value: object, limit: int = MAX_TEXT) -> str:
    """A carrier's text fit to show and store: a string, single-spaced, no control or
    direction-override characters, at most `limit` characters."""
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise Malformed(f"expected text, got {type(value).__name__}")
    text = _SPACES.sub(" ", _CONTROL.sub("", str(value))).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def local_time(value: object, formats: Sequence[str], zone: ZoneInfo) -> datetime:
    """A carrier's wall-clock time in `zone` (or with its own offset) as UTC."""
    if not isinstance(value, str) or not value or len(value) > 40:
        raise Malformed("a time is missing or not text")
    for layout in formats:
        try:
            parsed = datetime.strptime(value.strip(), layout)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone)
        return parsed.astimezone(UTC)
    raise Malformed(f"a time in an undocumented format: {clean(value, 40)!r}")


def iso_time(value: object) -> datetime:
    """An ISO 8601 time with its offset (CDEK's and Russian Post's) as UTC."""
    if not isinstance(value, str) or not value or len(value) > 40:
        raise Malformed("a time is missing or not text")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise Malformed(f"not an ISO time: {clean(value, 40)!r}") from None
    if parsed.tzinfo is None:
        raise Malformed("a time without its offset")
    return parsed.astimezone(UTC)


def batches(codes: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(codes), size):
        yield list(codes[start : start + size])


def unique(codes: Sequence[str]) -> list[str]:
    """The codes asked about, each once, in the order given (a sweep may repeat one)."""
    return list(dict.fromkeys(codes))


def split_valid(
    codes: Sequence[str], valid: Callable[[str], bool], carrier: str
) -> tuple[list[str], TrackResult]:
    """Codes worth sending, and answers for those that are not (never sent to the carrier)."""
    send_these: list[str] = []
    answered: TrackResult = {}
    for code in unique(codes):
        if isinstance(code, str) and valid(code):
            send_these.append(code)
        else:
            answered[code] = TrackingProblem(
                code, ProblemKind.INVALID_CODE, f"not a {carrier} track number"
            )
    return send_these, answered


def failed(error: CarrierError, done: TrackResult) -> CarrierError:
    """The same failure, carrying what earlier batches answered."""
    error.done.update(done)
    return error


def tracked(code: str, checkpoints: list) -> Tracking:
    if len(checkpoints) > MAX_CHECKPOINTS:
        raise Malformed(f"{len(checkpoints)} checkpoints for one parcel")
    return Tracking(code, tuple(checkpoints))
