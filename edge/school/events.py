"""What the ledger holds: taps, decisions and the events made of them.

An ``Event`` is immutable and is the only thing ever written about what happened.
Its fold key ``(hlc, node_id, epoch, seq)`` orders events the same way on every node,
whatever order they arrived in (DESIGN.md, Time).

``Tail.next`` is the one place an event of this node is made: tap, staff action,
correction or escalation alike, it is stamped by the node's one HLC, numbered, chained
to the one before and hashed there. Every event, made here or received, moves that
HLC, so whatever is made after it sorts after it, whatever the wall clock says. An
event read back or received is rebuilt by ``Event.from_row`` (a ledger row) or
``Event.from_fields`` (a checked wire event, a central row), never field by field.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from edge.clock import HybridLogicalClock

ACCEPTED, DENIED, IGNORED = "accepted", "denied", "ignored"

# Event kinds. Tap kinds come from rules.decide; the state they change is in fold.
SIGNED_IN = "signed_in"  # student signed in to a group (or moved there)
CUSTODY_TAKEN = "custody_taken"  # staff took custody of a group, with a head count
PICKUP_OPENED = "pickup_opened"  # guardian opened a pickup context at a station
RELEASED = "released"  # student released to a guardian
LEFT_ALONE = "left_alone"  # student left alone (walk_alone = 1)
STAFF_ON_DUTY = "staff_on_duty"  # staff tapped at a pickup point
REFUSED = "refused"  # a known card whose tap the rules refused
HANDOVER_OFFERED = "handover_offered"  # two-party handover: the handing staff tapped first
# A patrol visit (巡查): a [patrol] role's staff card at a classroom (data: group_id,
# head_count, expected, missing, on_leave, custodian, station_id; custody unchanged), or
# a checkpoint tag (data: checkpoint_id, via "kiosk" | "phone"; subject the staff or None).
PATROL_VISIT = "patrol_visit"
# A staff member undid a wrong sign-in or release (data.corrects names it, with a
# reason): the fold leaves the corrected event out; nothing is deleted.
CORRECTED = "corrected"
CORRECTABLE = frozenset({"signed_in", "released", "left_alone"})
UNKNOWN_CARD = "unknown_card"  # a card not in the roster
DEBOUNCED = "debounced"  # the same card again within the debounce window
# Not a tap: a staff member's or operator's action (roster import, device registration,
# a dashboard sign-in, ...), recorded in the same chain with who did it. Its code
# names the action; the picture of the day ignores it.
ACTION = "action"
TAP_KINDS = frozenset(
    {
        SIGNED_IN,
        CUSTODY_TAKEN,
        PICKUP_OPENED,
        RELEASED,
        LEFT_ALONE,
        STAFF_ON_DUTY,
        HANDOVER_OFFERED,
        PATROL_VISIT,
        REFUSED,
        UNKNOWN_CARD,
        DEBOUNCED,
    }
)


@dataclass(frozen=True)
class Tap:
    """A card read at a station, with its canonical card key and the moment it happened."""

    station: str
    card: str
    uid: str
    at: dt.datetime
    credential: dict[str, Any] | None = None  # a scanned pass's verified payload (or error)
    mono: tuple[str, float] | None = None  # clock.Reading when read now (None: a given moment)


@dataclass(frozen=True)
class Decision:
    """What the rules made of a tap: outcome, event kind, message code and details."""

    outcome: str
    kind: str
    code: str
    subject_kind: str | None = None
    subject_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Event:
    """One durable record in the ledger."""

    node_id: str
    epoch: str
    seq: int
    hlc: int
    at: dt.datetime
    day: dt.date
    station: str
    kind: str
    outcome: str
    code: str
    card: str | None
    uid: str | None
    subject_kind: str | None
    subject_id: str | None
    data: dict[str, Any]
    roster_version: int
    clock_synced: bool
    prev_hash: str = ""
    stored_hash: str | None = None  # as read back from the ledger; None before writing
    rowid: int | None = None

    def content_hash(self) -> str:
        """Return the SHA-256 of this event's content and its predecessor's hash.

        Each event names the hash of the one before it on its node (and epoch), so
        an event changed, removed or slipped in after writing breaks the chain.
        """
        content = [
            self.event_id, self.node_id, self.epoch, self.seq, self.hlc, utc_text(self.at),
            self.day.isoformat(), self.station, self.kind, self.outcome, self.code, self.card,
            self.uid, self.subject_kind, self.subject_id, self.data, self.roster_version,
            self.clock_synced, self.prev_hash,
        ]  # fmt: skip
        return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()

    @property
    def event_id(self) -> str:
        """Return the id that names this event on every node."""
        return f"{self.node_id}:{self.epoch}:{self.seq}"

    @property
    def key(self) -> tuple[int, str, str, int]:
        """Return the fold order key."""
        return (self.hlc, self.node_id, self.epoch, self.seq)

    def to_row(self) -> tuple[Any, ...]:
        """Return the values of the ledger's row (edge.store.events.ROW_COLUMNS, in order)."""
        return (
            self.event_id,
            self.node_id,
            self.epoch,
            self.seq,
            self.hlc,
            utc_text(self.at),
            self.day.isoformat(),
            self.station,
            self.kind,
            self.outcome,
            self.code,
            self.card,
            self.uid,
            self.subject_kind,
            self.subject_id,
            orjson.dumps(self.data).decode(),
            self.roster_version,
            int(self.clock_synced),
            self.prev_hash,
            self.stored_hash if self.stored_hash is not None else self.content_hash(),
        )

    @classmethod
    def from_row(cls, row: Any) -> Event:
        """Build an Event from a ledger row (edge.store.events.SELECT_COLUMNS, in order)."""
        (rowid, node_id, epoch, seq, hlc, at, day, station, kind, outcome, code, card, uid,
         subject_kind, subject_id, data, roster_version, clock_synced, prev_hash,
         hash_) = row  # fmt: skip
        return cls(
            node_id, epoch, seq, hlc, dt.datetime.fromisoformat(at), dt.date.fromisoformat(day),
            station, kind, outcome, code, card, uid, subject_kind, subject_id,
            orjson.loads(data), roster_version, bool(clock_synced), prev_hash, hash_, rowid,
        )  # fmt: skip

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Event:
        """Build an Event received in typed form, from its fields by name.

        What a checked wire event (edge.sync.protocol) or a central row holds: ``at`` an
        aware datetime, ``day`` a date, ``data`` a dict, and ``hash`` the hash it was
        stored with (checked on ingest, not here). Any other key (the wire's ``id``) is
        left aside: the id follows from node, epoch and seq.
        """
        return cls(
            fields["node_id"], fields["epoch"], int(fields["seq"]), int(fields["hlc"]),
            fields["at"], fields["day"], fields["station"], fields["kind"], fields["outcome"],
            fields["code"], fields["card"], fields["uid"], fields["subject_kind"],
            fields["subject_id"], fields["data"], fields["roster_version"],
            bool(fields["clock_synced"]), fields["prev_hash"], fields["hash"],
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        """Return the event as the HTTP API shows it."""
        return {
            "id": self.event_id,
            "node_id": self.node_id,
            "epoch": self.epoch,
            "seq": self.seq,
            "hlc": self.hlc,
            "kind": self.kind,
            "outcome": self.outcome,
            "code": self.code,
            "at": self.at.isoformat(),
            "day": self.day.isoformat(),
            "station": self.station,
            "card": self.card,
            "uid": self.uid,
            "subject_kind": self.subject_kind,
            "subject_id": self.subject_id,
            "data": self.data,
            "roster_version": self.roster_version,
            "clock_synced": self.clock_synced,
        }

    def to_wire(self) -> dict[str, Any]:
        """Return the event as sync sends it: the API form plus its place in the chain."""
        wire = self.to_json()
        wire["prev_hash"] = self.prev_hash
        wire["hash"] = self.stored_hash if self.stored_hash is not None else self.content_hash()
        return wire


Chain = tuple[str, str]  # (node_id, epoch): one hash chain
Mark = tuple[int, str, int]  # (next seq, chain head, last HLC stamp): a Tail to go back to


def action(code: str, data: dict[str, Any], subject_id: str | None = None) -> Decision:
    """Return the decision of a staff or operator action (see ACTION)."""
    return Decision(ACCEPTED, ACTION, code, "staff" if subject_id else None, subject_id, data)


@dataclass
class Tail:
    """Where this node's chain stands: the next seq, the last hash, and the HLC.

    Owned by one writer (the tap writer thread, or a CLI command under the write lock).
    A write that fails, at COMMIT included, puts it back with ``reset(mark())``.
    """

    node_id: str
    epoch: str
    seq: int = 1
    head: str = ""
    hlc: HybridLogicalClock = field(default_factory=HybridLogicalClock)

    def next(
        self, at: dt.datetime, day: dt.date, station: str, decision: Decision, *,
        card: str | None, uid: str | None, roster_version: int, clock_synced: bool,
        sign: Callable[[Event], Event] | None = None,
    ) -> Event:  # fmt: skip
        """Make (stamp, number, chain and hash) this node's next event; move past it.

        ``sign`` (a staff action's proof, edge.school.proof) returns the event signed and
        hashed again; the chain moves past the signed event.
        """
        event = Event(
            self.node_id, self.epoch, self.seq, self.hlc.stamp(at), at, day, station,
            decision.kind, decision.outcome, decision.code, card, uid, decision.subject_kind,
            decision.subject_id, decision.data, roster_version, clock_synced, self.head,
        )  # fmt: skip
        # Hashed once, here: the chain head, the INSERT and read-back events share it.
        event = dataclasses.replace(event, stored_hash=event.content_hash())
        if sign is not None:
            event = sign(event)
        self.seq, self.head = self.seq + 1, event.stored_hash or ""
        return event

    def receive(self, event: Event, upto: int) -> None:
        """Take in an event made elsewhere (sync, the CLI): what follows sorts after it.

        ``upto`` is ``clock.ceiling`` of this node's wall clock: a stamp beyond it is
        left out (a wrong clock's, or a forger's).
        """
        self.hlc.receive(event.hlc, upto)

    def mark(self) -> Mark:
        """Return where the tail stands, to ``reset`` to if a write fails."""
        return self.seq, self.head, self.hlc.last

    def reset(self, mark: Mark) -> None:
        """Go back to a ``mark``: nothing made since then was stored."""
        self.seq, self.head, self.hlc.last = mark


@dataclass
class ChainCheck:
    """What of a synced batch may be stored, and what is wrong with it."""

    stored: list[Event] = field(default_factory=list)
    duplicates: int = 0
    gaps: int = 0
    heads: dict[Chain, tuple[int, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def check_chains(
    events: list[Event],
    head_of: Callable[[Chain], tuple[int, str]],
    held_hash: Callable[[Event], str | None],
) -> ChainCheck:
    """Decide which events of a synced batch extend their chains (every store uses it).

    Each (node, epoch) chain is stored only in order: an event must carry the next
    seq and name the hash of the one before it, and its hash must match its content.
    One already held is a duplicate if its hash matches, a fork if not. An event beyond
    a gap waits (counted in ``gaps``; the sender learns from the heads where to
    resume). ``head_of`` gives a chain's stored (seq, hash); ``held_hash`` the hash
    stored under an event's key.
    """
    check = ChainCheck()
    for event in events:
        chain = (event.node_id, event.epoch)
        if chain not in check.heads:
            check.heads[chain] = head_of(chain)
        head_seq, head_hash = check.heads[chain]
        name = f"event {event.event_id}"
        if event.stored_hash != event.content_hash():
            check.problems.append(f"{name}: its hash does not match its content")
        elif event.seq <= head_seq:
            if held_hash(event) == event.stored_hash:
                check.duplicates += 1
            else:
                check.problems.append(
                    f"{name}: another event with this node, epoch and seq is held"
                )
        elif event.seq > head_seq + 1:
            check.gaps += 1
        elif event.prev_hash != head_hash:
            check.problems.append(f"{name}: it does not follow event {event.seq - 1} of its node")
        else:
            check.heads[chain] = (event.seq, event.stored_hash or "")
            check.stored.append(event)
    return check


def utc_text(moment: dt.datetime) -> str:
    """Return a moment as fixed-width UTC ISO text, so the ledger can compare it as text."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds")
