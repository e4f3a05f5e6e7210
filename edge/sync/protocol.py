"""The sync protocol, the same at every level (kiosk -> hub -> central): its messages.

Push: ``POST /api/v1/sync/events`` with a batch of events in ledger order, signed by
the sender's node key (``signature``; edge.school.proof.push_message says over what),
checked with the key bound to the device before anything is stored. The
receiver stores each (node, epoch) chain only in order, idempotently by
(node_id, epoch, seq), and answers each chain's highest stored seq; the sender moves
its cursor past what is acknowledged and sends the rest again.

Pull: ``GET /api/v1/sync/events?after=CURSOR`` pages through the receiver's ledger
with an opaque cursor (a rowid on SQLite; a transaction-safe (xid, position) pair on
PostgreSQL), never by time. ``GET /api/v1/sync/roster?since=VERSION`` returns the
roster in force when it is newer than the caller's.

Every answer carries the receiver's clock (``now``), so a kiosk without a trusted
clock can follow its hub's.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import AwareDatetime, BaseModel, Field

from edge.school.events import Event

_ID = r"^[A-Za-z0-9._-]{1,64}$"


class WireEvent(BaseModel):
    """One event as it travels between nodes, with its place in its node's hash chain."""

    id: str = Field(max_length=200)
    node_id: str = Field(pattern=_ID)
    epoch: str = Field(pattern=r"^[0-9a-f]{1,32}$")
    seq: int = Field(ge=1, le=2**62)
    hlc: int = Field(ge=0, le=2**63 - 1)
    kind: str = Field(max_length=64)
    outcome: str = Field(max_length=32)
    code: str = Field(max_length=64)
    at: AwareDatetime
    day: dt.date
    station: str = Field(max_length=64)
    card: str | None = Field(default=None, max_length=64)
    uid: str | None = Field(default=None, max_length=64)
    subject_kind: str | None = Field(default=None, max_length=16)
    subject_id: str | None = Field(default=None, max_length=64)
    data: dict[str, Any]
    roster_version: int = Field(ge=0, le=2**62)
    clock_synced: bool
    prev_hash: str = Field(pattern=r"^([0-9a-f]{64})?$")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")

    def to_event(self) -> Event:
        """Return the ledger's Event (its hash is checked on ingest, not here)."""
        return Event.from_fields(dict(self))


class Push(BaseModel):
    """A batch of events pushed upstream, and how the sender stands."""

    events: list[WireEvent] = Field(max_length=2000)
    waiting: int = Field(
        default=0, ge=0, le=2**62, description="events still queued after this batch"
    )
    sent_at: AwareDatetime | None = Field(default=None, description="the sender's wall clock")
    clock_trusted: bool = True
    signature: str | None = Field(
        default=None,
        max_length=100,
        description="the sender's node key's Ed25519 signature (base64url) over each chain's "
        "last event in the batch (edge.school.proof.push_message); required",
    )
    clock_step_seconds: float = Field(
        default=0.0,
        ge=-(10**9),
        le=10**9,
        description="how far the sender stepped its untrusted clock to follow its upstream: "
        "its events marked clock_synced=false were that far off",
    )


class Head(BaseModel):
    """How far one (node, epoch) chain is stored at the receiver."""

    node_id: str
    epoch: str
    seq: int


class PushAnswer(BaseModel):
    """What the receiver stored of a push."""

    stored: int
    duplicates: int
    heads: list[Head]
    now: dt.datetime


class PullAnswer(BaseModel):
    """A page of the receiver's ledger."""

    events: list[dict[str, Any]]
    next: str
    more: bool
    now: dt.datetime


class Hello(BaseModel):
    """Who the caller is to the receiver, and the receiver's clock."""

    device: str
    kind: str
    node_id: str
    role: str
    now: dt.datetime
    roster_version: int
    pass_key: str | None = Field(default=None, description="the public key passes are signed with")


class RosterSnapshot(BaseModel):
    """The roster in force at the receiver: every table, school.toml and photo names."""

    version: int
    source: str
    school_toml: str
    tables: dict[str, list[dict[str, Any]]]
    photos: list[str]
    tag: str = Field(
        default="",
        max_length=120,
        description="what names this roster at the sender (version and digest): the caller "
        "sends it back as `have` to be told only of a roster other than the one it took",
    )


def photo_names(tables: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Return the photos a roster's students and guardians name, sorted, once each."""
    return sorted(
        {row["photo"] for name in ("students", "guardians") for row in tables.get(name, [])
         if row.get("photo")}
    )  # fmt: skip
