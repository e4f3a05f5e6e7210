"""The school calendar from school.toml: timezone, seasons, dismissal, school days, pay rules.

A season is a day range written month-day (``from = "12-01"``, ``to = "03-31"``)
that may wrap over the new year. Ranges are checked in file order; the first that
holds the date wins, so a special-weather day can be listed first.

School days: ``[[term]]`` tables name the terms (a day outside every term is no
school day, when any term is given); ``[days] closed`` lists holidays and other days
without service (a date or ``2026-10-01..2026-10-08``); ``[days] makeup`` maps a
weekend day the school works (调休) to the weekday whose timetable it follows.
``[service]`` sets the default group start, the lateness grace and what counts as
lunchtime care; ``[workload]`` the pay units of a staff session. Pure and immutable
once loaded.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from edge.school import patrol as patrol_mod
from edge.school.patrol import PatrolPlan

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_HOUR_MIN = re.compile(r"^(\d{1,2}):(\d{2})$")
_GRADES = re.compile(r"^(\d{1,2})(?:-(\d{1,2}))?$")
DEFAULT_END = dt.time(18, 0)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# DOMAIN.md's example rule for staff pay: a late arrival -1 unit, an unexcused absence
# 0, a complete record 1, an incomplete one 0.5, a lunchtime session 0.5.
DEFAULT_WEIGHTS = {"late": -1.0, "absent": 0.0, "complete": 1.0, "incomplete": 0.5, "lunch": 0.5}


class CalendarError(ValueError):
    """school.toml holds something the calendar cannot use; the message says what."""


@dataclass(frozen=True)
class Season:
    """A month-day range with the service end time that applies in it."""

    start: tuple[int, int]
    end: tuple[int, int]
    service_end: dt.time

    def holds(self, day: dt.date) -> bool:
        """Tell whether ``day`` falls in this range (inclusive, may wrap the year)."""
        md = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= md <= self.end
        return md >= self.start or md <= self.end


@dataclass(frozen=True)
class Term:
    """A named term (学期) with its first and last day."""

    name: str
    start: dt.date
    end: dt.date


@dataclass(frozen=True)
class Calendar:
    """Timezone, seasonal service end, dismissal, school days and pay rules of one school."""

    timezone: str = "Asia/Shanghai"
    seasons: tuple[Season, ...] = ()
    dismissal: tuple[tuple[int, int, tuple[dt.time, ...]], ...] = ()
    card_byte_order: str = "little"
    card_form: str = ""  # how roster cells that may be hex or decimal are read (cards.py)
    terms: tuple[Term, ...] = ()
    closed: frozenset[dt.date] = frozenset()
    makeup: tuple[tuple[dt.date, int], ...] = ()
    service_start: dt.time = dt.time(15, 30)
    late_after: dt.timedelta = dt.timedelta(minutes=10)
    lunch_before: dt.time = dt.time(14, 0)
    weights: tuple[tuple[str, float], ...] = tuple(DEFAULT_WEIGHTS.items())
    two_party_handover: bool = False
    late_call: dt.timedelta = dt.timedelta(minutes=15)
    late_custody: dt.timedelta = dt.timedelta(minutes=30)
    late_custodian: str = ""
    plan_cutoff: dt.time = dt.time(14, 0)
    patrol: PatrolPlan | None = None  # [patrol]: rounds (edge.school.patrol); None: none
    tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "tz", ZoneInfo(self.timezone))
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise CalendarError(f"timezone '{self.timezone}' is not a known time zone") from err

    def service_end(self, day: dt.date) -> dt.time:
        """Return the end of after-school service on ``day``."""
        for season in self.seasons:
            if season.holds(day):
                return season.service_end
        return DEFAULT_END

    def service_end_at(self, day: dt.date) -> dt.datetime:
        """Return the service end of ``day`` as an aware datetime in the school's zone."""
        return dt.datetime.combine(day, self.service_end(day), tzinfo=self.tz)

    def local(self, moment: dt.datetime) -> dt.datetime:
        """Return ``moment`` in the school's timezone."""
        return moment.astimezone(self.tz)

    def day_of(self, moment: dt.datetime) -> dt.date:
        """Return the school-local date of ``moment``."""
        return moment.astimezone(self.tz).date()

    def is_overdue(self, moment: dt.datetime) -> bool:
        """Tell whether ``moment`` is after that day's service end."""
        return moment >= self.service_end_at(self.day_of(moment))

    def timetable_weekday(self, day: dt.date) -> int | None:
        """Return the weekday whose timetable ``day`` follows (Monday = 1), or None.

        None means no service that day: a closed day, or a day outside every term
        when terms are given. A make-up day (调休) follows the weekday it names.
        """
        if day in self.closed:
            return None
        if self.terms and not any(t.start <= day <= t.end for t in self.terms):
            return None
        for makeup_day, weekday in self.makeup:
            if makeup_day == day:
                return weekday
        return day.isoweekday()

    def term(self, name: str) -> Term | None:
        """Return the term of that name (None when school.toml names no such term)."""
        return next((t for t in self.terms if t.name == name), None)

    def term_of(self, day: dt.date) -> Term | None:
        """Return the term ``day`` falls in, if any."""
        return next((t for t in self.terms if t.start <= day <= t.end), None)

    def weight(self, status: str) -> float:
        """Return the pay units of a staff session's status (late, absent, complete, ...)."""
        return dict(self.weights)[status]

    def dismissal_times(self, grade: int) -> tuple[dt.time, ...]:
        """Return the dismissal batch times for a grade (empty when none is set)."""
        for low, high, times in self.dismissal:
            if low <= grade <= high:
                return times
        return ()


