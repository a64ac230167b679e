"""The business-hours calculator behind SLA deadlines: worked examples, DST, holidays, laws.

Expected instants are hard-coded in UTC where the point is the real elapsed time, and in
local time where the point is what the shop's clock shows.
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.time.business_hours import (
    DAYS,
    DEFAULT_WORKING_HOURS,
    BusinessCalendar,
    ClosedDays,
    public_holidays,
)

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)


def msk(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=MOSCOW)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def moscow_shop(country: str | None = "RU", days_off: tuple[str, ...] = ()) -> BusinessCalendar:
    """The seed's shop: Moscow time, Russian holidays, default hours (Mon-Fri 09:00-20:00)."""
    return BusinessCalendar.for_shop("Europe/Moscow", None, country, days_off)


# -- the seed's worked examples ---------------------------------------------------------------


def test_tuesday_evening_runs_into_wednesday_morning() -> None:
    # 2 h until Tuesday 20:00, then 1 h from Wednesday 09:00.
    deadline = moscow_shop().add(msk(2026, 11, 24, 18), 3 * H)
    assert deadline == msk(2026, 11, 25, 10)
    assert deadline.tzinfo is UTC


def test_friday_evening_runs_over_the_weekend() -> None:
    assert moscow_shop().add(msk(2026, 11, 27, 18), 3 * H) == msk(2026, 11, 30, 10)


def test_an_hour_from_half_past_seven() -> None:
    assert moscow_shop().add(msk(2026, 11, 24, 19, 30), 60 * timedelta(minutes=1)) == msk(
        2026, 11, 25, 9, 30
    )


def test_running_out_at_closing_time_is_closing_time() -> None:
    assert moscow_shop().add(msk(2026, 11, 24, 18), 2 * H) == msk(2026, 11, 24, 20)


def test_counting_starts_at_the_next_opening() -> None:
    calendar = moscow_shop()
    assert calendar.add(msk(2026, 11, 24, 7), H) == msk(2026, 11, 24, 10)
    assert calendar.add(msk(2026, 11, 28, 12), H) == msk(2026, 11, 30, 10)  # from Saturday


def test_zero_duration_is_the_start_itself_in_utc() -> None:
    saturday = msk(2026, 11, 28, 12)
    result = moscow_shop().add(saturday, timedelta(0))
    assert result == saturday
    assert result.tzinfo is UTC


def test_between_counts_only_working_time() -> None:
    calendar = moscow_shop()
    assert calendar.between(msk(2026, 11, 24, 18), msk(2026, 11, 25, 10)) == 3 * H
    assert calendar.between(msk(2026, 11, 27, 18), msk(2026, 11, 30, 10)) == 3 * H
    assert calendar.between(msk(2026, 11, 25, 10), msk(2026, 11, 24, 18)) == timedelta(0)
    assert calendar.between(msk(2026, 11, 28), msk(2026, 11, 29, 23)) == timedelta(0)


# -- closed days --------------------------------------------------------------------------------


def test_russian_new_year_holidays() -> None:
    # What holidays 0.109 says for Russia: 2026-12-31 is a day off (moved from Sunday
    # 2026-01-04), 2027-01-01..08 are the New Year holidays, and the 9th-10th are a weekend.
    assert date(2026, 12, 31) in public_holidays("RU", 2026)
    assert {date(2027, 1, d) for d in range(1, 9)} <= public_holidays("RU", 2027)
    calendar = moscow_shop()
    # Wednesday 30 December 18:00: 2 h until 20:00, then nothing until Monday 11 January,
    # the first working day of 2027, whose first hour ends the count at 10:00.
    assert calendar.add(msk(2026, 12, 30, 18), 3 * H) == msk(2027, 1, 11, 10)
    # Thursday 31 December 18:00 is itself a holiday, so all 3 h fall on 11 January.
    assert calendar.add(msk(2026, 12, 31, 18), 3 * H) == msk(2027, 1, 11, 12)
    assert calendar.between(msk(2026, 12, 30), msk(2027, 1, 11)) == 11 * H


