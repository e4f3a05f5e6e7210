"""What a receiver takes: every synced event checked against a strict schema, per kind.

Sync's wire format (edge.sync.protocol.WireEvent) says what an event looks like; this
says what one may hold before it goes into a ledger, so no event can stop a node that
stores it (a stamp SQLite cannot count past, a grant without its id, a NUL PostgreSQL
refuses). ``problems`` checks a batch and names every event it refuses, with why:

- integers in range: ``seq`` and ``roster_version`` (PostgreSQL's integer), ``hlc``
  between 2000 and a day ahead of the receiver's clock, as ``at`` is; an event its
  node marked as made on an untrusted clock (``clock_synced`` false: a Pi that booted
  with a wrong date) may lie further ahead, up to 2100, or that node's chain would
  stall at it until the calendar caught up; no stamp so far ahead moves the
  receiver's clock (clock.ceiling);
- ``day`` the school day of ``at`` (within a day either way: time zones);
- text without control characters (edge.text), of bounded length, in ``data`` too,
  whose numbers, nesting and size are bounded;
- known kinds and outcomes, and per kind (and per action code) the fields the fold
  reads, with their types;
- staff actions that change authority or history carry proof of the staff member who
  made them (edge.school.proof), checked against the sender's registered key.

The caller refuses a batch with any problem whole and keeps it aside (quarantine).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

import orjson

from edge import text
from edge.clock import AHEAD, COUNTER_BITS, to_millis
from edge.school import events as ev
from edge.school import placement, proof
from edge.school.events import Event
from edge.school.placement import CLOCK_STEPPED
from edge.school.roster import PHOTO_NAME

EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)  # clock.MAX_STAMP: past any school day
ROSTER_VERSION_MAX = 2**31 - 1  # the central's integer column
INT_MAX = 2**53  # a number in data: exact in JSON everywhere
DATA_BYTES = 64 * 1024
DATA_DEPTH = 6
TEXT_MAX = 2000
KINDS = ev.TAP_KINDS | {ev.ACTION, ev.CORRECTED}
OUTCOMES = frozenset({ev.ACCEPTED, ev.DENIED, ev.IGNORED})
SUBJECT_KINDS = frozenset({"student", "guardian", "staff", "delegate", "pass"})
_CODE = re.compile(r"^[a-z0-9_.-]{1,64}$")
_EVENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}:[0-9a-f]{1,32}:[0-9]{1,19}$")
_CLOCK_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")

# Locator of a problem inside an event's data, and the check that finds it.
Check = Callable[[Any], str | None]


def _text(low: int, high: int) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return "is not text"
        if not low <= len(value) <= high:
            return f"is not {low} to {high} characters long"
        return text.problem(value)

    return check


def _optional(inner: Check) -> Check:
    return lambda value: None if value is None else inner(value)


def _one_of(*allowed: str) -> Check:
    return lambda value: None if value in allowed else f"is not one of {', '.join(allowed)}"


def _pattern(rule: re.Pattern[str], what: str) -> Check:
    def check(value: Any) -> str | None:
        return None if isinstance(value, str) and rule.match(value) else f"is not {what}"

    return check


def _date(value: Any) -> str | None:
    try:
        day = dt.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        day = None
    if day is None or not 2000 <= day.year <= 2100:
        return "is not a date (YYYY-MM-DD, 2000-2100)"
    return None


_ID = _text(1, 64)
_NAME = _text(1, 40)
_CLOCK = _optional(_pattern(_CLOCK_TIME, "a time of day (HH:MM)"))
_PHOTO = _optional(_pattern(PHOTO_NAME, "a photo name"))
_PASS_ID = _pattern(re.compile(r"^X[0-9a-f]{12}$"), "a pass id")
_VISITOR_ID = _pattern(re.compile(r"^V[0-9a-f]{10}$"), "a visitor id")


def _count_of(most: int) -> Check:
    def check(value: Any) -> str | None:
        ok = isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= most
        return None if ok else f"is not a whole number from 1 to {most}"

    return check


# The fields each action code (and the correction) must carry, and their checks.
ACTION_FIELDS: dict[str, dict[str, Check]] = {
    "delegate_granted": {"grant_id": _ID, "student_id": _ID, "name": _NAME,
                         "phone": _text(0, 20), "photo": _PHOTO, "from": _date, "to": _date},
    "delegate_revoked": {"grant_id": _ID},
    "pickup_code_issued": {"code": _pattern(re.compile(r"^[0-9]{8}$"), "eight digits"),
                           "day": _date, "student_id": _ID,
                           "adult_kind": _one_of("guardian", "delegate"), "adult_id": _ID},
    "pass_issued": {"pass_id": _PASS_ID, "student_id": _ID, "name": _NAME, "from": _date,
                    "to": _date},
    "pass_revoked": {"pass_id": _PASS_ID},
    "plan_set": {"student_id": _ID, "date": _date, "batch": _CLOCK,
                 "point": _optional(_ID), "mode": _one_of("guardian", "alone"),
                 "club_until": _CLOCK},
    CLOCK_STEPPED: {"step_seconds": lambda value: None if placement.usable(value)
                    else "is not a clock step in seconds (at most 400 days either way)",
                    "since_seq": _count_of(2**62)},
    # The gate register (edge.school.gate): a visitor in (a document only as its keyed
    # hash and last 4; ``watch`` the watchlist's alert) and out.
    "visitor_in": {"visitor_id": _VISITOR_ID, "name": _NAME,
                   "document_hash": _optional(_pattern(re.compile(r"^[0-9a-f]{64}$"), "a hash")),
                   "last4": _optional(_pattern(re.compile(r"^[0-9A-Z]{1,4}$"), "4 characters")),
                   "phone": _optional(_text(5, 20)), "visiting": _text(1, 40),
                   "purpose": _text(1, 100), "photo": _PHOTO,
                   "watch": lambda v: None if v is None or isinstance(v, dict) and v.get(
                       "reason") in ("barred", "banned") else "is not a watchlist match"},
    "visitor_out": {"visitor_id": _VISITOR_ID},
    "duty_note": {"date": _date, "text": _text(1, 500)},
    "duty_signed_off": {"date": _date,
                        "notes": lambda v: _list_of(_pattern(_EVENT_ID, "an event id"))(v)},
}  # fmt: skip
OPTIONAL = {"delegate_granted": {"phone", "photo"}, "plan_set": {"batch", "point", "club_until"},
            "visitor_in": {"document_hash", "last4", "phone", "photo", "watch"}}  # fmt: skip
CORRECTION_FIELDS: dict[str, Check] = {
    "corrects": _pattern(_EVENT_ID, "an event id"),
    "reason": _text(1, 200),
    "corrected_kind": _one_of(*sorted(ev.CORRECTABLE)),
    "student_id": _optional(_ID),
}
GROUP_KINDS = frozenset({ev.CUSTODY_TAKEN, ev.HANDOVER_OFFERED})  # the fold reads group_id


def _list_of(inner: Check, longest: int = 1000) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list) or len(value) > longest:
            return f"is not a list of at most {longest}"
        return next((f"[{n}] {w}" for n, item in enumerate(value) if (w := inner(item))), None)

    return check


def _count(value: Any) -> str | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100_000
    return None if ok else "is not a count (0-100000)"


def _child(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "is not a child (student_id, state, group_id)"
    for name, check in (("student_id", _ID), ("state", _text(1, 32)),
                        ("group_id", _optional(_ID))):  # fmt: skip
        wrong = check(value.get(name)) if name in value else f"has no {name}"
        if wrong:
            return f"{name} {wrong}"
    return None


# What a tap's data may hold under the names the screens, messages and reports read:
# each is checked when present (a tap kind needs only some), so none of them can
# break an answer (a list where an id belongs, a string where children belong).
TAP_FIELDS: dict[str, Check] = {
    **{name: _optional(_ID) for name in (
        "group_id", "from_group", "guardian_id", "delegate_id", "pass_id", "student_id",
        "staff_id", "previous_custodian", "handed_by", "signed_by", "station_id",
        "checkpoint_id", "custodian", "visit_id",
    )},
    "confirms": _optional(_pattern(_EVENT_ID, "an event id")),
    "confirmed": _optional(_one_of("tap", "screen")),
    "via": _optional(_text(1, 16)),
    "asked_by": _optional(_text(1, 80)),
    "delegate_name": _optional(_NAME),
    "students": _list_of(_child),
    "missing": _list_of(_ID, 10_000),
    "present": _list_of(_ID, 10_000),
    "on_leave": _list_of(_ID, 10_000),
    "only": _optional(_list_of(_ID, 10)),
    "acknowledged_by": _list_of(_ID, 2),
    "plan_notes": _list_of(_text(1, 32), 8),
    "head_count": _count,
    "expected": _count,
    "alert": _one_of("normal", "alert", "loud"),
    "warning": _text(1, 40),
    "reason": _optional(_text(1, 200)),
}  # fmt: skip
RANGES = {"delegate_granted": 30, "pass_issued": 180}  # longest from..to, in days


def hlc_bounds(now: dt.datetime) -> tuple[int, int]:
    """Return the lowest and highest HLC stamp a receiver whose clock says ``now`` takes."""
    return to_millis(EARLIEST) << COUNTER_BITS, (to_millis(now + AHEAD) + 1) << COUNTER_BITS


def event_problem(event: Event, now: dt.datetime) -> str | None:
    """Return why an event may not be stored (its envelope and data), or None."""
    latest = now + AHEAD if event.clock_synced else LATEST
    low, high = hlc_bounds(latest - AHEAD)
    if not low <= event.hlc < high:
        return f"hlc {event.hlc} is not a stamp between 2000 and a day from now"
    if not 1 <= event.seq <= 2**62:
        return f"seq {event.seq} is out of range"
    if not 0 <= event.roster_version <= ROSTER_VERSION_MAX:
        return f"roster_version {event.roster_version} is out of range"
    if event.at.tzinfo is None or not EARLIEST <= event.at <= latest:
        return f"at {event.at.isoformat()} is before 2000 or more than a day ahead of {now}"
    if abs((event.day - event.at.astimezone(dt.UTC).date()).days) > 1:
        return f"day {event.day} is not the day of at {event.at.isoformat()}"
    if event.kind not in KINDS:
        return f"kind '{_show(event.kind)}' is not a kind of event"
    if event.outcome not in OUTCOMES:
        return f"outcome '{_show(event.outcome)}' is not accepted, denied or ignored"
    if not _CODE.match(event.code):
        return f"code '{_show(event.code)}' is not a message code"
    if event.subject_kind is not None and event.subject_kind not in SUBJECT_KINDS:
        return f"subject_kind '{_show(event.subject_kind)}' is not a kind of person"
    for name in ("node_id", "epoch", "station", "card", "uid", "subject_id"):
        value = getattr(event, name)
        wrong = None if value is None else _text(0 if name == "uid" else 1, 64)(value)
        if wrong:
            return f"{name} {wrong}"
    wrong = _data_problem(event.data, "data", 0)
    if wrong:
        return wrong
    if len(orjson.dumps(event.data)) > DATA_BYTES:
        return f"data is larger than {DATA_BYTES // 1024} KB"
    return _kind_problem(event)


def own_problem(event: Event, now: dt.datetime) -> str | None:
    """Return why this node may not write an event of its own (its hub would refuse it).

    The receiver's schema, and for a staff action the proof's rules (its signature is
    the node's own). Every writer of a node asks before it writes (TapWriter, the CLI),
    so no record of a node can stall its chain at its hub.
    """
    wrong = event_problem(event, now)
    roles = proof.roles_for(event)
    if wrong is None and roles is not None:
        wrong = proof.check(event, roles, None)
    return wrong


def _kind_problem(event: Event) -> str | None:
    data = event.data
    fields: dict[str, Check] = {}
    optional: set[str] = set()
    if event.kind == ev.CORRECTED:
        fields = CORRECTION_FIELDS
        optional = {"student_id"}
    elif event.kind == ev.ACTION:
        fields = ACTION_FIELDS.get(event.code, {})
        optional = OPTIONAL.get(event.code, set())
    elif event.kind in GROUP_KINDS:
        fields = {"group_id": _ID}
    if event.kind in ev.TAP_KINDS:
        for name in TAP_FIELDS.keys() & data.keys():
            wrong = TAP_FIELDS[name](data[name])
            if wrong:
                return f"data.{name} {wrong}"
        if "missing" in data and not {"head_count", "expected"} <= data.keys():
            return "data.missing comes without head_count and expected"
    for name, check in fields.items():
        if name not in data:
            if name in optional:
                continue
            return f"data.{name} is missing"
        wrong = check(data[name])
        if wrong:
            return f"data.{name} {wrong}"
    longest = RANGES.get(event.code) if event.kind == ev.ACTION else None
    if longest is not None:
        start, end = dt.date.fromisoformat(data["from"]), dt.date.fromisoformat(data["to"])
        if not dt.timedelta(0) <= end - start <= dt.timedelta(days=longest):
            return f"data.from..to is not a range of at most {longest + 1} days"
    return None


def _data_problem(value: Any, where: str, depth: int) -> str | None:
    if depth > DATA_DEPTH:
        return f"{where} is nested too deep"
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or _text(1, 64)(key):
                return f"{where} has a key that is not a short name"
            wrong = _data_problem(item, f"{where}.{key}", depth + 1)
            if wrong:
                return wrong
    elif isinstance(value, list):
        if len(value) > 1000:
            return f"{where} holds more than 1000 items"
        for n, item in enumerate(value):
            wrong = _data_problem(item, f"{where}[{n}]", depth + 1)
            if wrong:
                return wrong
    elif isinstance(value, str):
        wrong = _text(0, TEXT_MAX)(value)
        if wrong:
            return f"{where} {wrong}"
    elif isinstance(value, bool) or value is None:
        return None
    elif isinstance(value, int):
        if abs(value) > INT_MAX:
            return f"{where} is a number out of range"
    elif isinstance(value, float):
        if not math.isfinite(value) or abs(value) > INT_MAX:
            return f"{where} is a number out of range"
    else:
        return f"{where} is not JSON"
    return None


def _show(value: str) -> str:
    """Return text safe to put in a message (control characters escaped, shortened)."""
    return value[:40].encode("unicode_escape").decode()


KeyOf = Callable[[str], tuple[bool, str | None]]


def problems(
    events: list[Event],
    now: dt.datetime,
    key_of: KeyOf | None = None,
) -> list[str]:
    """Return, per refused event, why; empty when every event may be stored.

    ``key_of(node_id)`` says whether this receiver checks that node's staff proofs and
    with which registered key ((False, None): its hub checked them); None checks no
    proof (a kiosk pulling from its hub, which checked them).
    """
    found = []
    for event in events:
        wrong = event_problem(event, now)
        if wrong is None and key_of is not None:
            roles = proof.roles_for(event)
            if roles is not None:
                checked, public = key_of(event.node_id)
                if checked and public is None:
                    wrong = (f"no key of node {event.node_id} is registered here to check "
                             "its proof: let it say hello with a current version")  # fmt: skip
                else:
                    wrong = proof.check(event, roles, public)
        if wrong is not None:
            found.append(f"event {event.event_id}: {wrong}")
    return found
