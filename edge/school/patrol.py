"""Patrol rounds (巡查): school.toml's ``[patrol]`` and which rounds are done, due or missed.

``[patrol]`` (absent: no rounds are scheduled)::

    [patrol]
    every_minutes = 30            # a round every 30 minutes ...
    from = "16:00"                # ... from this time to the day's service end
    roles = ["duty_leader", "guard"]
    times = ["16:30", "17:15"]    # optional: fixed due times instead of every_minutes
    places = ["C1", "CP-EAST"]    # optional: what a round must visit (station or
                                  # checkpoint ids; default every classroom and checkpoint)

Round k is due at its moment D_k and covers the visits made in [D_(k-1), D_k), D_0
being ``from``. At a moment, a round is ``done`` when every place was visited in it,
``open`` while its due moment has not come, and past it ``missed`` (no visit at all)
or ``incomplete`` (some places not visited): both raise an alert. Pure: no clock is
read here; the caller gives the moment and the visits.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from edge.school.events import Event

PATROL_ROLES = ("teacher", "guard", "duty_leader", "admin")  # roster.ROLES, without the cycle
_HOUR_MIN = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")
_KEYS = {"every_minutes", "from", "roles", "times", "places"}


class PatrolError(ValueError):
    """``[patrol]`` holds something the rounds cannot use; the message says what."""


@dataclass(frozen=True)
class PatrolPlan:
    """When rounds are due and who patrols."""

    every: dt.timedelta | None
    start: dt.time
    roles: frozenset[str]
    times: tuple[dt.time, ...] = ()
    places: tuple[str, ...] = ()  # empty: every classroom station and every checkpoint

    def due_times(self, day: dt.date, tz: dt.tzinfo, end: dt.datetime) -> list[dt.datetime]:
        """Return the moments rounds are due on ``day`` (up to the service end ``end``)."""
        start = dt.datetime.combine(day, self.start, tzinfo=tz)
        if self.times:
            return [m for t in self.times if start < (m := dt.datetime.combine(day, t, tzinfo=tz))]
        if self.every is None or end <= start:
            return []
        moments, moment = [], start + self.every
        while moment < end:
            moments.append(moment)
            moment += self.every
        return [*moments, end]  # the last round is due at the service end


@dataclass(frozen=True)
class Visit:
    """One patrol visit: who, where (a station or a checkpoint), when."""

    place: str
    at: dt.datetime
    staff_id: str | None
    event_id: str
    kind: str  # station | checkpoint
    head_count: int | None = None


@dataclass(frozen=True)
class Round:
    """One round at a moment: its window, its visits, and where no one has been."""

    opens: dt.datetime
    due: dt.datetime
    visits: tuple[Visit, ...]
    visited: tuple[str, ...]
    not_yet: tuple[str, ...]
    state: str  # upcoming | open | done | missed | incomplete

    @property
    def alert(self) -> bool:
        """Tell whether this round raises an alert (past due, some place not visited)."""
        return self.state in ("missed", "incomplete")


def visits(events: Iterable[Event]) -> list[Visit]:
    """Return the rounds' view of a day's ``patrol_visit`` events (DayState.patrol)."""
    found = []
    for e in events:
        point = e.data.get("checkpoint_id")
        count = e.data.get("head_count")
        found.append(Visit(
            point if isinstance(point, str) else e.station, e.at, e.subject_id, e.event_id,
            "checkpoint" if point else "station", count if isinstance(count, int) else None,
        ))  # fmt: skip
    return found


def parse(table: object) -> PatrolPlan | None:
    """Read ``[patrol]`` (None when school.toml has none); PatrolError names what is wrong."""
    if table is None:
        return None
    if not isinstance(table, dict):
        raise PatrolError("[patrol] must be a table with every_minutes, from and roles")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise PatrolError(f"[patrol] '{unknown[0]}' is not a setting ({', '.join(sorted(_KEYS))})")
    every = table.get("every_minutes")
    times = tuple(sorted(_time(t, "[patrol] times") for t in _list(table, "times", 48)))
    if every is None and not times:
        raise PatrolError('[patrol] needs every_minutes (like 30) or times (like ["16:30"])')
    if every is not None and (
        isinstance(every, bool) or not isinstance(every, int) or not 5 <= every <= 240
    ):
        raise PatrolError("[patrol] every_minutes must be a whole number from 5 to 240")
    roles = _list(table, "roles", 4) or ["duty_leader", "guard"]
    for role in roles:
        if role not in PATROL_ROLES:
            raise PatrolError(f"[patrol] role '{role}' is not one of {', '.join(PATROL_ROLES)}")
    places = tuple(_list(table, "places", 500))
    for place in places:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", place):
            raise PatrolError(f"[patrol] place '{place[:64]}' is not a station or checkpoint id")
    start = _time(table.get("from", "15:30"), "[patrol] from")
    minutes = dt.timedelta(minutes=every) if every is not None else None
    return PatrolPlan(minutes, start, frozenset(roles), times, places)


def _list(table: Mapping[str, object], key: str, longest: int) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or len(value) > longest:
        raise PatrolError(f'[patrol] {key} must be a list of at most {longest} like ["a", "b"]')
    if not all(isinstance(v, str) for v in value):
        raise PatrolError(f"[patrol] {key} must hold only text in quotes")
    return [str(v) for v in value]


def _time(value: object, where: str) -> dt.time:
    match = _HOUR_MIN.match(str(value))
    if not match:
        raise PatrolError(f"{where}: '{str(value)[:20]}' is not a time of day like 16:30")
    return dt.time(int(match[1]), int(match[2]))


def rounds(
    plan: PatrolPlan,
    day: dt.date,
    tz: dt.tzinfo,
    end: dt.datetime,
    places: Iterable[str],
    visits: Iterable[Visit],
    now: dt.datetime,
) -> list[Round]:
    """Return the day's rounds as they stand at ``now``, each with its visits and gaps."""
    wanted = tuple(places)
    dues = plan.due_times(day, tz, end)
    made = sorted(visits, key=lambda v: (v.at, v.event_id))
    found: list[Round] = []
    opens = dt.datetime.combine(day, plan.start, tzinfo=tz)
    for due in dues:
        inside = tuple(v for v in made if opens <= v.at < due)
        seen = {v.place for v in inside}
        visited = tuple(p for p in wanted if p in seen)
        not_yet = tuple(p for p in wanted if p not in seen)
        if not not_yet:
            state = "done"
        elif now < opens:
            state = "upcoming"
        elif now < due:
            state = "open"
        else:
            state = "incomplete" if inside else "missed"
        found.append(Round(opens, due, inside, visited, not_yet, state))
        opens = due
    return found