def test_german_good_friday_and_easter_monday_across_spring_forward() -> None:
    calendar = BusinessCalendar.for_shop("Europe/Berlin", None, "DE")
    # Thursday 25 March 2027 18:00 CET: 2 h that evening; Good Friday, the weekend (with
    # the switch to CEST on Sunday) and Easter Monday are closed; Tuesday 10:00 CEST.
    assert calendar.add(datetime(2027, 3, 25, 18, tzinfo=BERLIN), 3 * H) == utc(2027, 3, 30, 8)
    # Without the country, Good Friday is an ordinary day: 10:00 CET.
    plain = BusinessCalendar.for_shop("Europe/Berlin", None, None)
    assert plain.add(datetime(2027, 3, 25, 18, tzinfo=BERLIN), 3 * H) == utc(2027, 3, 26, 9)


def test_shop_day_off_pushes_the_deadline_a_day() -> None:
    calendar = moscow_shop(days_off=("2026-11-25",))
    assert calendar.add(msk(2026, 11, 24, 18), 3 * H) == msk(2026, 11, 26, 10)
    assert not calendar.is_open(msk(2026, 11, 25, 12))


@pytest.mark.parametrize("country", ["XX", None, "", "ru"])
def test_unknown_or_missing_country_has_no_holidays(country: str | None) -> None:
    calendar = moscow_shop(country=country)
    expected = msk(2026, 12, 31, 10)  # 31 December is an ordinary Thursday
    if country == "ru":  # the code is read case-insensitively
        expected = msk(2027, 1, 11, 10)
    assert calendar.add(msk(2026, 12, 30, 18), 3 * H) == expected


def test_holidays_load_for_the_year_the_deadline_reaches() -> None:
    # Monday 31 December 2035 is a working day (holidays 0.109 has no Russian day off in that
    # December); its 2 h run out at 20:00, 1-8 January 2036 are the New Year holidays, so
    # the last hour is on Wednesday 9 January. 2036 is loaded only when the walk gets there.
    assert date(2036, 1, 8) in public_holidays("RU", 2036)
    assert moscow_shop().add(msk(2035, 12, 31, 18), 3 * H) == msk(2036, 1, 9, 10)


# -- daylight saving time ---------------------------------------------------------------------


def test_berlin_spring_forward_day_is_22_hours_long() -> None:
    calendar = BusinessCalendar(BERLIN, {6: (time(0), time(23))})  # Sundays only
    sunday = datetime(2027, 3, 28, tzinfo=BERLIN)
    assert calendar.between(sunday, sunday + timedelta(days=1)) == 22 * H
    saturday = datetime(2027, 3, 27, 12, tzinfo=BERLIN)
    # 00:00 CET is 23:00 UTC; three real hours later the clock shows 04:00 CEST.
    assert calendar.add(saturday, 3 * H) == utc(2027, 3, 28, 2)
    assert calendar.add(saturday, 22 * H) == utc(2027, 3, 28, 21)  # 23:00 CEST, closing


def test_berlin_fall_back_day_is_24_hours_long() -> None:
    calendar = BusinessCalendar(BERLIN, {6: (time(0), time(23))})
    sunday = datetime(2026, 10, 25, tzinfo=BERLIN)
    assert calendar.between(sunday, sunday + timedelta(days=1)) == 24 * H
    saturday = datetime(2026, 10, 24, 12, tzinfo=BERLIN)
    # 00:00 CEST is 22:00 UTC; 3 h later it is 01:00 UTC, the second 02:00 on the clock.
    assert calendar.add(saturday, 3 * H) == utc(2026, 10, 25, 1)
    assert calendar.add(saturday, 24 * H) == utc(2026, 10, 25, 22)  # 23:00 CET, closing


