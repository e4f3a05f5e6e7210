"""Who may collect a child beyond the roster: delegates, one-time codes, manual releases.

Staff (or a parent-facing app through the hub or central) record these as ``action``
events, so they travel to every kiosk of the campus by the same sync as taps, and a
kiosk with no network keeps what it last heard. ``PickupBook`` is their fold, in key
order, over every day. Its merge does not depend on that order where authority ends:
a revoked grant id stays revoked (a tombstone) whether the revocation sorts before or
after the grant, a grant id names one grant for good (the same id seen again neither
brings it back nor extends it, so an expired grant stays expired), a revoked pass stays
revoked, and a code once issued keeps its child and adult. Plans are the latest by
key. An action the book cannot apply (a field missing, of the wrong type, a date that
does not parse) is skipped and listed in ``skipped`` with the reason, never raised:
nothing in a ledger can stop the node. It is pure and holds no I/O.

- A **delegate** (临时委托) is an adult named for one child for a day or a date range,
  with a phone number and optionally a photo. They carry no card: they are found by
  name or phone on the pickup screen (无卡接送) or show a one-time code.
- A **one-time pickup code** (接送码) is issued for one child, one adult and one day;
  entered at a pickup point it opens a pickup context for that child only, once that
  day on that campus (its use is a pickup event, folded into the day).
- A **manual release** (无卡接送) is asked on the pickup screen for a child and an
  adult the guard has checked (photo, name), with a reason; it is carried out when a
  staff card taps at that pickup point within 60 seconds: the staff member's card is
  the signature. Pending requests live in the node's memory only: until the staff
  tap nothing is recorded.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from edge.clock import Reading, within
from edge.school import events as ev
from edge.school.events import Event

DELEGATE_GRANTED = "delegate_granted"
DELEGATE_REVOKED = "delegate_revoked"
CODE_ISSUED = "pickup_code_issued"
PASS_REVOKED = "pass_revoked"  # noqa: S105 - an action code, not a secret
PLAN_SET = "plan_set"
CODES = frozenset({DELEGATE_GRANTED, DELEGATE_REVOKED, CODE_ISSUED, PASS_REVOKED, PLAN_SET})
MANUAL_WINDOW = dt.timedelta(seconds=60)
CODE_PREFIX = "code:"


@dataclass(frozen=True)
class Delegate:
    """An adult authorized for one child over a date range, by a staff member."""

    grant_id: str
    student_id: str
    name: str
    phone: str
    photo: str | None
    start: dt.date
    end: dt.date
    by: str | None

    def valid_on(self, day: dt.date) -> bool:
        """Tell whether the grant holds on ``day``."""
        return self.start <= day <= self.end

    def to_json(self) -> dict[str, Any]:
        """Return the grant as the API shows it (phone included: staff only)."""
        return {
            "grant_id": self.grant_id, "student_id": self.student_id, "name": self.name,
            "phone": self.phone, "photo": self.photo, "from": self.start.isoformat(),
            "to": self.end.isoformat(), "by": self.by,
        }  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """Today's dismissal plan of a child (放学安排): when, where, with whom."""

    student_id: str
    day: dt.date
    batch: str | None  # "17:00": the dismissal batch
    point: str | None  # a pickup station_id
    mode: str  # guardian | alone
    club_until: str | None  # "17:30": stays in a club until then
    by: str | None

    def to_json(self) -> dict[str, Any]:
        """Return the plan as the API and the screens show it."""
        return {"student_id": self.student_id, "date": self.day.isoformat(), "batch": self.batch,
                "point": self.point, "mode": self.mode, "club_until": self.club_until,
                "by": self.by}  # fmt: skip

    def conflicts_with(self, kind: str, station: str, at: dt.datetime, tz: Any) -> list[str]:
        """Return how a release or walk home at ``station`` and ``at`` departs from the plan."""
        clock = at.astimezone(tz).strftime("%H:%M")
        notes = []
        if self.point and station != self.point:
            notes.append("point")
        if self.batch and clock < self.batch:
            notes.append("before_batch")
        if self.club_until and clock < self.club_until:
            notes.append("club_until")
        if (self.mode == "alone") != (kind == ev.LEFT_ALONE):
            notes.append("mode")
        return notes


@dataclass(frozen=True)
class Code:
    """A one-time pickup code: one child, one adult, one day."""

    code: str
    day: dt.date
    student_id: str
    adult_kind: str  # guardian | delegate
    adult_id: str


@dataclass(frozen=True)
class ManualRelease:
    """A release asked on the pickup screen, waiting for a staff card as signature."""

    station: str
    student_id: str
    adult_kind: str  # guardian | delegate
    adult_id: str
    reason: str
    asked_at: dt.datetime
    asked_by: str = ""  # a staff id, or display:STATION for the pickup screen
    asked_reading: Reading | None = None  # the node clock's monotonic reading then

    def open_at(self, moment: dt.datetime, moment_reading: Reading | None = None) -> bool:
        """Tell whether a staff tap at ``moment`` still signs this request (real time)."""
        return within(MANUAL_WINDOW, self.asked_at, self.asked_reading, moment, moment_reading)


