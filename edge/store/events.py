"""The events table: its row's columns, the one INSERT, and every read of it.

Events are never updated or deleted (triggers refuse it). The functions that take a
``conn`` run inside a write (the writer thread's, or an operator's command's; see
``edge.store.db``); ``EventLog``'s methods read through a connection of their own or
this thread's reader, from any thread. ``Event.from_row`` (edge.school.events) maps a
row selected as ``SELECT_COLUMNS`` back to an Event.
"""

from __future__ import annotations

import datetime as dt
import heapq
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import orjson

from edge.clock import MAX_STAMP
from edge.school.events import Chain, Event, utc_text
from edge.school.pickup import CODES
from edge.school.placement import CLOCK_STEPPED, Steps, placed
from edge.store.db import Database, connect

ROW_COLUMNS = (
    "id",
    "node_id",
    "epoch",
    "seq",
    "hlc",
    "at",
    "day",
    "station",
    "kind",
    "outcome",
    "code",
    "card",
    "uid",
    "subject_kind",
    "subject_id",
    "data",
    "roster_version",
    "clock_synced",
    "prev_hash",
    "hash",
)
SELECT_COLUMNS = "rowid, " + ", ".join(c for c in ROW_COLUMNS if c != "id")
_INSERT = (
    f"INSERT INTO events ({', '.join(ROW_COLUMNS)}) "  # noqa: S608 - constants
    f"VALUES ({', '.join('?' for _ in ROW_COLUMNS)})"
)
_FOLD_ORDER = "ORDER BY hlc, node_id, epoch, seq"
_DAY = dt.timedelta(days=1)


def _day_order(event: Event) -> tuple[dt.date, tuple[int, str, str, int]]:
    return event.day, event.key


def _step_fields(data: str) -> tuple[object, object]:
    """Return (step_seconds, since_seq) of a clock_stepped action (anything: Steps checks)."""
    try:
        found = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(found, dict):
        return None, None
    return found.get("step_seconds"), found.get("since_seq")


class Head(NamedTuple):
    """A chain's last stored event: its seq, its hash and its HLC stamp."""

    seq: int
    hash: str
    hlc: int


def insert_events(conn: sqlite3.Connection, events: list[Event]) -> None:
    """Insert events inside the caller's transaction."""
    conn.executemany(_INSERT, [e.to_row() for e in events])


def head(conn: sqlite3.Connection, chain: Chain) -> Head | None:
    """Return where a (node, epoch) chain stands in the ledger; None before its first event."""
    row = conn.execute(
        "SELECT seq, hash, hlc FROM events WHERE node_id = ? AND epoch = ? "
        "ORDER BY seq DESC LIMIT 1",
        chain,
    ).fetchone()
    return Head(int(row[0]), str(row[1]), int(row[2])) if row else None


def last_stamp(conn: sqlite3.Connection, chain: Chain, ceiling: int = MAX_STAMP) -> int:
    """Return the highest HLC stamp held, leaving out other chains' stamps past ``ceiling``.

    No stamp past clock.MAX_STAMP counts: a forged one never pins a clock.
    """
    row = conn.execute(
        "SELECT COALESCE(MAX(hlc), 0) FROM events WHERE hlc <= ? AND (hlc <= ? "
        "OR (node_id = ? AND epoch = ?))",
        (MAX_STAMP, ceiling, *chain),
    ).fetchone()
    return int(row[0])


def held_hash(conn: sqlite3.Connection, event_id: str) -> str | None:
    """Return the hash stored under an event's id, or None when none is held."""
    row = conn.execute("SELECT hash FROM events WHERE id = ?", (event_id,)).fetchone()
    return str(row[0]) if row else None


def event_by_id(conn: sqlite3.Connection, event_id: str) -> Event | None:
    """Return the event stored under an id, or None."""
    row = conn.execute(
        f"SELECT {SELECT_COLUMNS} FROM events WHERE id = ?",  # noqa: S608 - constants
        (event_id,),
    ).fetchone()
    return Event.from_row(tuple(row)) if row else None