def test_berlin_night_shift_through_the_switch_hour() -> None:
    night = (time(1), time(5))
    calendar = BusinessCalendar(BERLIN, dict.fromkeys(range(7), night))
    spring = datetime(2027, 3, 28, tzinfo=BERLIN)
    fall = datetime(2026, 10, 25, tzinfo=BERLIN)
    day = timedelta(days=1)
    assert calendar.between(spring, spring + day) == 3 * H  # 00:00Z to 03:00Z
    assert calendar.between(fall, fall + day) == 5 * H  # 23:00Z to 04:00Z
    assert calendar.add(spring, 3 * H) == utc(2027, 3, 28, 3)  # 05:00 CEST
    assert calendar.add(fall, 5 * H) == utc(2026, 10, 25, 4)  # 05:00 CET


def test_nonexistent_and_ambiguous_local_times_use_fold_0() -> None:
    # 02:30 does not exist on 28 March 2027 in Berlin; fold=0 reads it with the CET offset,
    # 01:30 UTC = 03:30 CEST. Until 04:00 CEST that leaves 30 minutes...
    gap = BusinessCalendar(BERLIN, {6: (time(2, 30), time(4))})
    spring = datetime(2027, 3, 28, tzinfo=BERLIN)
    assert gap.between(spring, spring + timedelta(days=1)) == timedelta(minutes=30)
    assert gap.add(spring, timedelta(minutes=1)) == utc(2027, 3, 28, 1, 31)
    # ...and until 03:00 CEST (01:00 UTC) it leaves nothing: that Sunday has no working time.
    empty = BusinessCalendar(BERLIN, {6: (time(2, 30), time(3))})
    assert empty.between(spring, spring + timedelta(days=1)) == timedelta(0)
    assert empty.add(spring, timedelta(minutes=1)) == utc(2027, 4, 4, 0, 31)  # next Sunday
    # 02:30 happens twice on 25 October 2026; fold=0 is the first time, 00:30 UTC (CEST).
    fall = datetime(2026, 10, 25, tzinfo=BERLIN)
    assert gap.between(fall, fall + timedelta(days=1)) == timedelta(hours=2, minutes=30)
    assert gap.add(fall, timedelta(0, 1)) == utc(2026, 10, 25, 0, 30, 1)


def test_new_york_opening_stays_at_nine_local_across_dst() -> None:
    calendar = BusinessCalendar.for_shop("America/New_York", {}, "US")
    # Spring forward on Sunday 14 March 2027: Friday 18:00 EST + 3 h is Monday 10:00 EDT.
    deadline = calendar.add(datetime(2027, 3, 12, 18, tzinfo=NEW_YORK), 3 * H)
    assert deadline == utc(2027, 3, 15, 14)
    assert deadline.astimezone(NEW_YORK).time() == time(10)
    assert calendar.add(datetime(2027, 3, 12, 18, tzinfo=NEW_YORK), 2 * H) == utc(2027, 3, 13, 1)
    assert not calendar.is_open(utc(2027, 3, 15, 12, 59, 59))  # 08:59:59 EDT
    assert calendar.is_open(utc(2027, 3, 15, 13))  # 09:00 EDT, was 14:00 UTC in winter
    # Fall back on Sunday 1 November 2026: Friday 18:00 EDT + 3 h is Monday 10:00 EST.
    deadline = calendar.add(datetime(2026, 10, 30, 18, tzinfo=NEW_YORK), 3 * H)
    assert deadline == utc(2026, 11, 2, 15)
    assert deadline.astimezone(NEW_YORK).time() == time(10)


# -- is_open ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        (time(8, 59, 59), False),
        (time(9), True),
        (time(19, 59, 59), True),
        (time(20), False),
    ],
)
def test_is_open_at_the_edges_of_the_day(wall: time, expected: bool) -> None:
    instant = datetime.combine(date(2026, 11, 24), wall, tzinfo=MOSCOW)
    assert moscow_shop().is_open(instant) is expected


# -- construction and refusals ----------------------------------------------------------------


def test_for_shop_reads_stored_working_hours() -> None:
    stored = {"mon": ["10:00", "18:00"], "sat": ["11:00", "15:30"], "sun": []}
    calendar = BusinessCalendar.for_shop("Europe/Kyiv", stored, "UA", ["2026-12-31"])
    assert dict(calendar.hours) == {0: (time(10), time(18)), 5: (time(11), time(15, 30))}
    assert calendar.timezone == ZoneInfo("Europe/Kyiv")
    assert calendar.closed_days(date(2026, 12, 31))


