"""The roster in force, its versions, and the photos it names.

A roster is imported into staging tables with sqlite-utils (bulk work), then swapped
in by renaming inside one transaction together with its version row: a reader sees
the old roster or the new one, never a mix, and a refused import leaves nothing
behind. ``save`` takes the write path to use: a running node's writer
(``TapWriter.write``: one staging table per write, so taps go on between them), or an
operator's command's own connection (``Rosters.save_roster``).

Photos are files beside the database, content-addressed (``photos/<sha256>.<ext>``).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import sqlite_utils

from edge.errors import StorageError
from edge.files import write_atomic
from edge.school import roster as roster_mod
from edge.school.roster import Column, Roster
from edge.store.db import Database, Writes


def roster_version(conn: sqlite3.Connection) -> int:
    """Return the version of the roster in force (0: none imported yet)."""
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM roster_versions").fetchone()
    return int(row[0])


def save(photos: Path, roster: Roster, source: str, version: int | None, write: Writes) -> int:
    """Store a checked roster as the new version, atomically, through ``write``; return it.

    ``version`` (a roster synced from the hub) keeps the hub's number when it is
    ahead of this node's, so every node of a campus names a roster alike.
    """
    # Photos first, content-addressed: a refused or failed import leaves only
    # unreferenced files behind, never a roster pointing at a missing photo.
    photos.mkdir(exist_ok=True)
    for photo, data in roster.photos.items():
        if not (photos / photo).exists():
            write_atomic(photos / photo, data)
    try:
        for name, (_, columns) in roster_mod.FILES.items():
            rows = roster.tables.get(name, [])
            stage = functools.partial(_stage, name=name, columns=columns, rows=rows)
            write(stage, in_transaction=False)  # sqlite-utils commits in batches itself
        made, dropped = write(functools.partial(_swap, roster=roster, source=source,
                                                version=version))  # fmt: skip
    except sqlite3.DatabaseError as err:
        raise StorageError(f"the roster could not be stored: {err}") from err
    # A photo the new roster no longer names starts its retention period now (its
    # file's time says since when; edge.store.retention purges it later).
    for name in dropped:
        if (photos / name).is_file():
            os.utime(photos / name)
    return made


def _stage(
    conn: sqlite3.Connection, name: str, columns: tuple[Column, ...], rows: list[dict[str, Any]]
) -> None:
    """Load one roster table into its staging table (dropped and made again)."""
    db = sqlite_utils.Database(conn, recursive_triggers=False)
    staging = db.table(f"roster_{name}_staging")
    staging.drop(ignore=True)
    staging.create({"_row": str, **{c.name: str for c in columns}})
    staging.insert_all(rows, batch_size=1000)


def _swap(
    conn: sqlite3.Connection, roster: Roster, source: str, version: int | None
) -> tuple[int, set[str]]:
    """Put the staged tables in force with their version row (inside the write's transaction).

    Returns the new version, and the photos the roster in force named but the new one
    does not.
    """
    digest = hashlib.sha256(
        json.dumps([roster.tables, roster.school_toml], sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    counts = {name: len(rows) for name, rows in roster.tables.items()}
    made = max(roster_version(conn) + 1, version or 0)
    before = _photos_named(conn)
    for name in roster_mod.FILES:
        conn.execute(f"DROP TABLE IF EXISTS [roster_{name}]")
        conn.execute(f"ALTER TABLE [roster_{name}_staging] RENAME TO [roster_{name}]")
    conn.execute(
        "INSERT INTO roster_versions VALUES (?, ?, ?, ?, ?, ?)",
        (made, dt.datetime.now(dt.UTC).isoformat(), source, digest, roster.school_toml,
         json.dumps(counts)),
    )  # fmt: skip
    return made, before - _photos_named(conn)


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


def _tables(conn: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
    """Return every roster table in force as stored (rows without their empty cells)."""
    tables = {}
    for name in roster_mod.FILES:
        try:
            rows = conn.execute(f"SELECT * FROM [roster_{name}]").fetchall()  # noqa: S608
        except sqlite3.OperationalError:
            rows = []  # a file added since this roster was stored (checkpoints): none
        tables[name] = [{k: r[k] for k in r.keys() if r[k] is not None} for r in rows]
    return tables


class Rosters(Database):
    """The roster reads, and an operator's import (a part of ``edge.store.ledger.Ledger``)."""

    photos: Path

    def roster_version(self, conn: sqlite3.Connection | None = None) -> int:
        """Return the version of the roster in force (0: none imported yet)."""
        return roster_version(conn or self.reader())

    def roster_tag(self) -> str:
        """Return what names the roster in force here: its version and content digest.

        A downstream node keeps the tag of the roster it last took from this node and
        asks with it (sync's ``have``): a number alone may collide with one of its own
        imports, or start again on a re-installed hub. '' before the first import.
        """
        row = self._value_row(
            "SELECT version, sha256 FROM roster_versions ORDER BY version DESC LIMIT 1"
        )
        return f"{row[0]}:{row[1]}" if row else ""

    def load_roster(self) -> Roster:
        """Return the roster in force (an empty one before the first import)."""
        conn = self.reader()
        conn.execute("BEGIN")
        try:
            version = roster_version(conn)
            if version == 0:
                return roster_mod.empty()
            school_toml = conn.execute(
                "SELECT school_toml FROM roster_versions WHERE version = ?", (version,)
            ).fetchone()[0]
            tables = _tables(conn)
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
            return int(row[0]), str(row[1]), str(row[2]), _tables(conn)
        finally:
            conn.execute("COMMIT")

    def save_roster(self, roster: Roster, source: str, version: int | None = None) -> int:
        """Store a checked roster as the new version (an operator's import); see ``save``."""
        return save(self.photos, roster, source, version, self.write)
