"""Service end by season, dismissal batches by grade, overdue (school.toml)."""

from __future__ import annotations

import datetime as dt

import pytest

from edge import calendar
from edge.calendar import CalendarError
from tests.roster_files import FILES

SCHOOL = calendar.parse(FILES["school.toml"])
TZ = SCHOOL.tz


@pytest.mark.parametrize(
    ("day", "end"),
    [
        (dt.date(2026, 11, 30), dt.time(18, 0)),
        (dt.date(2026, 12, 1), dt.time(17, 0)),
        (dt.date(2027, 1, 15), dt.time(17, 0)),  # the winter range wraps the new year
        (dt.date(2027, 3, 31), dt.time(17, 0)),
        (dt.date(2027, 4, 1), dt.time(18, 0)),
        (dt.date(2028, 2, 29), dt.time(17, 0)),
    ],
)
def test_service_end_follows_the_season(day: dt.date, end: dt.time) -> None:
    assert SCHOOL.service_end(day) == end


def test_a_child_present_at_the_end_time_is_overdue_in_school_time() -> None:
    assert not SCHOOL.is_overdue(dt.datetime(2026, 11, 30, 17, 59, 59, tzinfo=TZ))
    assert SCHOOL.is_overdue(dt.datetime(2026, 11, 30, 18, 0, tzinfo=TZ))
    assert SCHOOL.is_overdue(dt.datetime(2026, 12, 1, 17, 0, tzinfo=TZ))
    # 09:30 UTC is 17:30 in Shanghai: overdue in December, not in November.
    assert SCHOOL.is_overdue(dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC))
    assert not SCHOOL.is_overdue(dt.datetime(2026, 11, 30, 9, 30, tzinfo=dt.UTC))


def test_dismissal_batches_by_grade() -> None:
    assert SCHOOL.dismissal_times(1) == (dt.time(16), dt.time(17), dt.time(17, 30))
    assert SCHOOL.dismissal_times(2) == (dt.time(16), dt.time(17), dt.time(17, 30))
    assert SCHOOL.dismissal_times(6) == (dt.time(17), dt.time(17, 30))
    assert SCHOOL.dismissal_times(9) == ()


def test_first_matching_range_wins_so_a_special_day_can_be_listed_first() -> None:
    special = calendar.parse(
        '[[service_end]]\nfrom = "11-23"\nto = "11-23"\nend = "16:00"\n'
        + FILES["school.toml"].split("\n", 1)[1]
    )
    assert special.service_end(dt.date(2026, 11, 23)) == dt.time(16, 0)
    assert special.service_end(dt.date(2026, 11, 24)) == dt.time(18, 0)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('timezone = "Mars/Olympus"', "not a known time zone"),
        ('[[service_end]]\nfrom = "1201"\nto = "03-31"\nend = "17:00"', "not a month-day"),
        ('[[service_end]]\nfrom = "02-30"\nto = "03-31"\nend = "17:00"', "not a real day"),
        ('[[service_end]]\nfrom = "12-01"\nto = "03-31"\nend = "5pm"', "not a time of day"),
        ('[[service_end]]\nfrom = "12-01"', "needs from, to and end"),
        ('[dismissal]\n"first" = ["16:00"]', "grades are written"),
        ('card_byte_order = "middle"', "must be"),
        ("timezone = ", "not valid TOML"),
    ],
)
def test_a_broken_school_toml_says_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(CalendarError, match=words):
        calendar.parse(text)