def test_empty_working_hours_mean_the_default_week() -> None:
    for stored in (None, {}):
        calendar = BusinessCalendar.for_shop("UTC", stored, None)
        assert dict(calendar.hours) == dict.fromkeys(range(5), (time(9), time(20)))


def test_defaults_agree_with_the_shop_settings() -> None:
    # The module repeats these to stay free of the database layer; they must not drift.
    from services.shops.service import DEFAULT_WORKING_HOURS as SHOP_DEFAULT
    from services.shops.settings import DAYS as SETTINGS_DAYS

    assert DAYS == SETTINGS_DAYS
    assert dict(DEFAULT_WORKING_HOURS) == SHOP_DEFAULT


def test_calendar_is_immutable_and_hashable() -> None:
    hours = {0: (time(9), time(20))}
    calendar = BusinessCalendar(MOSCOW, hours)
    hours[1] = (time(9), time(20))
    assert dict(calendar.hours) == {0: (time(9), time(20))}
    assert hash(calendar) == hash(BusinessCalendar(MOSCOW, {0: (time(9), time(20))}))


def test_naive_datetimes_are_refused() -> None:
    calendar = moscow_shop()
    naive = datetime(2026, 11, 24, 18)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.add(naive, H)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.between(naive, msk(2026, 11, 25))
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.between(msk(2026, 11, 23), naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.is_open(naive)


def test_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        moscow_shop().add(msk(2026, 11, 24, 18), -timedelta(microseconds=1))


@pytest.mark.parametrize(
    "calendar",
    [
        BusinessCalendar(MOSCOW, {}),
        BusinessCalendar(MOSCOW, {0: (time(9), time(20))}, closed_days=lambda day: True),
        BusinessCalendar.for_shop("Europe/Moscow", {"mon": [], "fri": []}, "RU"),
    ],
    ids=["no-hours", "always-closed", "all-days-empty"],
)
def test_calendar_without_working_time_does_not_loop(calendar: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="no working time in the next 3 years"):
        calendar.add(msk(2026, 11, 24, 18), H)
    assert calendar.between(msk(2026, 1, 1), msk(2027, 1, 1)) == timedelta(0)
    assert calendar.add(msk(2026, 11, 24, 18), timedelta(0)) == msk(2026, 11, 24, 18)


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({7: (time(9), time(20))}, "weekday"),
        ({0: (time(20), time(9))}, "must come after"),
        ({0: (time(9), time(9))}, "must come after"),
        ({0: (time(9, tzinfo=UTC), time(20))}, "without a tzinfo"),
    ],
)
def test_bad_hours_are_refused(hours: dict[int, tuple[time, time]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BusinessCalendar(MOSCOW, hours)


def test_bad_stored_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown day"):
        BusinessCalendar.for_shop("UTC", {"monday": ["09:00", "20:00"]}, None)
    with pytest.raises(ValueError):
        BusinessCalendar.for_shop("UTC", None, None, ["31.12.2026"])


def test_long_durations_walk_by_day_not_by_minute() -> None:
    calendar = moscow_shop()
    start = msk(2026, 11, 24, 18)
    began = clock.perf_counter()
    for _ in range(100):
        deadline = calendar.add(start, 110 * H)
    per_call = (clock.perf_counter() - began) / 100
    # 110 h = 2 h on Tuesday + 9 working days of 11 h + 9 h: Tuesday 8 December, 18:00.
    assert deadline == msk(2026, 12, 8, 18)
    assert calendar.between(start, deadline) == 110 * H
    assert per_call < 0.01  # about a hundred microseconds in practice; generous for slow CI


# -- laws, over random calendars and instants -------------------------------------------------

ZONES = [
    "Europe/Moscow",
    "Europe/Kyiv",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "UTC",
]
# Hours that straddle Berlin's and Kyiv's switch hours and a whole day, beside random ones.
SPECIAL_HOURS = [
    (time(0), time(23)),
    (time(1), time(5)),
    (time(2, 30), time(4)),
    (time(3), time(4, 30)),
    (time(0), time(23, 59, 59, 999999)),
]


def _minutes(opens: int, length: int) -> tuple[time, time]:
    closes = min(opens + length, 24 * 60 - 1)
    return time(opens // 60, opens % 60), time(closes // 60, closes % 60)


# At least 30 minutes a day keeps the walk short for the longest durations drawn.
spans = st.one_of(
    st.sampled_from(SPECIAL_HOURS),
    st.builds(_minutes, st.integers(0, 24 * 60 - 31), st.integers(30, 24 * 60)),
)


@dataclass(frozen=True)
class _Closed:
    """Public holidays plus every n-th day: random ISO days off would almost never meet the
    random instants, while a period coprime to 7 closes each weekday now and then."""

    holidays: ClosedDays
    every: int  # 0: no periodic closing

    def __call__(self, day: date) -> bool:
        return self.holidays(day) or (self.every > 0 and day.toordinal() % self.every == 0)


calendars = st.builds(
    BusinessCalendar,
    timezone=st.sampled_from([ZoneInfo(zone) for zone in ZONES]),
    hours=st.dictionaries(st.integers(0, 6), spans, min_size=1),  # includes one-day weeks
    closed_days=st.builds(
        _Closed,
        st.sampled_from([ClosedDays(country) for country in (None, "RU", "DE", "US", "IN", "XX")]),
        st.sampled_from([0, 3, 5, 11]),
    ),
)


def _aware(naive: datetime, zone: tzinfo, fold: int, whole_minute: bool) -> datetime:
    if whole_minute:  # lands on openings and closings far more often than random microseconds
        naive = naive.replace(second=0, microsecond=0)
    # Attached by hand rather than with st.datetimes(timezones=...), which is several times
    # slower; any fold, and times inside DST gaps, are fine: they are normalised through UTC.
    return naive.replace(tzinfo=zone, fold=fold)


instants = st.builds(
    _aware,
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)),
    st.sampled_from([UTC, *(ZoneInfo(zone) for zone in ZONES)]),
    st.integers(0, 1),
    st.booleans(),
)
durations = st.one_of(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=48)),
    st.integers(0, 48 * 60).map(lambda minutes: timedelta(minutes=minutes)),
)
LAWS = settings(max_examples=200, deadline=None)


