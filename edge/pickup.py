"""Who may collect a child beyond the roster: delegates, one-time codes, manual releases.

Staff (or a parent-facing app through the hub or central) record these as ``action``
events, so they travel to every kiosk of the campus by the same sync as taps, and a
kiosk with no network keeps what it last heard. ``PickupBook`` is their fold, in key
order, over every day: a revocation that sorts after a grant wins over it, and a
newer grant after a revocation stands again. It is pure and holds no I/O.

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

from edge import events as ev
from edge.events import Event

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

    def open_at(self, moment: dt.datetime) -> bool:
        """Tell whether a staff tap at ``moment`` still signs this request."""
        return dt.timedelta(0) <= moment - self.asked_at < MANUAL_WINDOW


@dataclass
class PickupBook:
    """The fold of the pickup actions: delegates, codes, revoked passes."""

    delegates: dict[str, Delegate] = field(default_factory=dict)
    codes: dict[tuple[dt.date, str], Code] = field(default_factory=dict)
    revoked_passes: set[str] = field(default_factory=set)
    plans: dict[tuple[str, dt.date], Plan] = field(default_factory=dict)
    last_key: tuple[int, str, str, int] | None = None

    def apply(self, event: Event) -> None:
        """Move the book forward by one action event (which must sort after the last)."""
        if event.kind != ev.ACTION or event.code not in CODES:
            return
        self.last_key = event.key
        data = event.data
        if event.code == DELEGATE_GRANTED:
            self.delegates[data["grant_id"]] = Delegate(
                data["grant_id"], data["student_id"], data["name"], data.get("phone", ""),
                data.get("photo"), dt.date.fromisoformat(data["from"]),
                dt.date.fromisoformat(data["to"]), event.subject_id,
            )  # fmt: skip
        elif event.code == DELEGATE_REVOKED:
            self.delegates.pop(data["grant_id"], None)
        elif event.code == CODE_ISSUED:
            day = dt.date.fromisoformat(data["day"])
            self.codes[(day, data["code"])] = Code(
                data["code"], day, data["student_id"], data["adult_kind"], data["adult_id"]
            )
        elif event.code == PASS_REVOKED:
            self.revoked_passes.add(data["pass_id"])
        elif event.code == PLAN_SET:
            day = dt.date.fromisoformat(data["date"])
            self.plans[(data["student_id"], day)] = Plan(
                data["student_id"], day, data.get("batch"), data.get("point"),
                data.get("mode", "guardian"), data.get("club_until"), event.subject_id,
            )  # fmt: skip

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
