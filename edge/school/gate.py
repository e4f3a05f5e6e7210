"""The gate register (门卫登记): visitors' documents, the watchlist, and who is inside.

Pure: no I/O, no clock. What the guard types is checked here; what the ledger holds
about the gate is folded here (``Register``), from two kinds of record:

- a visitor's entry and exit are staff actions (``events.ACTION``), codes
  ``VISITOR_IN`` and ``VISITOR_OUT`` (fields in edge.school.schema.ACTION_FIELDS);
- an outside instructor's (外聘人员) card at a pickup point is a tap of kind
  ``staff_on_duty``, code ``INSTRUCTOR_IN`` or ``INSTRUCTOR_OUT``, ``data.gate`` "in"
  or "out" (alternately through the day, every node's taps counted).

A document number is never kept as typed: the ledger holds ``document_hash`` (scrypt,
salted with the campus's document key, so that a search by the full number finds the
visitor on every node that has the roster, and a guess costs tens of milliseconds) and
its last 4 characters. The banned list keeps its cells as ``hmac:<hash>:<last4>``, the
prefix kept from the first version of this format; the hash is the same scrypt. The key is
school.toml's ``[gate] document_key`` (any text of 16+ characters, the same on every
node because the roster carries it); without one, a fixed key is used and the hash is
only as hard to reverse as an ID number is to guess: set one.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from edge.school import events as ev
from edge.school.events import Event

VISITOR_IN = "visitor_in"
VISITOR_OUT = "visitor_out"
INSTRUCTOR_IN = "instructor_in"
INSTRUCTOR_OUT = "instructor_out"
CONTRACT_ENDED = "contract_ended"  # a refused tap: an outside instructor outside their dates
DEFAULT_KEY = b"campus-edge document v1 (no [gate] document_key)"
DOCUMENT = re.compile(r"^[A-Z0-9]{5,24}$")
RESIDENT_ID = re.compile(r"^[0-9]{17}[0-9X]$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
SCRYPT_N = 2**14  # scrypt's cost: 16 MB of memory a hash (r = 8)
HASH_PREFIX = "hmac:"  # a banned list's cell as the roster keeps it: hmac:<hex>:<last4>


class DocumentError(ValueError):
    """A document number that cannot be one (the sentence says why)."""


def normalize_document(raw: str) -> str:
    """Return a document number as compared: capitals and digits, spaces and dashes dropped.

    A scanner or a hand types ``1101 0519 4912 0112 3x``; all name one card. An 18-
    character resident ID (居民身份证) must carry its right check character.
    """
    text = unicodedata.normalize("NFKC", raw).upper()
    text = re.sub(r"[\s\-]", "", text)
    if not DOCUMENT.match(text):
        raise DocumentError(
            "证件号只能是 5 到 24 位字母和数字 / a document number is 5 to 24 letters and digits"
        )
    if RESIDENT_ID.match(text):
        total = sum(int(d) * w for d, w in zip(text[:17], _WEIGHTS, strict=True))
        if _CHECK[total % 11] != text[17]:
            raise DocumentError(
                "身份证号的校验位不对，请核对 / the ID number's check character is wrong: check it"
            )
    return text


@functools.lru_cache(maxsize=8)
def document_key(school_toml: str) -> bytes:
    """Return the campus's document key from school.toml (``[gate] document_key``)."""
    try:
        gate = tomllib.loads(school_toml).get("gate") or {}
    except tomllib.TOMLDecodeError:
        return DEFAULT_KEY
    key = gate.get("document_key") if isinstance(gate, dict) else None
    return key.encode() if isinstance(key, str) and len(key) >= 16 else DEFAULT_KEY


def document_hash(key: bytes, number: str) -> str:
    """Return the keyed hash of a normalized document number (what the ledger keeps).

    scrypt (16 MB, tens of ms a number), not a fast HMAC: an ID number has few unknown
    digits (region, birth date; its last 4 are shown), so whoever holds a kiosk's disk
    and its school.toml could otherwise try every candidate in a second. Here each try
    costs what registering a visitor costs.
    """
    return hashlib.scrypt(
        b"document:" + number.encode(), salt=key, n=SCRYPT_N, r=8, p=1, dklen=32
    ).hex()


def masked(last4: str | None) -> str | None:
    """Return a document number as every screen shows it: ``****1234``."""
    return f"****{last4}" if last4 else None


def masked_phone(phone: str | None) -> str | None:
    """Return a phone number with all but its first 3 and last 4 digits hidden."""
    if not phone:
        return None
    digits = re.sub(r"\D", "", phone)
    if len(digits) <= 7:
        return "****" + digits[-4:]
    return f"{digits[:3]}****{digits[-4:]}"


def name_key(name: str) -> str:
    """Return a name as the watchlist compares it (width, spaces and case folded)."""
    text = unicodedata.normalize("NFKC", name)
    # Invisible format characters (a zero-width space typed into a name) would hide it.
    text = "".join(c for c in text if unicodedata.category(c) != "Cf")
    # Punctuation and symbols between the characters (钱-某, 钱_某) hide nothing either.
    text = "".join(c for c in text if unicodedata.category(c)[0] not in "PSZ")
    return text.casefold()


