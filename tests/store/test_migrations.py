"""The one migration runner: each migration with its record, in one transaction, once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from edge.store.db import connect, transaction
from edge.store.migrations import LEDGER_HISTORY, MIGRATIONS, apply, migrate

STEPS = [
    ("0001_a", "CREATE TABLE a (x TEXT); CREATE TABLE b (y TEXT)"),
    ("0002_bad", "CREATE TABLE c (z TEXT); INSERT INTO nowhere VALUES (1)"),
]


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def run(conn: sqlite3.Connection, steps: list[tuple[str, str]]) -> list[str]:
    def split(sql: str) -> list[str]:
        return [s for s in sql.split(";") if s.strip()]

    return apply(conn, steps, LEDGER_HISTORY, transaction, lock="SELECT 1", statements=split)


def test_a_failing_migration_leaves_nothing_half_done(tmp_path: Path) -> None:
    conn = connect(tmp_path / "m.db")
    with pytest.raises(sqlite3.OperationalError, match="nowhere"):
        run(conn, STEPS)
    assert {"a", "b"} <= tables(conn)
    assert "c" not in tables(conn)  # rolled back with its failing statement
    assert [r[0] for r in conn.execute("SELECT name FROM _migrations")] == ["0001_a"]
    assert run(conn, STEPS[:1]) == []  # recorded: not applied again


def test_the_ledger_is_built_by_its_migrations_once(tmp_path: Path) -> None:
    conn = connect(tmp_path / "ledger.db")
    assert migrate(conn) == [name for name, _ in MIGRATIONS]
    assert migrate(conn) == []
    assert {"events", "meta", "roster_versions", "devices", "notices"} <= tables(conn)


def test_a_ledger_opens_while_another_connection_writes(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    migrate(connect(path))  # built once
    writer = connect(path)
    writer.execute("BEGIN IMMEDIATE")  # a writer mid-transaction, e.g. on a slow card
    try:
        opened = connect(path)
        opened.execute("PRAGMA busy_timeout = 200")
        assert migrate(opened) == []  # nothing to apply, and no wait for the write lock
    finally:
        writer.execute("ROLLBACK")
