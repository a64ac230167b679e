"""A moment as the cards and e-mails show it: what Babel's "dd.MM.yyyy HH:mm" writes, in the
shop's time zone, in every language the bot speaks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime

from services.messaging.email.formatting import DEFAULT_LOCALE, LOCALES, when

MOMENTS = [
    datetime(2026, 11, 24, 7, 0, tzinfo=UTC),
    datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),  # Europe's summer time begins at 01:00 UTC
    datetime(2026, 10, 25, 1, 0, tzinfo=UTC),  # and ends
    datetime(2027, 1, 1, 0, 0, tzinfo=UTC) - timedelta(microseconds=1),
    datetime(999, 5, 6, 7, 8, tzinfo=UTC),  # a four-digit year, as Babel pads it
]


@pytest.mark.parametrize("language", [*LOCALES, "de"])
@pytest.mark.parametrize("timezone", ["Europe/Moscow", "Europe/Kyiv", "America/New_York", "UTC"])
def test_a_moment_reads_as_babels_pattern_in_the_shops_time_zone(language, timezone):
    for moment in MOMENTS:
        expected = format_datetime(
            moment.astimezone(ZoneInfo(timezone)),
            "dd.MM.yyyy HH:mm",
            locale=LOCALES.get(language, DEFAULT_LOCALE),
        )
        assert when(moment, timezone, language) == expected


def test_an_unknown_time_zone_shows_utc():
    moment = datetime(2026, 11, 24, 7, 5, tzinfo=UTC)
    assert when(moment, "Mars/Olympus", "ru") == "24.11.2026 07:05"
    assert when(moment, "", "en") == "24.11.2026 07:05"
    assert when(moment, "Europe/Moscow", "uk") == "24.11.2026 10:05"