def correction_of(conn: sqlite3.Connection, event_id: str, kind: str) -> str | None:
    """Return the id of the ``kind`` event that names ``event_id`` as the one it corrects."""
    row = conn.execute(
        "SELECT id FROM events WHERE kind = ? AND json_extract(data, '$.corrects') = ?",
        (kind, event_id),
    ).fetchone()
    return str(row[0]) if row else None


class EventLog(Database):
    """The reads of the events table (a part of ``edge.store.ledger.Ledger``)."""

    insert_events = staticmethod(insert_events)

    def iter_day(
        self, day: dt.date, until: dt.datetime | None = None, tz: dt.tzinfo | None = None
    ) -> Iterator[Event]:
        """Yield a day's events in fold order, optionally only those up to a moment.

        Streams from a cursor on a connection of its own, so a day of 40,000 events is
        never held in memory at once and this thread's reader stays free meanwhile.
        With ``tz`` (the school's zone), events made on a wrong clock are placed where
        they belong (edge.school.placement).
        """
        return self.iter_days(day, day, until=until, tz=tz)

    def iter_days(
        self,
        start: dt.date,
        end: dt.date,
        kinds: Iterable[str] | None = None,
        until: dt.datetime | None = None,
        tz: dt.tzinfo | None = None,
    ) -> Iterator[Event]:
        """Yield the events of the days ``start``..``end`` (inclusive), day by day in fold order.

        ``kinds`` keeps only events of those kinds (a report reads what it needs). Rows
        come as plain tuples: sqlite3.Row would cost 70% more over a term. With ``tz``,
        an event made on a wrong clock and corrected by a later clock step of its
        kiosk is yielded as placed (its moment, day and order corrected), on the day
        it is placed on.
        """
        steps = self.clock_steps() if tz is not None else Steps()
        stamped = self._days(start, end, kinds, None if steps else until)
        if not steps or tz is None:
            return stamped
        moved = [
            event
            for candidate in self._days(
                start - steps.span() - _DAY,
                end + steps.span() + _DAY,
                kinds,
                None,
                unsynced_of=steps.nodes(),
            )  # fmt: skip
            if (step := steps.step_of(candidate)) is not None
            and start <= (event := placed(candidate, step, tz)).day <= end
            and (until is None or event.at <= until)
        ]
        kept = (e for e in stamped if steps.step_of(e) is None
                and (until is None or e.at <= until))  # fmt: skip
        moved.sort(key=_day_order)
        return heapq.merge(kept, moved, key=_day_order)

    def _days(
        self,
        start: dt.date,
        end: dt.date,
        kinds: Iterable[str] | None,
        until: dt.datetime | None,
        unsynced_of: set[str] | None = None,
    ) -> Iterator[Event]:
        """Yield the events stamped on the days ``start``..``end``, in day and fold order."""
        sql = f"SELECT {SELECT_COLUMNS} FROM events WHERE day BETWEEN ? AND ?"  # noqa: S608
        params: list[Any] = [start.isoformat(), end.isoformat()]
        if kinds is not None:
            wanted = sorted(kinds)
            sql += f" AND kind IN ({', '.join('?' * len(wanted))})"
            params += wanted
        if until is not None:
            sql += " AND at <= ?"
            params.append(utc_text(until))
        if unsynced_of is not None:
            nodes = sorted(unsynced_of)
            sql += f" AND clock_synced = 0 AND node_id IN ({', '.join('?' * len(nodes))})"
            params += nodes
        return self._stream(sql + " ORDER BY day, hlc, node_id, epoch, seq", params, Event.from_row)

    def clock_steps(self) -> Steps:
        """Return the clock steps the ledger's chains recorded (edge.school.placement)."""
        rows = self.reader().execute(
            "SELECT node_id, epoch, seq, data, at FROM events WHERE kind = 'action' AND code = ?",
            (CLOCK_STEPPED,),
        )
        return Steps.of(
            (r[0], r[1], r[2], *_step_fields(r[3]), dt.datetime.fromisoformat(r[4])) for r in rows
        )

    def pickup_actions(self) -> Iterator[Event]:
        """Yield the actions the pickup book folds (delegates, codes), in fold order."""
        wanted = sorted(CODES)
        sql = (
            f"SELECT {SELECT_COLUMNS} FROM events WHERE kind = 'action' "  # noqa: S608
            f"AND code IN ({', '.join('?' * len(wanted))}) {_FOLD_ORDER}"
        )
        return self._stream(sql, wanted, Event.from_row)

    def sign_ins(self, start: dt.date, end: dt.date) -> Iterator[tuple[dt.date, str]]:
        """Yield each (day, student_id) with a sign-in in the days, once (attendance)."""
        sql = (
            "SELECT DISTINCT day, subject_id FROM events WHERE day BETWEEN ? AND ? "
            "AND kind = 'signed_in' AND subject_id IS NOT NULL AND id NOT IN ("
            "SELECT json_extract(data, '$.corrects') FROM events "
            "WHERE day BETWEEN ? AND ? AND kind = 'corrected')"
        )
        params = [start.isoformat(), end.isoformat()] * 2
        return self._stream(sql, params, lambda row: (dt.date.fromisoformat(row[0]), row[1]))

    def _stream(self, sql: str, params: list[Any], make: Callable[[Any], Any]) -> Iterator[Any]:
        """Yield ``make(row)`` of each row, from a connection of its own (plain tuples)."""
        conn = connect(self.path)
        conn.row_factory = None
        try:
            for row in conn.execute(sql, params):
                yield make(row)
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

    def events_about(self, student_id: str) -> list[Event]:
        """Return every event about a child: their own, and those that name them (fold order)."""
        rows = self.reader().execute(
            f"SELECT {SELECT_COLUMNS} FROM events "  # noqa: S608 - constant columns
            "WHERE subject_id = ? OR data LIKE ? ORDER BY day, hlc, node_id, epoch, seq",
            (student_id, f'%"{student_id}"%'),
        )
        return [Event.from_row(r) for r in rows]

    def student_day(
        self, student_id: str, day: dt.date, tz: dt.tzinfo | None = None
    ) -> list[Event]:
        """Return one child's events of a school day, in fold order (the timeline).

        With ``tz``, placed as the fold places them (edge.school.placement).
        """
        if tz is not None and self.clock_steps():
            return [e for e in self.iter_day(day, tz=tz) if e.subject_id == student_id]
        rows = self.reader().execute(
            f"SELECT {SELECT_COLUMNS} FROM events WHERE subject_id = ? AND day = ? "  # noqa: S608
            "ORDER BY hlc, node_id, epoch, seq",
            (student_id, day.isoformat()),
        )
        return [Event.from_row(r) for r in rows]

    def student_ids(self) -> set[str]:
        """Return every student id the events name as their subject."""
        rows = self.reader().execute(
            "SELECT DISTINCT subject_id FROM events WHERE subject_kind = 'student'"
        )
        return {str(r[0]) for r in rows if r[0] is not None}

    def count_after(self, cursor: int, only_node: str | None = None) -> int:
        """Return how many events lie after a ledger position (of one node, if given)."""
        sql, params = "SELECT COUNT(*) FROM events WHERE rowid > ?", [cursor]
        if only_node is not None:
            sql += " AND node_id = ?"
            params.append(only_node)  # type: ignore[arg-type]
        return int(self.reader().execute(sql, params).fetchone()[0])

    def last_rowid(self) -> int:
        """Return the ledger position of the newest event (0 when empty)."""
        return int(self._value("SELECT COALESCE(MAX(rowid), 0) FROM events"))

    def count_events(self) -> int:
        """Return how many events the ledger holds."""
        return int(self._value("SELECT COUNT(*) FROM events"))

    def chains(self) -> Iterator[Event]:
        """Yield every event chain by chain: by node, epoch and seq (verify walks them)."""
        sql = f"SELECT {SELECT_COLUMNS} FROM events ORDER BY node_id, epoch, seq"  # noqa: S608
        return self._stream(sql, [], Event.from_row)
