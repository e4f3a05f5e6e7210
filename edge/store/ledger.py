"""The ledger: an append-only SQLite event log, and the roster it was decided on.

Durability: WAL journal with ``synchronous=FULL``, so a committed event survives a
power cut. Events are never updated or deleted. Only the tap writer thread appends
events (through ``insert_events`` on its own connection); any thread may read
through ``reader()``, which hands out one connection per thread.

Migrations run in order, each in the same transaction as the row that records it,
so a database is never left half-migrated; every test database is built this way.

The roster is imported into staging tables with sqlite-utils (bulk work), then swapped
in by renaming inside one transaction together with its version row: a reader sees the
old roster or the new one, never a mix, and a refused import leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from edge.clock import (
    MAX_STAMP,
    Clock,
    HybridLogicalClock,
    SystemClock,
    ceiling,
    clock_synchronized,
)
from edge.errors import StorageError
from edge.files import write_atomic
from edge.school import roster as roster_mod
from edge.school import schema
from edge.school.events import ROW_COLUMNS, SELECT_COLUMNS, Event, Tail, action, utc_text
from edge.school.roster import Roster

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_meta_and_events",
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE events (
            rowid INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            node_id TEXT NOT NULL,
            epoch TEXT NOT NULL,
            seq INTEGER NOT NULL,
            hlc INTEGER NOT NULL,
            at TEXT NOT NULL,
            day TEXT NOT NULL,
            station TEXT NOT NULL,
            kind TEXT NOT NULL,
            outcome TEXT NOT NULL,
            code TEXT NOT NULL,
            card TEXT,
            uid TEXT,
            subject_kind TEXT,
            subject_id TEXT,
            data TEXT NOT NULL,
            roster_version INTEGER NOT NULL,
            clock_synced INTEGER NOT NULL,
            UNIQUE (node_id, epoch, seq)
        );
        CREATE INDEX events_day ON events (day, hlc);
        CREATE INDEX events_subject ON events (subject_id, day);
        CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
        CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
    """,
    ),
    (
        "0002_roster",
        """
        CREATE TABLE roster_versions (
            version INTEGER PRIMARY KEY,
            imported_at TEXT NOT NULL,
            source TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            school_toml TEXT NOT NULL,
            counts TEXT NOT NULL
        );
    """,
    ),
    (
        "0003_devices",
        """
        CREATE TABLE devices (
            name TEXT PRIMARY KEY,
            token_sha256 TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        );
    """,
    ),
    (
        "0004_hash_chain",
        """
        ALTER TABLE events ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
        ALTER TABLE events ADD COLUMN hash TEXT NOT NULL DEFAULT '';
    """,
    ),
    (
        "0005_sync",
        """
        ALTER TABLE devices ADD COLUMN kind TEXT NOT NULL DEFAULT 'kiosk';
        CREATE TABLE quarantine (
            id INTEGER PRIMARY KEY,
            received_at TEXT NOT NULL,
            device TEXT NOT NULL,
            reason TEXT NOT NULL,
            body TEXT NOT NULL
        );
        CREATE INDEX events_node ON events (node_id, rowid);
    """,
    ),
    (
        "0006_staff_revocations",
        """
        CREATE TABLE staff_revocations (staff_id TEXT PRIMARY KEY, revoked_at REAL NOT NULL);
    """,
    ),
    (
        "0007_staff_pins",
        """
        CREATE TABLE staff_pins (staff_id TEXT PRIMARY KEY, pin_hash TEXT NOT NULL, set_at TEXT);
    """,
    ),
    (
        "0008_notices",
        """
        CREATE TABLE notices (
            notice_id TEXT PRIMARY KEY,
            delivered_at TEXT,
            attempts INTEGER NOT NULL,
            status INTEGER,
            error TEXT
        );
    """,
    ),
]


@dataclass(frozen=True)
class Device:
    """A registered kiosk (or, on a district central, a campus hub)."""

    name: str
    kind: str  # "kiosk" or "hub"
    created_at: str
    revoked_at: str | None = None


_COLUMNS = ", ".join(ROW_COLUMNS)
_MARKS = ", ".join("?" for _ in ROW_COLUMNS)
_INSERT = f"INSERT INTO events ({_COLUMNS}) VALUES ({_MARKS})"  # noqa: S608 - constants


