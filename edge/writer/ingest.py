"""Storing events made on other nodes (sync): each chain only in order, on the writer."""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass

from edge.errors import CampusEdgeError
from edge.school.events import Chain, Event, check_chains
from edge.store import events as rows
from edge.store import meta as meta_rows


class ChainBroken(CampusEdgeError):
    """A synced batch that cannot be stored: changed content, a broken or forked chain."""

    def __init__(self, problems: list[str]) -> None:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__("; ".join(problems[:5]) + more)
        self.problems = problems


@dataclass(frozen=True)
class Ingested:
    """What an ingest stored: new events, duplicates skipped, each chain's stored head."""

    stored: list[Event]
    duplicates: int
    heads: dict[tuple[str, str], int]


def store_synced(
    conn: sqlite3.Connection, events: list[Event], meta: dict[str, str] | None
) -> Ingested:
    """Store other nodes' events and ``meta`` (a sync cursor) in the caller's transaction.

    Each (node, epoch) chain is stored only in order: an event must carry the next
    seq and name the hash of the one before it. One already held is a duplicate if
    its hash matches, a fork if not. An event beyond a gap waits (it is not stored;
    the sender learns from the heads where to resume), unless a cursor moves past it.
    Changed content or a fork refuses the whole batch (ChainBroken), storing nothing.
    """

    def head_of(chain: Chain) -> tuple[int, str]:
        last = rows.head(conn, chain)
        return (last.seq, last.hash) if last else (0, "")

    check = check_chains(events, head_of, lambda e: rows.held_hash(conn, e.event_id))
    if check.gaps and meta:  # a pulled page moves a cursor past them: none may wait
        check.problems.append(f"{check.gaps} events arrived before the events they follow")
    if check.problems:
        raise ChainBroken(check.problems)
    before = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM events").fetchone()[0]
    rows.insert_events(conn, check.stored)
    # each stored event with its rowid, the cursor screens resume from (one writer: in order)
    rowids = conn.execute("SELECT id, rowid FROM events WHERE rowid > ?", (before,)).fetchall()
    placed = dict(rowids)
    stored = [dataclasses.replace(e, rowid=placed.get(e.event_id)) for e in check.stored]
    for key, value in (meta or {}).items():
        meta_rows.put(conn, key, value)
    return Ingested(stored, check.duplicates, {c: h[0] for c, h in check.heads.items()})
