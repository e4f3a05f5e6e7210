"""SQLite connections of a node, and the one shape of a write.

``connect`` opens a connection with the ledger's pragmas (WAL, ``synchronous=FULL``: a
committed write survives a power cut). ``transaction`` is how every write commits.

``Database`` is what the store's parts share: one read connection per thread
(``reader``), and ``write``, which runs a store function on this process's own
connection inside one transaction. A running node does not write that way: its writes
go through its one writer thread (``edge.writer.TapWriter.write``), which runs the same
store functions on the connection it owns. ``write`` is for an operator's command (the
CLI, in a process of its own); SQLite's write lock orders it with a running service's
writer, which takes in what it appended (see edge.writer).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]


class Writes(Protocol):
    """A write path: runs ``work(conn)`` on a write connection and returns its outcome."""

    def __call__(
        self, work: Callable[[sqlite3.Connection], T], *, in_transaction: bool = True
    ) -> T:
        """Run ``work`` inside one transaction (bare with ``in_transaction=False``)."""
        ...


def connect(path: Path) -> sqlite3.Connection:
    """Open a connection with the ledger's pragmas (WAL, synchronous=FULL)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Run a block in one immediate transaction on ``conn``; roll back if it raises.

    The one way the store commits: the writer thread, migrations, an operator's command.
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


class Database:
    """A node's SQLite file: a read connection per thread, and this process's write path."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._local = threading.local()

    def reader(self) -> sqlite3.Connection:
        """Return this thread's connection (its reads, and its ``write`` when it writes)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
        return conn

    def write(self, work: Callable[[sqlite3.Connection], T], *, in_transaction: bool = True) -> T:
        """Run ``work(conn)`` on this thread's connection, inside one transaction.

        An operator's command's write path (see the module's docstring); a running
        node's parts write through its writer instead.
        """
        conn = self.reader()
        if not in_transaction:
            return work(conn)
        with transaction(conn):
            return work(conn)

    def _value_row(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """Return the first row, or None (this thread's reader)."""
        return self.reader().execute(sql, params).fetchone()

    def _value(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """Return the first column of the first row, or None (this thread's reader)."""
        row = self._value_row(sql, params)
        return row[0] if row else None


def data_version(conn: sqlite3.Connection) -> int:
    """Return SQLite's data_version: it changes when another connection commits."""
    return int(conn.execute("PRAGMA data_version").fetchone()[0])