def connect(path: Path) -> sqlite3.Connection:
    """Open a connection with the ledger's pragmas (WAL, synchronous=FULL)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


class Ledger:
    """The node's database: meta, events, roster."""

    def __init__(
        self, path: Path, node_id: str, *, claim: bool = False, clock: Clock | None = None
    ) -> None:
        self.path = Path(path)
        self.clock: Clock = clock or SystemClock()  # what an operator's action is stamped by
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.photos = self.path.parent / "photos"
        self._local = threading.local()
        try:
            conn = connect(self.path)
            try:
                migrate(conn)
                self.epoch = self._meta(conn, "epoch", lambda: secrets.token_hex(4))
                self.node_id = self._meta(conn, "node_id", lambda: node_id)
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

    @staticmethod
    def _meta(conn: sqlite3.Connection, key: str, default: Any) -> str:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is not None:
            return str(row[0])
        value = default()
        conn.execute("INSERT INTO meta (key, value) VALUES (?, ?)", (key, value))
        return str(value)

    # -- reading ----------------------------------------------------------------

    def reader(self) -> sqlite3.Connection:
        """Return this thread's read connection."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
        return conn

    def iter_day(self, day: dt.date, until: dt.datetime | None = None) -> Iterator[Event]:
        """Yield a day's events in fold order, optionally only those up to a moment.

        Streams from a cursor on a connection of its own, so a day of 40,000 events is
        never held in memory at once and this thread's reader stays free meanwhile.
        """
        return self.iter_days(day, day, until=until)

    def iter_days(
        self,
        start: dt.date,
        end: dt.date,
        kinds: Iterable[str] | None = None,
        until: dt.datetime | None = None,
    ) -> Iterator[Event]:
        """Yield the events of the days ``start``..``end`` (inclusive), day by day in fold order.

        ``kinds`` keeps only events of those kinds (a report reads what it needs). Rows
        come as plain tuples: sqlite3.Row would cost 70% more over a term.
        """
        conn = connect(self.path)
        conn.row_factory = None
        try:
            sql = f"SELECT {SELECT_COLUMNS} FROM events WHERE day BETWEEN ? AND ?"  # noqa: S608
            params: list[Any] = [start.isoformat(), end.isoformat()]
            if kinds is not None:
                wanted = sorted(kinds)
                sql += f" AND kind IN ({', '.join('?' * len(wanted))})"
                params += wanted
            if until is not None:
                sql += " AND at <= ?"
                params.append(utc_text(until))
            for row in conn.execute(sql + " ORDER BY day, hlc, node_id, epoch, seq", params):
                yield Event.from_row(row)
        finally:
            conn.close()

    def pickup_actions(self) -> Iterator[Event]:
        """Yield the actions the pickup book folds (delegates, codes), in fold order."""
        from edge.school.pickup import CODES

        conn = connect(self.path)
        conn.row_factory = None
        try:
            wanted = sorted(CODES)
            rows = conn.execute(
                f"SELECT {SELECT_COLUMNS} FROM events WHERE kind = 'action' "  # noqa: S608
                f"AND code IN ({', '.join('?' * len(wanted))}) ORDER BY hlc, node_id, epoch, seq",
                wanted,
            )
            for row in rows:
                yield Event.from_row(row)
        finally:
            conn.close()

    def set_meta(self, key: str, value: str) -> None:
        """Store a small value (a cursor) in meta, on a connection of its own."""
        self._write_once("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def notice(self, notice_id: str) -> dict[str, Any] | None:
        """Return what is known of a parent notice's delivery."""
        row = (
            self.reader()
            .execute(
                "SELECT notice_id, delivered_at, attempts, status, error FROM notices "
                "WHERE notice_id = ?",
                (notice_id,),
            )
            .fetchone()
        )
        return dict(row) if row else None

    def record_notice(
        self, notice_id: str, delivered_at: str | None, status: int | None, error: str | None
    ) -> None:
        """Record one attempt at a parent notice (delivered, refused, or to retry)."""
        self._write_once(
            "INSERT INTO notices (notice_id, delivered_at, attempts, status, error) "
            "VALUES (?, ?, 1, ?, ?) ON CONFLICT (notice_id) DO UPDATE SET "
            "delivered_at = excluded.delivered_at, attempts = attempts + 1, "
            "status = excluded.status, error = excluded.error",
            (notice_id, delivered_at, status, error),
        )

    def sign_ins(self, start: dt.date, end: dt.date) -> Iterator[tuple[dt.date, str]]:
        """Yield each (day, student_id) with a sign-in in the days, once (attendance)."""
        conn = connect(self.path)
        conn.row_factory = None
        try:
            rows = conn.execute(
                "SELECT DISTINCT day, subject_id FROM events WHERE day BETWEEN ? AND ? "
                "AND kind = 'signed_in' AND subject_id IS NOT NULL AND id NOT IN ("
                "SELECT json_extract(data, '$.corrects') FROM events "
                "WHERE day BETWEEN ? AND ? AND kind = 'corrected')",
                (start.isoformat(), end.isoformat()) * 2,
            )
            for day, student in rows:
                yield dt.date.fromisoformat(day), student
        finally:
            conn.close()

    def events_of_day(self, day: dt.date, until: dt.datetime | None = None) -> list[Event]:
        """Return a day's events in fold order, optionally only those up to a moment."""
        return list(self.iter_day(day, until))

    def events_after(
        self,
        cursor: int,
        limit: int,
        *,
        only_node: str | None = None,
        except_node: str | None = None,
        upto: int | None = None,
    ) -> list[Event]:
        """Return up to ``limit`` events after a ledger position, in ledger order.

        The single writer commits in rowid order, so a rowid cursor never skips an
        event committed later. ``only_node`` or ``except_node`` narrow it to, or
        leave out, one node's events (a kiosk pushes its own; it pulls the others).
        """
        sql = f"SELECT {SELECT_COLUMNS} FROM events WHERE rowid > ?"  # noqa: S608
        params: list[Any] = [cursor]
        if only_node is not None:
            sql += " AND node_id = ?"
            params.append(only_node)
        if except_node is not None:
            sql += " AND node_id != ?"
            params.append(except_node)
        if upto is not None:
            sql += " AND rowid <= ?"
            params.append(upto)
        rows = self.reader().execute(sql + " ORDER BY rowid LIMIT ?", (*params, limit)).fetchall()
        return [Event.from_row(r) for r in rows]

    def count_after(self, cursor: int, only_node: str | None = None) -> int:
        """Return how many events lie after a ledger position (of one node, if given)."""
        sql, params = "SELECT COUNT(*) FROM events WHERE rowid > ?", [cursor]
        if only_node is not None:
            sql += " AND node_id = ?"
            params.append(only_node)  # type: ignore[arg-type]
        return int(self.reader().execute(sql, params).fetchone()[0])

    def last_rowid(self) -> int:
        """Return the ledger position of the newest event (0 when empty)."""
        return int(
            self.reader().execute("SELECT COALESCE(MAX(rowid), 0) FROM events").fetchone()[0]
        )

    def meta(self, key: str) -> str | None:
        """Return a value kept in the meta table (sync cursors, ...), or None."""
        value = self._value("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def position(
        self, conn: sqlite3.Connection | None = None, now: dt.datetime | None = None
    ) -> tuple[int, int]:
        """Return (next seq for this node and epoch, last HLC stamp in the ledger).

        Every event counts for the stamp, staff actions and synced events included, so a
        clock started from it stamps after everything held, whatever the wall clock says;
        but another node's stamp more than clock.SKEW past ``now`` never pins it.
        """
        conn = conn or self.reader()
        seq = conn.execute(
            "SELECT COALESCE(MAX(seq), 0) FROM events WHERE node_id = ? AND epoch = ?",
            (self.node_id, self.epoch),
        ).fetchone()[0]
        hlc = conn.execute(  # another node's stamp far past our clock never pins it
            "SELECT COALESCE(MAX(hlc), 0) FROM events WHERE hlc <= ? AND (hlc <= ? "
            "OR (node_id = ? AND epoch = ?))",
            (MAX_STAMP, ceiling(now) if now is not None else MAX_STAMP, self.node_id,
             self.epoch),
        ).fetchone()[0]  # fmt: skip
        return int(seq) + 1, int(hlc)

    def tail(self, conn: sqlite3.Connection, now: dt.datetime | None = None) -> Tail:
        """Return where this node's chain stands, to make its next events (events.Tail)."""
        seq, stamp = self.position(conn, now)
        return Tail(self.node_id, self.epoch, seq, self.chain_head(conn), HybridLogicalClock(stamp))

    def chain_head(self, conn: sqlite3.Connection | None = None) -> str:
        """Return the hash of this node's (and epoch's) last event; '' before the first."""
        conn = conn or self.reader()
        row = conn.execute(
            "SELECT hash FROM events WHERE node_id = ? AND epoch = ? ORDER BY seq DESC LIMIT 1",
            (self.node_id, self.epoch),
        ).fetchone()
        return str(row[0]) if row else ""

    def verify(self, progress: Callable[[int], None] | None = None) -> tuple[int, list[str]]:
        """Walk every node's hash chain; return (events checked, the first break of each).

        A break names the event and what is wrong: content changed after writing, a
        missing or inserted event (seq gap, wrong predecessor hash).
        """
        conn = connect(self.path)
        problems: list[str] = []
        checked = 0
        chain: tuple[str, str] | None = None
        previous, expected_seq, broken = "", 1, False
        try:
            sql = f"SELECT {SELECT_COLUMNS} FROM events ORDER BY node_id, epoch, seq"  # noqa: S608
            for row in conn.execute(sql):
                event = Event.from_row(row)
                checked += 1
                if progress and checked % 10000 == 0:
                    progress(checked)
                if (event.node_id, event.epoch) != chain:
                    chain, previous, expected_seq, broken = (
                        (event.node_id, event.epoch),
                        "",
                        1,
                        False,
                    )
                if broken:
                    continue
                where = f"event {event.event_id} ({event.kind} at {event.at.isoformat()})"
                if event.seq != expected_seq:
                    problems.append(
                        f"{where}: seq {event.seq} follows {expected_seq - 1}; "
                        f"events {expected_seq}..{event.seq - 1} are missing"
                    )
                elif event.prev_hash != previous:
                    problems.append(f"{where}: does not follow the event before it (inserted?)")
                elif event.stored_hash != event.content_hash():
                    problems.append(f"{where}: its content was changed after it was written")
                else:
                    previous, expected_seq = event.stored_hash, expected_seq + 1
                    continue
                broken = True
        finally:
            conn.close()
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

    def count_events(self) -> int:
        """Return how many events the ledger holds."""
        return int(self.reader().execute("SELECT COUNT(*) FROM events").fetchone()[0])

    # -- writing (the tap writer's connection) -----------------------------------

    def writer(self) -> sqlite3.Connection:
        """Open the connection the single writer thread owns."""
        return connect(self.path)

    @staticmethod
    def insert_events(conn: sqlite3.Connection, events: list[Event]) -> None:
        """Insert events inside the caller's transaction."""
        conn.executemany(_INSERT, [e.to_row() for e in events])

    # -- roster -----------------------------------------------------------------

    def roster_version(self, conn: sqlite3.Connection | None = None) -> int:
        """Return the version of the roster in force (0: none imported yet)."""
        conn = conn or self.reader()
        return int(
            conn.execute("SELECT COALESCE(MAX(version), 0) FROM roster_versions").fetchone()[0]
        )

    def roster_tag(self) -> str:
        """Return what names the roster in force here: its version and content digest.

        A downstream node keeps the tag of the roster it last took from this node and
        asks with it (sync's ``have``): a number alone may collide with one of its own
        imports, or start again on a re-installed hub. '' before the first import.
        """
        row = self._value_row(
            "SELECT version, sha256 FROM roster_versions ORDER BY version DESC LIMIT 1", ()
        )
        return f"{row[0]}:{row[1]}" if row else ""

    def load_roster(self) -> Roster:
        """Return the roster in force (an empty one before the first import)."""
        conn = self.reader()
        conn.execute("BEGIN")
        try:
            version = self.roster_version(conn)
            if version == 0:
                return roster_mod.empty()
            school_toml = conn.execute(
                "SELECT school_toml FROM roster_versions WHERE version = ?", (version,)
            ).fetchone()[0]
            tables = {}
            for name in roster_mod.FILES:
                rows = conn.execute(f"SELECT * FROM [roster_{name}]").fetchall()  # noqa: S608
                tables[name] = [{k: r[k] for k in r.keys() if r[k] is not None} for r in rows]
        finally:
            conn.execute("COMMIT")
        return roster_mod.build(tables, school_toml, version)

    def roster_snapshot(self) -> tuple[int, str, str, dict[str, list[dict[str, Any]]]]:
        """Return (version, source, school.toml, tables) of the roster in force, as stored."""
        conn = self.reader()
        conn.execute("BEGIN")
        try:
            row = conn.execute(
                "SELECT version, source, school_toml FROM roster_versions "
                "ORDER BY version DESC LIMIT 1"
            ).fetchone()
            if row is None:
                return 0, "", "", {}
            tables = {}
            for name in roster_mod.FILES:
                rows = conn.execute(f"SELECT * FROM [roster_{name}]").fetchall()  # noqa: S608
                tables[name] = [{k: r[k] for k in r.keys() if r[k] is not None} for r in rows]
            return int(row[0]), str(row[1]), str(row[2]), tables
        finally:
            conn.execute("COMMIT")

    def save_roster(self, roster: Roster, source: str, version: int | None = None) -> int:
        """Store a checked roster as the new version, atomically; return its version.

        ``version`` (a roster synced from the hub) keeps the hub's number when it is
        ahead of this node's, so every node of a campus names a roster alike.
        """
        # Photos first, content-addressed: a refused or failed import leaves only
        # unreferenced files behind, never a roster pointing at a missing photo.
        self.photos.mkdir(exist_ok=True)
        for photo, data in roster.photos.items():
            if not (self.photos / photo).exists():
                write_atomic(self.photos / photo, data)
        conn = connect(self.path)
        db = sqlite_utils.Database(conn)
        try:
            for name, (_, columns) in roster_mod.FILES.items():
                staging = f"roster_{name}_staging"
                db[staging].drop(ignore=True)
                db[staging].create(  # type: ignore[union-attr]
                    {"_row": str, **{c.name: str for c in columns}}
                )
                db[staging].insert_all(roster.tables.get(name, []), batch_size=1000)  # type: ignore[union-attr]
            digest = hashlib.sha256(
                json.dumps(
                    [roster.tables, roster.school_toml], sort_keys=True, ensure_ascii=False
                ).encode()
            ).hexdigest()
            counts = {name: len(rows) for name, rows in roster.tables.items()}
            with transaction(conn):
                version = max(self.roster_version(conn) + 1, version or 0)
                before = _photos_named(conn)
                for name in roster_mod.FILES:
                    conn.execute(f"DROP TABLE IF EXISTS [roster_{name}]")
                    conn.execute(f"ALTER TABLE [roster_{name}_staging] RENAME TO [roster_{name}]")
                conn.execute(
                    "INSERT INTO roster_versions VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        version,
                        dt.datetime.now(dt.UTC).isoformat(),
                        source,
                        digest,
                        roster.school_toml,
                        json.dumps(counts),
                    ),
                )
            # A photo the new roster no longer names starts its retention period now
            # (its file's time says since when; edge.store.retention purges it later).
            for dropped in before - _photos_named(conn):
                if (self.photos / dropped).is_file():
                    os.utime(self.photos / dropped)
            return version
        except sqlite3.DatabaseError as err:
            raise StorageError(f"the roster could not be stored: {err}") from err
        finally:
            conn.close()

    def add_device(self, name: str, kind: str = "kiosk") -> str:
        """Register a kiosk (or hub) under ``name``; return its new token, stored only hashed."""
        token = "dev1." + secrets.token_urlsafe(32)
        digest = hashlib.sha256(token.encode()).hexdigest()
        conn = connect(self.path)
        try:
            conn.execute(
                "INSERT INTO devices (name, token_sha256, created_at, kind) VALUES (?, ?, ?, ?)",
                (name, digest, dt.datetime.now(dt.UTC).isoformat(), kind),
            )
        except sqlite3.IntegrityError as err:
            raise StorageError(
                f"a device named '{name}' is already registered; choose another name"
            ) from err
        finally:
            conn.close()
        return token

    def device_for(self, token: str) -> Device | None:
        """Return the registered, unrevoked device holding ``token``, or None."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        row = (
            self.reader()
            .execute(
                "SELECT name, kind, created_at, revoked_at FROM devices "
                "WHERE token_sha256 = ? AND revoked_at IS NULL",
                (digest,),
            )
            .fetchone()
        )
        return Device(*row) if row else None

    def devices(self) -> list[Device]:
        """Return every registered device, revoked ones included."""
        rows = self.reader().execute(
            "SELECT name, kind, created_at, revoked_at FROM devices ORDER BY name"
        )
        return [Device(*r) for r in rows]

    def revoke_device(self, name: str) -> bool:
        """Refuse a device's token from now on; False if no such device is registered."""
        changed = self._write_once(
            "UPDATE devices SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
            (dt.datetime.now(dt.UTC).isoformat(), name),
        )
        return changed == 1

    def _write_once(self, sql: str, params: tuple[Any, ...]) -> int:
        """Run one statement on a connection of its own (an operator's command, not a tap)."""
        conn = connect(self.path)
        try:
            return int(conn.execute(sql, params).rowcount)
        finally:
            conn.close()

    def _value_row(self, sql: str, params: tuple[Any, ...]) -> Any:
        """Return the first row, or None (this thread's reader)."""
        return self.reader().execute(sql, params).fetchone()

    def _value(self, sql: str, params: tuple[Any, ...]) -> Any:
        """Return the first column of the first row, or None (this thread's reader)."""
        row = self.reader().execute(sql, params).fetchone()
        return row[0] if row else None

    def append_action(
        self, code: str, data: dict[str, Any], subject_id: str | None = None
    ) -> Event:
        """Append an operator's action (a CLI command) to this node's chain, with who ran it.

        It takes the write lock, so the running service's writer, which checks the
        chain's tail inside its own write transaction, carries on after it.
        """
        who = os.environ.get("SUDO_USER") or getpass.getuser()
        now = self.clock.now()
        roster = self.load_roster()
        conn = connect(self.path)
        try:
            with transaction(conn):
                tail = self.tail(conn, now)
                event = tail.next(
                    now, roster.calendar.day_of(now), "cli",
                    action(code, {"by": who, "via": "cli", **data}, subject_id),
                    card=None, uid=None, roster_version=roster.version,
                    clock_synced=clock_synchronized(),
                )  # fmt: skip
                # As the service's writer does: no record the campus hub would refuse.
                wrong = schema.own_problem(event, now)
                if wrong is not None:
                    raise StorageError(f"the action could not be recorded: {wrong}")
                self.insert_events(conn, [event])
        finally:
            conn.close()
        return event

    def revoke_staff(self, staff_id: str, at: float) -> None:
        """Refuse every token of a staff member issued up to ``at`` (epoch seconds)."""
        self._write_once(
            "INSERT OR REPLACE INTO staff_revocations (staff_id, revoked_at) VALUES (?, ?)",
            (staff_id, at),
        )

    def set_pin(self, staff_id: str, pin_hash: str) -> None:
        """Store a staff member's PIN (hashed by the caller)."""
        self._write_once(
            "INSERT OR REPLACE INTO staff_pins (staff_id, pin_hash, set_at) VALUES (?, ?, ?)",
            (staff_id, pin_hash, dt.datetime.now(dt.UTC).isoformat()),
        )

    def pin_hash(self, staff_id: str) -> str | None:
        """Return a staff member's stored PIN hash, or None when none is set."""
        value = self._value("SELECT pin_hash FROM staff_pins WHERE staff_id = ?", (staff_id,))
        return None if value is None else str(value)

    def staff_revoked_at(self, staff_id: str) -> float | None:
        """Return when a staff member's tokens were last revoked, or None."""
        value = self._value(
            "SELECT revoked_at FROM staff_revocations WHERE staff_id = ?", (staff_id,)
        )
        return None if value is None else float(value)

    def integrity_ok(self) -> bool:
        """Run SQLite's integrity check."""
        return self.reader().execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run a block in one immediate transaction on ``conn``; roll back if it raises.

    The one way this package writes: the tap writer, migrations and roster swaps.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # COMMIT itself may fail (a full card in WAL mode, a deferred constraint) and
        # leave the transaction open: roll it back, or the next BEGIN fails for good.
        if conn.in_transaction:
            with suppress(sqlite3.Error):  # the first error is the one to report
                conn.execute("ROLLBACK")
        raise


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction."""
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    done = {r[0] for r in conn.execute("SELECT name FROM _migrations")}
    applied = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        with transaction(conn):
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO _migrations VALUES (?, ?)",
                (name, dt.datetime.now(dt.UTC).isoformat()),
            )
        applied.append(name)
    return applied


def _photos_named(conn: sqlite3.Connection) -> set[str]:
    """Return the photo names the roster in force refers to (none before the first)."""
    names: set[str] = set()
    for table in ("roster_students", "roster_guardians"):
        try:
            rows = conn.execute(f"SELECT photo FROM [{table}] WHERE photo IS NOT NULL")  # noqa: S608
            names.update(str(r[0]) for r in rows if r[0])
        except sqlite3.OperationalError:
            continue  # no roster yet, or a roster without a photo column
    return names


def _statements(sql: str) -> list[str]:
    # executescript would commit the open transaction; split instead, keeping the
    # trigger bodies (which hold their own semicolons) whole.
    parts, buffer = [], ""
    for chunk in sql.split(";"):
        buffer += chunk + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                parts.append(buffer.strip())
            buffer = ""
    return parts
