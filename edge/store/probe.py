"""Read-only looks at a node's database file, for doctor: nothing is created or migrated."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FileCheck:
    """What a quick look at a database file found."""

    result: str  # "ok", or what SQLite's quick_check (or opening it) said is wrong
    roster_version: int
    events: int


def _open(path: Path, timeout: float = 5.0) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout)


def check_file(path: Path) -> FileCheck:
    """Run SQLite's quick check on a file and count what it holds (read-only)."""
    try:
        conn = _open(path)
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()[0]
            version = conn.execute("SELECT COALESCE(MAX(version), 0) FROM roster_versions")
            roster = int(version.fetchone()[0])
            events = int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        return FileCheck(str(err), 0, 0)
    return FileCheck(str(result), roster, events)


def stored_node_id(path: Path) -> str | None:
    """Return the node id a database file holds, or None (no file, not a ledger)."""
    if not path.exists():
        return None
    try:
        conn = _open(path)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'node_id'").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return None
    return str(row[0]) if row else None
