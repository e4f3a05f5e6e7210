"""Migrations: one runner for every database of the project, and the ledger's own.

``apply`` runs a list of ``(name, sql)`` in order, each in one transaction together
with the row that records it, so a database is never left half-migrated; every test
database is built this way. What differs between databases is passed in: the
record table's SQL (``History``), the transaction, how a migration's text splits
into statements, and an optional lock statement run first in every transaction (one
migrator at a time). A migration recorded meanwhile by another migrator is skipped.

The node's SQLite ledger: ``migrate(conn)`` with ``MIGRATIONS``. The district central
(PostgreSQL) calls the same runner with its own list, history, ``conn.transaction``
and its advisory lock.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from edge.store.db import transaction


@dataclass(frozen=True)
class History:
    """Where a database records the migrations applied to it, in its own SQL."""

    create: str  # makes the record table when it is missing
    names: str  # selects the names recorded
    insert: str  # records one migration; parameters (name, applied_at as ISO text)


def apply(
    conn: Any,
    migrations: Sequence[tuple[str, str]],
    history: History,
    begin: Callable[[Any], AbstractContextManager[Any]],
    *,
    lock: str | None = None,
    statements: Callable[[str], Iterable[str]] = lambda sql: (sql,),
) -> list[str]:
    """Apply every migration not yet recorded, each in its own transaction; return their names.

    ``conn`` is DB-API-ish (``execute`` returning rows, ``rollback``); ``begin(conn)``
    opens one transaction; ``lock`` runs first inside each one. When every migration is
    recorded already (every open but the first), nothing is locked: a reader (``verify``,
    a report) opens the ledger while a writer holds it.
    """
    if _all_recorded(conn, migrations, history):
        return []
    with begin(conn):
        _lock(conn, lock)
        conn.execute(history.create)
        done = _recorded(conn, history)
    applied = []
    for name, sql in migrations:
        if name in done:
            continue
        with begin(conn):
            _lock(conn, lock)
            if name in _recorded(conn, history):
                continue  # another migrator applied it meanwhile
            for statement in statements(sql):
                conn.execute(statement)
            conn.execute(history.insert, (name, dt.datetime.now(dt.UTC).isoformat()))
        applied.append(name)
    return applied


def _all_recorded(conn: Any, migrations: Sequence[tuple[str, str]], history: History) -> bool:
    """Tell, without a write lock, whether every migration is recorded already."""
    try:
        done = _recorded(conn, history)
    except Exception:  # no record table yet (each driver names that error its own way)
        done = set()
    finally:
        conn.rollback()  # end the read: PostgreSQL opened a transaction for it
    return all(name in done for name, _ in migrations)


def _lock(conn: Any, lock: str | None) -> None:
    if lock is not None:
        conn.execute(lock)


def _recorded(conn: Any, history: History) -> set[str]:
    return {str(r[0]) for r in conn.execute(history.names)}


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
    (
        "0009_clock_steps",  # edge.school.placement reads a ledger's clock steps by this
        """
        CREATE INDEX events_action_code ON events (code) WHERE kind = 'action';
    """,
    ),
]


LEDGER_HISTORY = History(
    create="CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT)",
    names="SELECT name FROM _migrations",
    insert="INSERT INTO _migrations VALUES (?, ?)",
)


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Bring a node's SQLite ledger to the current schema; return what was applied."""
    return apply(conn, MIGRATIONS, LEDGER_HISTORY, transaction, statements=_statements)


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