def parse_time(value: object, where: str) -> dt.time:
    """Read a time of day like 17:30; ``where`` names the setting in the error."""
    match = _HOUR_MIN.match(str(value))
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise CalendarError(f"{where}: '{value}' is not a time of day like 17:30")
    return dt.time(int(match[1]), int(match[2]))


def _parse_month_day(value: object, where: str) -> tuple[int, int]:
    match = _MONTH_DAY.match(str(value))
    if not match:
        raise CalendarError(f"{where}: '{value}' is not a month-day like 12-01")
    month, day = int(match[1]), int(match[2])
    try:
        dt.date(2024, month, day)  # a leap year, so 02-29 is allowed
    except ValueError as err:
        raise CalendarError(f"{where}: '{value}' is not a real day of the year") from err
    return month, day


def _parse_date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value  # TOML's own date literal: from = 2026-09-01
    text = str(value).strip()
    try:
        if not _DATE.match(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError as err:
        raise CalendarError(f"{where}: '{value}' is not a date like 2026-09-01") from err


def _parse_days(value: object, where: str) -> list[dt.date]:
    """Read a date, or a range written ``2026-10-01..2026-10-08`` (both days included)."""
    first, _, last = str(value).partition("..")
    start = _parse_date(first, where)
    end = _parse_date(last, where) if last else start
    if end < start or (end - start).days > 366:
        raise CalendarError(f"{where}: '{value}' is not a range of at most a year")
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def parse(text: str) -> Calendar:
    """Build a Calendar from the text of school.toml."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CalendarError(f"school.toml is not valid TOML: {err}") from err
    seasons = _seasons(data.get("service_end", []))
    dismissal = _dismissal(data.get("dismissal") or {})
    terms = _terms(data.get("term", []))
    closed, makeup = _school_days(data.get("days") or {})
    service = data.get("service") or {}
    late_after, two_party, late_call, late_custody = _service(service)
    weights = _weights(data.get("workload") or {})
    byte_order, card_form = _card_settings(data)
    try:
        patrol = patrol_mod.parse(data.get("patrol"))
    except patrol_mod.PatrolError as err:
        raise CalendarError(str(err)) from err
    return Calendar(
        timezone=str(data.get("timezone", "Asia/Shanghai")),
        seasons=seasons,
        dismissal=dismissal,
        card_byte_order=byte_order,
        card_form=card_form,
        terms=terms,
        closed=closed,
        makeup=makeup,
        service_start=parse_time(service.get("start", "15:30"), "[service] start"),
        late_after=late_after,
        lunch_before=parse_time(service.get("lunch_before", "14:00"), "[service] lunch_before"),
        weights=weights,
        two_party_handover=two_party,
        late_call=late_call,
        late_custody=late_custody,
        late_custodian=str(service.get("late_custodian", "")),
        plan_cutoff=parse_time(service.get("plan_cutoff", "14:00"), "[service] plan_cutoff"),
        patrol=patrol,
    )


def _seasons(entries: list[object]) -> tuple[Season, ...]:
    """Read the ``[[service_end]]`` seasons, in file order."""
    seasons = []
    for index, entry in enumerate(entries, start=1):
        where = f"service_end #{index}"
        if not isinstance(entry, dict) or not {"from", "to", "end"} <= entry.keys():
            raise CalendarError(f"{where}: needs from, to and end")
        seasons.append(
            Season(
                _parse_month_day(entry["from"], where),
                _parse_month_day(entry["to"], where),
                parse_time(entry["end"], where),
            )
        )
    return tuple(seasons)


def _dismissal(table: dict[str, object]) -> tuple[tuple[int, int, tuple[dt.time, ...]], ...]:
    """Read the ``[dismissal]`` batches: grades (like "1-2") to their times."""
    dismissal = []
    for grades, times in table.items():
        where = f"dismissal '{grades}'"
        match = _GRADES.match(str(grades))
        if not match:
            raise CalendarError(f'{where}: grades are written like "1-2" or "3"')
        low = int(match[1])
        high = int(match[2] or low)
        if not isinstance(times, list):
            raise CalendarError(f'{where}: needs a list of times like ["16:00", "17:00"]')
        dismissal.append((low, high, tuple(sorted(parse_time(t, where) for t in times))))
    return tuple(dismissal)


def _terms(entries: list[object]) -> tuple[Term, ...]:
    """Read the ``[[term]]`` tables: each named once, none ending before it starts."""
    terms: list[Term] = []
    for index, entry in enumerate(entries, start=1):
        where = f"term #{index}"
        if not isinstance(entry, dict) or not {"name", "from", "to"} <= entry.keys():
            raise CalendarError(f'{where}: needs name, from and to (from = "2026-09-01")')
        start, end = _parse_date(entry["from"], where), _parse_date(entry["to"], where)
        if end < start:
            raise CalendarError(f"{where}: ends ({end}) before it starts ({start})")
        if any(t.name == str(entry["name"]) for t in terms):
            raise CalendarError(f"{where}: the name '{entry['name']}' is used twice")
        terms.append(Term(str(entry["name"]), start, end))
    return tuple(terms)


def _school_days(days: object) -> tuple[frozenset[dt.date], tuple[tuple[dt.date, int], ...]]:
    """Read ``[days]``: the closed days and the make-up days with the weekday they follow."""
    if not isinstance(days, dict):
        raise CalendarError("[days] must be a table with closed and makeup")
    closed: set[dt.date] = set()
    for text in days.get("closed") or []:
        closed.update(_parse_days(text, "[days] closed"))
    makeup = []
    for text, weekday in (days.get("makeup") or {}).items():
        where = f"[days] makeup '{text}'"
        if not isinstance(weekday, int) or not 1 <= weekday <= 7:
            raise CalendarError(f"{where}: the weekday it follows is written 1 (Monday) to 7")
        makeup.append((_parse_date(text, where), weekday))
    return frozenset(closed), tuple(makeup)


def _service(service: object) -> tuple[dt.timedelta, bool, dt.timedelta, dt.timedelta]:
    """Read ``[service]``'s numbers: lateness grace, two-party handover, late escalation.

    Returns (late_after, two_party_handover, late_call, late_custody); the times of
    day in ``[service]`` are read where the Calendar is built.
    """
    if not isinstance(service, dict):
        raise CalendarError(
            "[service] must be a table with start, late_after_minutes, lunch_before"
        )
    late_after = service.get("late_after_minutes", 10)
    if not isinstance(late_after, int) or not 0 <= late_after <= 120:
        raise CalendarError("[service] late_after_minutes must be a whole number from 0 to 120")
    two_party = service.get("two_party_handover", False)
    if not isinstance(two_party, bool):
        raise CalendarError("[service] two_party_handover must be true or false")
    late = {}
    for key, default in (("late_call_minutes", 15), ("late_custody_minutes", 30)):
        value = service.get(key, default)
        if not isinstance(value, int) or not 0 <= value <= 240:
            raise CalendarError(f"[service] {key} must be a whole number from 0 to 240")
        late[key] = dt.timedelta(minutes=value)
    if late["late_custody_minutes"] < late["late_call_minutes"]:
        raise CalendarError("[service] late_custody_minutes must not come before late_call_minutes")
    return (dt.timedelta(minutes=late_after), two_party, late["late_call_minutes"],
            late["late_custody_minutes"])  # fmt: skip


def _weights(workload: dict[str, object]) -> tuple[tuple[str, float], ...]:
    """Read ``[workload]``: the pay units of a session's status, over DOMAIN.md's defaults."""
    weights = dict(DEFAULT_WEIGHTS)
    for status, value in workload.items():
        if status not in weights:
            raise CalendarError(f"[workload] '{status}' is not one of {', '.join(DEFAULT_WEIGHTS)}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CalendarError(f"[workload] {status} must be a number of units like 0.5")
        weights[status] = float(value)
    return tuple(weights.items())


def _card_settings(data: dict[str, object]) -> tuple[str, str]:
    """Read how card numbers are written: ``card_byte_order`` and ``card_form``."""
    byte_order = str(data.get("card_byte_order", "little"))
    if byte_order not in ("little", "big"):
        raise CalendarError(f'card_byte_order \'{byte_order}\' must be "little" or "big"')
    card_form = data.get("card_form", "")
    if card_form not in ("", "hex", "decimal"):
        raise CalendarError(
            f"card_form '{card_form}' must be \"hex\" (card numbers in the roster files "
            'are UIDs as a reader shows them) or "decimal" (the numbers printed on cards)'
        )
    return byte_order, str(card_form)