@LAWS
@given(calendars, instants, durations, durations)
def test_add_is_monotonic(
    calendar: BusinessCalendar, t: datetime, a: timedelta, b: timedelta
) -> None:
    d1, d2 = sorted((a, b))
    assert t <= calendar.add(t, d1) <= calendar.add(t, d2)


@LAWS
@given(calendars, instants, durations, durations)
def test_add_composes(calendar: BusinessCalendar, t: datetime, a: timedelta, b: timedelta) -> None:
    assert calendar.add(calendar.add(t, a), b) == calendar.add(t, a + b)


@LAWS
@given(calendars, instants, durations)
def test_between_inverts_add(calendar: BusinessCalendar, t: datetime, d: timedelta) -> None:
    end = calendar.add(t, d)
    assert end.tzinfo is UTC
    assert calendar.between(t, end) == d
    if d:
        # The count ends inside working time: the instant just before the end is open.
        assert calendar.is_open(end - timedelta(microseconds=1))


gaps = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20))


@LAWS
@given(calendars, instants, gaps, gaps)
def test_between_is_additive(
    calendar: BusinessCalendar, a: datetime, first: timedelta, second: timedelta
) -> None:
    # Points a few weeks apart at most: `between` walks every day of its range. In UTC, as
    # local wall-clock addition could step backwards in real time across a DST change.
    a = a.astimezone(UTC)
    b = a + first
    c = b + second
    total = calendar.between(a, c)
    assert calendar.between(a, b) + calendar.between(b, c) == total
    assert timedelta(0) <= total <= c - a
    assert calendar.between(c, a) == timedelta(0)
    # is_open agrees with the intervals the other two count.
    tick = timedelta(microseconds=1)
    assert calendar.is_open(a) is (calendar.between(a, a + tick) == tick)