class Unusable(ValueError):
    """An event a fold cannot apply; its message says why, for the doctor and the dashboard."""


def text(data: dict[str, Any], name: str, *, optional: bool = False) -> str | None:
    """Return a text field of an event's data; Unusable if missing (unless optional) or not text."""
    value = data.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise Unusable(f"its '{name}' is {'missing' if value is None else 'not text'}")
    return value


def date(data: dict[str, Any], name: str) -> dt.date:
    """Return a date field (YYYY-MM-DD) of an event's data; Unusable if it does not parse."""
    value = text(data, name) or ""
    try:
        return dt.date.fromisoformat(value)
    except ValueError as err:
        raise Unusable(f"its '{name}' ({value[:20]!r}) is not a date") from err


def data_of(event: Event) -> dict[str, Any]:
    """Return an event's data; Unusable if it is not an object."""
    if not isinstance(event.data, dict):
        raise Unusable("its data is not an object")
    return event.data


def _req(data: dict[str, Any], name: str) -> str:
    return text(data, name) or ""


@dataclass
class PickupBook:
    """The fold of the pickup actions: delegates, codes, revoked passes, plans."""

    delegates: dict[str, Delegate] = field(default_factory=dict)  # standing (not revoked)
    codes: dict[tuple[dt.date, str], Code] = field(default_factory=dict)
    revoked_passes: set[str] = field(default_factory=set)
    plans: dict[tuple[str, dt.date], Plan] = field(default_factory=dict)
    revoked_grants: set[str] = field(default_factory=set)  # tombstones: revoked for good
    granted: set[str] = field(default_factory=set)  # every grant id seen: one grant each
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (event id, why)
    last_key: tuple[int, str, str, int] | None = None

    def apply(self, event: Event) -> None:
        """Move the book forward by one action event; skip and flag one it cannot apply."""
        if event.kind != ev.ACTION or event.code not in CODES:
            return
        if self.last_key is None or event.key > self.last_key:
            self.last_key = event.key
        try:
            self._apply(event, data_of(event))
        except Unusable as err:
            self.skipped.append((event.event_id, f"{event.code}: {err}"))

    def _apply(self, event: Event, data: dict[str, Any]) -> None:
        if event.code == DELEGATE_GRANTED:
            grant = Delegate(
                _req(data, "grant_id"), _req(data, "student_id"), _req(data, "name"),
                text(data, "phone", optional=True) or "", text(data, "photo", optional=True),
                date(data, "from"), date(data, "to"), event.subject_id,
            )  # fmt: skip
            if grant.grant_id in self.granted:
                return  # an id names one grant: seen again, it neither returns nor extends
            self.granted.add(grant.grant_id)
            if grant.grant_id not in self.revoked_grants:
                self.delegates[grant.grant_id] = grant
        elif event.code == DELEGATE_REVOKED:
            grant_id = _req(data, "grant_id")
            self.revoked_grants.add(grant_id)
            self.delegates.pop(grant_id, None)
        elif event.code == CODE_ISSUED:
            adult_kind = _req(data, "adult_kind")
            if adult_kind not in ("guardian", "delegate"):
                raise Unusable(f"its adult_kind {adult_kind[:20]!r} is not guardian or delegate")
            code = Code(_req(data, "code"), date(data, "day"), _req(data, "student_id"),
                        adult_kind, _req(data, "adult_id"))  # fmt: skip
            self.codes.setdefault((code.day, code.code), code)  # once issued, it stays as issued
        elif event.code == PASS_REVOKED:
            self.revoked_passes.add(_req(data, "pass_id"))
        elif event.code == PLAN_SET:
            mode = text(data, "mode", optional=True) or "guardian"
            if mode not in ("guardian", "alone"):
                raise Unusable(f"its mode {mode[:20]!r} is not guardian or alone")
            plan = Plan(
                _req(data, "student_id"), date(data, "date"), text(data, "batch", optional=True),
                text(data, "point", optional=True), mode,
                text(data, "club_until", optional=True), event.subject_id,
            )  # fmt: skip
            self.plans[(plan.student_id, plan.day)] = plan

    def delegates_of(self, student_id: str, day: dt.date) -> list[Delegate]:
        """Return the delegates who may collect a child on ``day``."""
        return [
            d for d in self.delegates.values() if d.student_id == student_id and d.valid_on(day)
        ]

    def delegate(self, grant_id: str, day: dt.date) -> Delegate | None:
        """Return a grant if it stands on ``day``."""
        found = self.delegates.get(grant_id)
        return found if found is not None and found.valid_on(day) else None


def fold_book(events: list[Event]) -> PickupBook:
    """Fold action events into a fresh book, in key order."""
    book = PickupBook()
    for event in sorted(events, key=lambda e: e.key):
        book.apply(event)
    return book