@dataclass(frozen=True)
class Watch:
    """Someone the gate must stop: a barred adult (pickup.csv allowed = 0) or a banned row."""

    name: str
    reason: str  # "barred" (from a child) or "banned" (the school's list)
    document_hash: str | None = None
    detail: str = ""  # the banned list's reason
    guardian_id: str | None = None
    students: tuple[str, ...] = ()


def match(watchlist: list[Watch], name: str, doc_hash: str | None) -> dict[str, Any] | None:
    """Return the alert of a visitor on the watchlist (by name or document), or None."""
    key = name_key(name)
    found = [
        w for w in watchlist
        if (doc_hash is not None and w.document_hash == doc_hash) or name_key(w.name) == key
    ]  # fmt: skip
    if not found:
        return None
    # A document match is the stronger finding: it names the person whatever name was given.
    found.sort(key=lambda w: (w.document_hash != doc_hash or doc_hash is None, w.reason))
    first = found[0]
    by = "document" if doc_hash is not None and first.document_hash == doc_hash else "name"
    alert: dict[str, Any] = {"reason": first.reason, "match": by, "alert": "loud",
                             "listed_name": first.name}  # fmt: skip
    if first.detail:
        alert["detail"] = first.detail
    if first.guardian_id:
        alert["guardian_id"] = first.guardian_id
        alert["students"] = list(first.students)
    return alert


@dataclass
class Visit:
    """One visitor's entry and, once they left, exit."""

    visitor_id: str
    name: str
    last4: str | None
    document_hash: str | None
    phone: str | None
    visiting: str
    purpose: str
    at: dt.datetime
    by: str | None
    station: str
    photo: str | None = None
    alert: dict[str, Any] | None = None
    left_at: dt.datetime | None = None
    left_by: str | None = None

    def to_json(self, tz: dt.tzinfo | None = None) -> dict[str, Any]:
        """Return the visit as answers show it: never the document number or the phone.

        Times are in ``tz`` (the school's zone: screens show ISO text as it is).
        """
        at = self.at.astimezone(tz) if tz else self.at
        left = self.left_at.astimezone(tz) if tz and self.left_at else self.left_at
        return {
            "kind": "visitor", "visitor_id": self.visitor_id, "name": self.name,
            "document": masked(self.last4), "phone": masked_phone(self.phone),
            "visiting": self.visiting, "purpose": self.purpose, "in_at": at.isoformat(),
            "registered_by": self.by, "out_at": left.isoformat() if left else None,
            "checked_out_by": self.left_by, "inside": self.left_at is None, "alert": self.alert,
            "photo": self.photo, "station": self.station,
        }  # fmt: skip


@dataclass
class Register:
    """The fold of a day's gate records: visitors and outside instructors in and out."""

    visits: dict[str, Visit] = field(default_factory=dict)
    instructors: dict[str, list[tuple[str, dt.datetime, str]]] = field(default_factory=dict)

    def apply(self, event: Event) -> None:
        """Take in one event (others are ignored); never raises on a malformed one."""
        data = event.data
        if event.kind == ev.ACTION and event.code == VISITOR_IN:
            vid = data.get("visitor_id")
            if isinstance(vid, str) and vid not in self.visits:
                self.visits[vid] = _visit(event, vid)
        elif event.kind == ev.ACTION and event.code == VISITOR_OUT:
            visit = self.visits.get(str(data.get("visitor_id")))
            if visit is not None and visit.left_at is None:
                visit.left_at, visit.left_by = event.at, event.subject_id
        elif event.kind == ev.STAFF_ON_DUTY and data.get("gate") in ("in", "out"):
            moves = self.instructors.setdefault(event.subject_id or "", [])
            moves.append((str(data["gate"]), event.at, event.station))

    def inside(self, at: dt.datetime | None = None) -> list[Visit]:
        """Return the visitors inside (at ``at``: in by then, not yet out), earliest first."""
        shown = [
            v
            for v in self.visits.values()
            if (at is None or v.at <= at) and (v.left_at is None or (at and v.left_at > at))
        ]
        return sorted(shown, key=lambda v: v.at)  # fmt: skip

    def instructors_inside(self, at: dt.datetime | None = None) -> dict[str, dt.datetime]:
        """Return each outside instructor whose last gate tap (by ``at``) was "in", and when."""
        inside = {}
        for sid, moves in self.instructors.items():
            made = [m for m in moves if at is None or m[1] <= at]
            if made and made[-1][0] == "in":
                inside[sid] = made[-1][1]
        return inside


def _visit(event: Event, vid: str) -> Visit:
    data = event.data

    def text(name: str) -> str | None:
        value = data.get(name)
        return value if isinstance(value, str) else None

    alert = data.get("watch")
    return Visit(
        vid, text("name") or "?", text("last4"), text("document_hash"), text("phone"),
        text("visiting") or "", text("purpose") or "", event.at, event.subject_id,
        event.station, text("photo"), alert if isinstance(alert, dict) else None,
    )  # fmt: skip


def gate_direction(moves: list[tuple[str, dt.datetime, str]] | None) -> str:
    """Return "in" or "out" for an instructor's next gate tap: alternately, "in" first."""
    return "out" if moves and moves[-1][0] == "in" else "in"
