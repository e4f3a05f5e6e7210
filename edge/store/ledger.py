"""The ledger: a node's SQLite database, an append-only event log and what goes with it.

``Ledger`` is the one object the rest of a node holds; its parts live beside it:
``events`` (the event rows and their reads), ``rosters`` (the roster in force and its
photos), ``access`` (devices, PINs, revocations), ``meta`` (cursors, notices,
quarantine), ``migrations`` (the schema), ``db`` (connections, the write path).

Durability: WAL journal with ``synchronous=FULL``, so a committed event survives a
power cut. Events are never updated or deleted. A node's own events are appended only
by ``append``, which makes the next event of its chain, checks it is one its hub takes
and inserts it; other nodes' events only by ``events.insert_events`` after their chains
were checked (the writer's ingest). On a running node every write runs on its one
writer thread (``edge.writer``), which calls these functions on the connection it
owns. An operator's command (the CLI, a process of its own) runs the same functions
on its own connection (``Database.write``, e.g. ``append_action``); SQLite's write lock
orders it with the service's writer, which takes in what it appended before its own
next write. Any thread may read, through ``reader()`` (one connection per thread).
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
import os
import secrets
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.clock import (
    MAX_STAMP,
    Clock,
    HybridLogicalClock,
    SystemClock,
    ceiling,
    clock_synchronized,
)
from edge.errors import StorageError, TapError
from edge.school import schema
from edge.school.events import Decision, Event, Tail, action
from edge.store.access import Access
from edge.store.db import connect, transaction
from edge.store.events import EventLog, head, insert_events, last_stamp
from edge.store.meta import Meta
from edge.store.migrations import migrate
from edge.store.rosters import Rosters

log = logging.getLogger(__name__)


def append(
    conn: sqlite3.Connection, tail: Tail, at: dt.datetime, day: dt.date, station: str,
    decision: Decision, *, now: dt.datetime, roster_version: int, clock_synced: bool,
    card: str | None = None, uid: str | None = None, sign: Callable[[Event], Event] | None = None,
) -> Event:  # fmt: skip
    """Make this node's next event on ``tail`` (events.Tail), check it, insert it.

    The one way a node appends its own event, inside the caller's write. What this
    node writes, its hub must take: the receiver's schema is checked here too, so no
    event of ours can stall our chain at the hub (edge.school.schema). A refused event
    puts the tail back and raises TapError; nothing is inserted.
    """
    mark = tail.mark()
    event = tail.next(
        at, day, station, decision, card=card, uid=uid, roster_version=roster_version,
        clock_synced=clock_synced, sign=sign,
    )  # fmt: skip
    wrong = schema.own_problem(event, now)
    if wrong is not None:
        tail.reset(mark)
        log.error("refused to write %s: %s", event.event_id, wrong)
        raise Unrecordable(wrong)
    insert_events(conn, [event])
    return event


class Unrecordable(TapError):
    """An event of ours the campus hub would refuse: nothing was saved."""

    def __init__(self, problem: str) -> None:
        super().__init__(
            f"this could not be recorded in a form the campus hub takes ({problem}); "
            "nothing was saved: tell the IT teacher"
        )
        self.problem = problem


class Ledger(EventLog, Rosters, Access, Meta):
    """The node's database: meta, events, roster, access."""

    def __init__(
        self, path: Path, node_id: str, *, claim: bool = False, clock: Clock | None = None
    ) -> None:
        super().__init__(path)
        self.clock: Clock = clock or SystemClock()  # what an operator's action is stamped by
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.photos = self.path.parent / "photos"
        try:
            conn = connect(self.path)
            try:
                migrate(conn)
                self.epoch = _identity(conn, "epoch", lambda: secrets.token_hex(4))
                self.node_id = _identity(conn, "node_id", lambda: node_id)
                if claim and self.node_id != node_id:
                    self._rename(conn, node_id)
            finally:
                conn.close()
        except sqlite3.DatabaseError as err:
            raise StorageError(f"the database {self.path} cannot be opened: {err}") from err

    def _rename(self, conn: sqlite3.Connection, node_id: str) -> None:
        """Take a node id given explicitly, as long as no tap carries the old one.

        Set-up actions recorded under the old id (a roster import before the first
        start) stay as that id's own short chain; taps are the node's identity.
        """
        made = conn.execute(
            "SELECT 1 FROM events WHERE node_id = ? AND kind != 'action' LIMIT 1",
            (self.node_id,),
        )
        if made.fetchone() is not None:
            raise StorageError(
                f"this database already holds events of node '{self.node_id}', so it cannot "
                f"become '{node_id}': start it as '{self.node_id}', or use a new data directory"
            )
        with transaction(conn):
            conn.execute("UPDATE meta SET value = ? WHERE key = 'node_id'", (node_id,))
        self.node_id = node_id

    # -- this node's chain --------------------------------------------------------

    def position(
        self, conn: sqlite3.Connection | None = None, now: dt.datetime | None = None
    ) -> tuple[int, int]:
        """Return (next seq for this node and epoch, last HLC stamp in the ledger).

        Every event counts for the stamp, staff actions and synced events included, so a
        clock started from it stamps after everything held, whatever the wall clock says;
        but another node's stamp more than clock.SKEW past ``now`` never pins it.
        """
        conn = conn or self.reader()
        last = head(conn, (self.node_id, self.epoch))
        upto = ceiling(now) if now is not None else MAX_STAMP  # another's far stamp never pins it
        stamp = last_stamp(conn, (self.node_id, self.epoch), upto)
        return (last.seq if last else 0) + 1, stamp

    def tail(self, conn: sqlite3.Connection, now: dt.datetime | None = None) -> Tail:
        """Return where this node's chain stands, to make its next events (events.Tail)."""
        seq, stamp = self.position(conn, now)
        return Tail(self.node_id, self.epoch, seq, self.chain_head(conn), HybridLogicalClock(stamp))

    def chain_head(self, conn: sqlite3.Connection | None = None) -> str:
        """Return the hash of this node's (and epoch's) last event; '' before the first."""
        last = head(conn or self.reader(), (self.node_id, self.epoch))
        return last.hash if last else ""

    def append_action(
        self, code: str, data: dict[str, Any], subject_id: str | None = None
    ) -> Event:
        """Append an operator's action (a CLI command) to this node's chain, with who ran it.

        On this process's own connection, under the write lock: a running service's
        writer, which takes in its chain's tail inside its own write, carries on after it.
        """
        who = os.environ.get("SUDO_USER") or getpass.getuser()
        now = self.clock.now()
        roster = self.load_roster()

        def append_it(conn: sqlite3.Connection) -> Event:
            return append(
                conn, self.tail(conn, now), now, roster.calendar.day_of(now), "cli",
                action(code, {"by": who, "via": "cli", **data}, subject_id), now=now,
                roster_version=roster.version, clock_synced=clock_synchronized(),
            )  # fmt: skip

        try:
            return self.write(append_it)
        except Unrecordable as err:
            raise StorageError(f"the action could not be recorded: {err.problem}") from err

    # -- the whole file -----------------------------------------------------------

    def verify(self, progress: Callable[[int], None] | None = None) -> tuple[int, list[str]]:
        """Walk every node's hash chain; return (events checked, the first break of each).

        A break names the event and what is wrong: content changed after writing, a
        missing or inserted event (seq gap, wrong predecessor hash).
        """
        problems: list[str] = []
        checked = 0
        chain: tuple[str, str] | None = None
        previous, expected_seq, broken = "", 1, False
        for event in self.chains():
            checked += 1
            if progress and checked % 10000 == 0:
                progress(checked)
            if (event.node_id, event.epoch) != chain:
                chain, previous, expected_seq, broken = (event.node_id, event.epoch), "", 1, False
            if broken:
                continue
            problem = _break(event, previous, expected_seq)
            if problem is None:
                previous, expected_seq = event.stored_hash or "", expected_seq + 1
                continue
            problems.append(problem)
            broken = True
        return checked, problems

    def backup(self, destination: Path) -> None:
        """Copy the database, consistent and while in use, with SQLite's online backup."""
        destination = Path(destination)
        if destination.exists():
            raise StorageError(f"{destination} exists already; choose a new file name")
        destination.parent.mkdir(parents=True, exist_ok=True)
        source = connect(self.path)
        target = sqlite3.connect(destination)
        try:
            source.backup(target, pages=1024)
            ok = target.execute("PRAGMA integrity_check").fetchone()[0]
            if ok != "ok":
                raise StorageError(f"the backup at {destination} failed its check: {ok}")
        finally:
            target.close()
            source.close()

    def integrity_ok(self) -> bool:
        """Run SQLite's integrity check."""
        return bool(self._value("PRAGMA integrity_check") == "ok")

    def writer(self) -> sqlite3.Connection:
        """Open the connection the single writer thread owns."""
        return connect(self.path)


def _identity(conn: sqlite3.Connection, key: str, default: Callable[[], str]) -> str:
    """Return a node's identity value from meta, storing ``default()`` the first time."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    if row is not None:
        return str(row[0])
    value = default()
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
    return str(value)


def _break(event: Event, previous: str, expected_seq: int) -> str | None:
    """Return what breaks a chain at ``event``, or None when it follows as it should."""
    where = f"event {event.event_id} ({event.kind} at {event.at.isoformat()})"
    if event.seq != expected_seq:
        return (
            f"{where}: seq {event.seq} follows {expected_seq - 1}; "
            f"events {expected_seq}..{event.seq - 1} are missing"
        )
    if event.prev_hash != previous:
        return f"{where}: does not follow the event before it (inserted?)"
    if event.stored_hash != event.content_hash():
        return f"{where}: its content was changed after it was written"
    return None
