"""How an event is a row of the central's ``events`` table, and its pull cursor.

A pull cursor is (transaction id, position): rows are served in commit-safe order
(see edge.sync.central).
"""

from __future__ import annotations

from typing import Any

import orjson

from edge.errors import TapError
from edge.school.events import Event

COPY_COLUMNS = (
    "campus, id, node_id, epoch, seq, hlc, at, day, station, kind, outcome, code, card, uid, "
    "subject_kind, subject_id, data, roster_version, clock_synced, prev_hash, hash"
)
SELECT_COLUMNS = (
    "tx::text, pos, node_id, epoch, seq, hlc, at, day, station, kind, outcome, code, card, uid, "
    "subject_kind, subject_id, data, roster_version, clock_synced, prev_hash, hash"
)


def parse_cursor(after: str) -> tuple[str, int]:
    """Return a pull cursor's (transaction id, position); TapError if it is not one of ours."""
    if not after:
        return "0", 0
    tx, _, pos = after.partition(":")
    if not (tx.isdigit() and pos.isdigit()) or len(after) > 60:
        raise TapError(f"after: '{after}' is not a cursor this central gave out")
    return tx, int(pos)


def copy_row(campus: str, e: Event) -> tuple[Any, ...]:
    """Return an event as the row COPY writes (in COPY_COLUMNS order)."""
    return (
        campus, e.event_id, e.node_id, e.epoch, e.seq, e.hlc, e.at, e.day, e.station, e.kind,
        e.outcome, e.code, e.card, e.uid, e.subject_kind, e.subject_id,
        orjson.dumps(e.data).decode(), e.roster_version, e.clock_synced, e.prev_hash,
        e.stored_hash,
    )  # fmt: skip


EVENT_FIELDS = tuple(c.strip() for c in SELECT_COLUMNS.split(",")[2:])  # after tx and pos


def event_of(row: Any) -> Event:
    """Return the Event of a row read in SELECT_COLUMNS order (without tx and pos)."""
    return Event.from_fields(dict(zip(EVENT_FIELDS, row, strict=True)))
