"""Service end by season, dismissal batches by grade, overdue (school.toml)."""

from __future__ import annotations

import datetime as dt

import pytest

from edge.school import calendar
from edge.school.calendar import CalendarError
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
        ('[[term]]\nname = "秋"\nfrom = "2026-09-01"', "needs name, from and to"),
        ('[[term]]\nname = "秋"\nfrom = "2026-09-01"\nto = "2026-13-01"', "not a date like"),
        ('[[term]]\nname = "秋"\nfrom = "2026-09-01"\nto = "2026-08-01"', r"ends \(2026-08-01\)"),
        ('[days]\nclosed = ["2026-10-07..2026-10-01"]', "not a range of at most a year"),
        ('[days]\nclosed = ["国庆"]', "'国庆' is not a date"),
        ('[days]\nmakeup = { "2026-09-27" = 8 }', r"written 1 \(Monday\) to 7"),
        ('[service]\nstart = "25:00"', r"\[service\] start: '25:00' is not a time"),
        ("[service]\nlate_after_minutes = -5", "whole number from 0 to 120"),
        ('[workload]\nlate = "minus one"', "must be a number of units"),
    ],
)
def test_a_broken_school_toml_says_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(CalendarError, match=words):
        calendar.parse(text)


def test_school_days_follow_terms_closed_days_and_make_up_days() -> None:
    school = calendar.parse(
        '[[term]]\nname = "秋"\nfrom = 2026-09-01\nto = "2027-01-20"\n'
        '[days]\nclosed = ["2026-10-01..2026-10-07", "2026-11-20"]\n'
        'makeup = { "2026-09-27" = 4 }\n'
    )
    assert school.timetable_weekday(dt.date(2026, 9, 1)) == 2  # a Tuesday
    assert school.timetable_weekday(dt.date(2026, 8, 31)) is None  # before the term
    assert school.timetable_weekday(dt.date(2026, 10, 4)) is None  # National Day week
    assert school.timetable_weekday(dt.date(2026, 11, 20)) is None
    assert school.timetable_weekday(dt.date(2026, 9, 27)) == 4  # a Sunday on Thursday's timetable
    assert school.term_of(dt.date(2026, 12, 1)).name == "秋"  # type: ignore[union-attr]
    assert dict(school.weights) == calendar.DEFAULT_WEIGHTS
    # Without terms or closed days every day keeps its own weekday, as before.
    assert SCHOOL.timetable_weekday(dt.date(2026, 10, 4)) == 7


def test_on_a_closed_day_nobody_is_expected_on_the_live_picture(tmp_path) -> None:
    from edge.projection import picture
    from edge.school import roster as roster_mod
    from edge.school.fold import DayState
    from tests import roster_files

    closed = FILES["school.toml"] + '[days]\nclosed = ["2026-11-23"]\n'
    bundle = roster_files.write(tmp_path / "r", **{"school.toml": closed})
    roster = roster_mod.load(bundle, version=1)
    day = dt.date(2026, 11, 23)
    at = dt.datetime(2026, 11, 23, 16, tzinfo=TZ)
    assert picture(roster, DayState(day), at)["counts"]["expected"] == 0
    open_day = picture(roster, DayState(day + dt.timedelta(days=7)), at + dt.timedelta(days=7))
    assert open_day["counts"]["expected"] == 5  # the Monday after: all five enrolled


def test_a_group_start_that_is_not_a_time_is_refused(tmp_path) -> None:
    from edge.errors import RosterError
    from edge.school import roster as roster_mod
    from tests import roster_files

    groups = "group_id,name,kind,staff_id,room,开始时间\nG1,看护组,basic,T1,101,4pm\n"
    bundle = roster_files.write(tmp_path / "r", **{"groups.csv": groups})
    with pytest.raises(RosterError, match="groups.csv, row 2, column start: start '4pm'"):
        roster_mod.load(bundle, version=1)
