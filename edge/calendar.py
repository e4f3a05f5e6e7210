"""The school calendar from school.toml: timezone, service end by season, dismissal.

A season is a day range written month-day (``from = "12-01"``, ``to = "03-31"``)
that may wrap over the new year. Ranges are checked in file order; the first that
holds the date wins, so a special-weather day can be listed first. Pure and
immutable once loaded.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_HOUR_MIN = re.compile(r"^(\d{1,2}):(\d{2})$")
_GRADES = re.compile(r"^(\d{1,2})(?:-(\d{1,2}))?$")
DEFAULT_END = dt.time(18, 0)


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
class Calendar:
    """Timezone, seasonal service end and dismissal batches of one school."""

    timezone: str = "Asia/Shanghai"
    seasons: tuple[Season, ...] = ()
    dismissal: tuple[tuple[int, int, tuple[dt.time, ...]], ...] = ()
    card_byte_order: str = "little"
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

    def dismissal_times(self, grade: int) -> tuple[dt.time, ...]:
        """Return the dismissal batch times for a grade (empty when none is set)."""
        for low, high, times in self.dismissal:
            if low <= grade <= high:
                return times
        return ()


def _parse_time(value: object, where: str) -> dt.time:
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


def parse(text: str) -> Calendar:
    """Build a Calendar from the text of school.toml."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise CalendarError(f"school.toml is not valid TOML: {err}") from err
    seasons = []
    for index, entry in enumerate(data.get("service_end", []), start=1):
        where = f"service_end #{index}"
        if not isinstance(entry, dict) or not {"from", "to", "end"} <= entry.keys():
            raise CalendarError(f"{where}: needs from, to and end")
        seasons.append(
            Season(
                _parse_month_day(entry["from"], where),
                _parse_month_day(entry["to"], where),
                _parse_time(entry["end"], where),
            )
        )
    dismissal = []
    for grades, times in (data.get("dismissal") or {}).items():
        where = f"dismissal '{grades}'"
        match = _GRADES.match(str(grades))
        if not match:
            raise CalendarError(f'{where}: grades are written like "1-2" or "3"')
        low = int(match[1])
        high = int(match[2] or low)
        if not isinstance(times, list):
            raise CalendarError(f'{where}: needs a list of times like ["16:00", "17:00"]')
        dismissal.append((low, high, tuple(sorted(_parse_time(t, where) for t in times))))
    byte_order = str(data.get("card_byte_order", "little"))
    if byte_order not in ("little", "big"):
        raise CalendarError(f'card_byte_order \'{byte_order}\' must be "little" or "big"')
    return Calendar(
        timezone=str(data.get("timezone", "Asia/Shanghai")),
        seasons=tuple(seasons),
        dismissal=tuple(dismissal),
        card_byte_order=byte_order,
    )
