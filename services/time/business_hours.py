"""Working-time arithmetic for SLA deadlines: pure, no I/O and no clock reading.

Shops promise to handle an order within N hours *of their own working time*: the hours between
20:00 and 09:00, weekends, public holidays and the shop's own days off do not count. An order
placed on Tuesday at 18:00 with a 3-hour limit therefore expires on Wednesday at 10:00 (2 h
until Tuesday 20:00, then 1 h from Wednesday 09:00), and one placed on Friday at 18:00 expires
on Monday at 10:00.

The model: every local calendar day has at most one working interval, the wall-clock
[opens, closes) of its weekday, unless the day is closed. The interval is converted to UTC
with zoneinfo and all arithmetic happens on UTC instants, so durations are real elapsed time:
on the day clocks spring forward a 00:00-23:00 day lasts 22 hours, and 09:00 local stays
09:00 local across a DST change. Callers pass the current time in; nothing here reads a
clock, so deadlines are reproducible in tests and identical on every worker.

Local times that do not exist (inside a spring-forward gap) or exist twice (inside a
fall-back overlap) are read with ``fold=0``, the zoneinfo default, and normalised through
UTC. That means: an ambiguous time is its first occurrence, and a nonexistent time is read
with the offset in force before the jump (02:30 in Berlin on the spring-forward day becomes
01:30 UTC, i.e. 03:30 CEST). If that makes a day's closing instant come no later than its
opening instant, the day has no working time. Each day's interval is also clipped to the
UTC span of its own local day, so intervals of neighbouring days never overlap and the
counted time is never counted twice, whatever the zone does at midnight.

Only days off are modelled: working Saturdays that some countries transfer from a holiday
are not (the ``holidays`` package lists days off, and a shop with a Saturday shift says so
in its working hours).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import holidays

# The keys shops store their hours under (services.shops.settings.DAYS) and the hours of a
# shop that never set its own (services.shops.service.DEFAULT_WORKING_HOURS). Repeated here rather
# than imported so this pure module does not drag in the database layer; a unit test checks
# that the copies agree.
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_WORKING_HOURS: Mapping[str, list[str]] = MappingProxyType(
    {day: ["09:00", "20:00"] for day in DAYS[:5]}
)

# A calendar with no working time at all (no hours, or every day closed) would make `add`
# walk forever. Three years covers any real run of closed days (holidays, a long vacation).
MAX_IDLE_DAYS = 3 * 366
_NO_WORKING_TIME = "no working time in the next 3 years"

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)


@functools.lru_cache(maxsize=1024)
def public_holidays(country: str, year: int) -> frozenset[date]:
    """The public holidays of `country` in `year`; empty when the package does not know it.

    Cached per (country, year): a calendar is built for every order card shown, and the
    `holidays` package computes a year from rules (Easter, observed days) each time.
    """
    try:
        calendar = holidays.country_holidays(country, years=year)
    except NotImplementedError:
        # An unknown country must not break deadlines: it simply has no public holidays.
        return frozenset()
    # The set of keys only: `in` on the package's object would silently expand to other years.
    return frozenset(day for day in calendar if day.year == year)


@dataclass(frozen=True)
class ClosedDays:
    """Days a shop does not work although its weekday has hours: holidays and days off.

    A callable rather than a set of dates so public holidays load lazily, one year at a
    time, however far a deadline reaches. Frozen and hashable so it can sit in a frozen
    calendar and serve as a default.
    """

    country: str | None = None
    days_off: frozenset[date] = frozenset()

    def __call__(self, day: date) -> bool:
        if day in self.days_off:
            return True
        return self.country is not None and day in public_holidays(self.country, day.year)


@dataclass(frozen=True)
class BusinessCalendar:
    """A shop's working time: weekly hours in its time zone minus closed days.

    `hours` maps a weekday (0 = Monday .. 6 = Sunday) to its local (opens, closes); a missing
    weekday is closed. `closed_days(day)` says whether a local date is closed regardless of
    its weekday. All instants returned are timezone-aware UTC.
    """

    timezone: ZoneInfo
    hours: Mapping[int, tuple[time, time]]
    closed_days: Callable[[date], bool] = ClosedDays()

    def __post_init__(self) -> None:
        if not isinstance(self.timezone, ZoneInfo):
            raise ValueError(f"timezone must be a ZoneInfo, got {self.timezone!r}")
        checked: dict[int, tuple[time, time]] = {}
        for weekday, span in self.hours.items():
            if weekday not in range(7):
                raise ValueError(f"weekday must be 0 (Monday) to 6 (Sunday), got {weekday!r}")
            opens, closes = span
            if opens.tzinfo is not None or closes.tzinfo is not None:
                raise ValueError("working hours are local wall-clock times, without a tzinfo")
            if closes <= opens:
                raise ValueError(f"weekday {weekday}: closing {closes} must come after {opens}")
            checked[weekday] = (opens, closes)
        # A read-only copy: the caller's dict changing later must not change a frozen calendar.
        object.__setattr__(self, "hours", MappingProxyType(checked))

    def __hash__(self) -> int:
        # The generated hash would fail on the mapping; hash its sorted items instead, so a
        # calendar can key a cache.
        return hash((self.timezone, tuple(sorted(self.hours.items())), self.closed_days))

    @classmethod
    def for_shop(
        cls,
        timezone: str,
        working_hours: Mapping[str, list[str]] | None,
        country: str | None,
        days_off: Iterable[str] = (),
    ) -> BusinessCalendar:
        """The calendar of a shop from its stored settings.

        `working_hours` is the stored {"mon": ["09:00", "20:00"], ...}; empty or None means
        the default Monday-Friday 09:00-20:00, and a day whose value is empty is closed (as
        the settings screen reads it). `country` is an ISO 3166 alpha-2 code for public
        holidays; None, "" or a code the `holidays` package does not know means none.
        `days_off` are the shop's own ISO dates. Raises ValueError for malformed hours or
        dates, and zoneinfo.ZoneInfoNotFoundError for an unknown time zone.
        """
        hours: dict[int, tuple[time, time]] = {}
        for key, span in (working_hours or DEFAULT_WORKING_HOURS).items():
            if key not in DAYS:
                raise ValueError(f"unknown day {key!r}: use one of {', '.join(DAYS)}")
            if not span:
                continue
            if len(span) != 2:
                raise ValueError(f"{key}: expected [opens, closes], got {span!r}")
            hours[DAYS.index(key)] = (time.fromisoformat(span[0]), time.fromisoformat(span[1]))
        code = country.strip().upper() if country else ""
        closed = ClosedDays(
            country=code or None,
            days_off=frozenset(date.fromisoformat(day) for day in days_off),
        )
        return cls(timezone=ZoneInfo(timezone), hours=hours, closed_days=closed)

    # -- queries --------------------------------------------------------------------------

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which `duration` of working time has passed since `start`.

        Counting begins at `start`, or at the next opening if the shop is closed then. When
        the time runs out exactly at a closing time, that closing time is the answer (not
        the next opening): Tuesday 18:00 + 2 h is Tuesday 20:00. A zero duration returns
        `start` itself. Raises ValueError for a naive `start`, a negative duration, or a
        calendar with no working time within MAX_IDLE_DAYS of where the count stands.
        """
        cursor = _as_utc(start)
        if duration < _ZERO:
            raise ValueError(f"duration must not be negative, got {duration}")
        if duration == _ZERO:
            return cursor
        remaining = duration
        idle_days = 0
        # Start one local day early: the clipping rules can, in odd zones, put the interval
        # containing `cursor` on the previous local date. Intervals already over are skipped.
        day = self._local_date(cursor) - _ONE_DAY
        while True:
            interval = self._interval(day)
            if interval is not None and interval[1] > cursor:
                opens = max(interval[0], cursor)
                available = interval[1] - opens
                if remaining <= available:
                    return opens + remaining
                remaining -= available
                cursor = interval[1]
                idle_days = 0
            else:
                idle_days += 1
                if idle_days > MAX_IDLE_DAYS:
                    raise ValueError(_NO_WORKING_TIME)
            day += _ONE_DAY

    def between(self, start: datetime, end: datetime) -> timedelta:
        """The working time inside [start, end); zero when `end` is not after `start`."""
        start, end = _as_utc(start), _as_utc(end)
        total = _ZERO
        if end <= start:
            return total
        # One extra local day on each side for the same reason as in `add`; the intersection
        # with [start, end) discards whatever does not belong.
        first = self._local_date(start) - _ONE_DAY
        last = self._local_date(end) + _ONE_DAY
        for opens, closes in self._intervals(first, last):
            overlap = min(closes, end) - max(opens, start)
            if overlap > _ZERO:
                total += overlap
        return total

    def is_open(self, instant: datetime) -> bool:
        """Whether `instant` falls in working time: opening is inside, closing is not."""
        instant = _as_utc(instant)
        today = self._local_date(instant)
        return any(
            opens <= instant < closes
            for opens, closes in self._intervals(today - _ONE_DAY, today + _ONE_DAY)
        )

    # -- internals ------------------------------------------------------------------------

    def _intervals(self, first: date, last: date) -> Iterator[tuple[datetime, datetime]]:
        day = first
        while day <= last:
            interval = self._interval(day)
            if interval is not None:
                yield interval
            day += _ONE_DAY

    def _interval(self, day: date) -> tuple[datetime, datetime] | None:
        """The UTC [opens, closes) of a local date, or None when it has no working time."""
        span = self.hours.get(day.weekday())
        if span is None or self.closed_days(day):
            return None
        opens = max(self._utc(day, span[0]), self._utc(day, time()))
        closes = min(self._utc(day, span[1]), self._utc(day + _ONE_DAY, time()))
        # Inverted only around a DST gap (see the module docstring): no working time then.
        return (opens, closes) if opens < closes else None

    def _utc(self, day: date, wall: time) -> datetime:
        # fold=0 is explicit: first occurrence of an ambiguous time, pre-jump offset for a
        # nonexistent one (see the module docstring).
        local = datetime.combine(day, wall.replace(fold=0), tzinfo=self.timezone)
        return local.astimezone(UTC)

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.timezone).date()


def _as_utc(instant: datetime) -> datetime:
    """`instant` in UTC; a naive datetime is refused because its zone would be a guess."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is needed, got naive {instant!r}")
    return instant.astimezone(UTC)


def business_calendar(shop: Any) -> BusinessCalendar:
    """The working time of a shop (a `storage.models.Shop`: its zone, hours, country's
    holidays and its own days off)."""
    return BusinessCalendar.for_shop(
        shop.timezone, shop.working_hours, shop.country, shop.days_off or ()
    )
