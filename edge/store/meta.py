"""Small state beside the events: meta values (cursors, keys), parent notices, quarantine.

The functions that take a ``conn`` are the writes: a running node runs them through
its writer (``TapWriter.write``); an operator's command through ``Meta.set_meta`` on
its own connection. ``Meta``'s other methods read, from any thread.

The quarantine keeps the batches a node refused, with the reason, for the engineer;
its two summary queries are the same on SQLite and on the central's PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from edge.store.db import Database

UPSTREAM_PASS_KEY = "upstream_pass_key"  # noqa: S105 - the meta key of the hub's public pass key
REASONS = 3  # the latest reasons the status shows per device
# A refused batch's body (up to 8 MB) is kept for the engineer only for a device's first
# BODIES_KEPT refusals: a token holder pushing junk again and again fills no SD card.
BODIES_KEPT = 20
SHOWN = 50  # the newest refusals /api/v1/sync/status lists
# The same two queries on SQLite and PostgreSQL: refusals per device, latest reasons.
QUARANTINE_COUNTS = "SELECT device, count(*) FROM quarantine GROUP BY device"
QUARANTINE_LATEST = (
    "SELECT device, reason FROM (SELECT device, reason, id, row_number() OVER "  # noqa: S608
    f"(PARTITION BY device ORDER BY id DESC) AS n FROM quarantine) q WHERE n <= {REASONS} "
    "ORDER BY id DESC"
)


def put(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Store a meta value (replacing the one held)."""
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def put_first(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Store a meta value unless the key holds one already (the first writer wins)."""
    conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))


def record_notice(
    conn: sqlite3.Connection,
    notice_id: str,
    delivered_at: str | None,
    status: int | None,
    error: str | None,
) -> None:
    """Record one attempt at a parent notice (delivered, refused, or to retry)."""
    conn.execute(
        "INSERT INTO notices (notice_id, delivered_at, attempts, status, error) "
        "VALUES (?, ?, 1, ?, ?) ON CONFLICT (notice_id) DO UPDATE SET "
        "delivered_at = excluded.delivered_at, attempts = attempts + 1, "
        "status = excluded.status, error = excluded.error",
        (notice_id, delivered_at, status, error),
    )


def quarantine(
    conn: sqlite3.Connection, received_at: str, device: str, reason: str, body: str
) -> None:
    """Keep a refused batch aside with its reason; its body only for the first BODIES_KEPT."""
    held = conn.execute(
        "SELECT count(*) FROM quarantine WHERE device = ? AND body != ''", (device,)
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO quarantine (received_at, device, reason, body) VALUES (?, ?, ?, ?)",
        (received_at, device, reason, body if held < BODIES_KEPT else ""),
    )


def summarize(
    counts: list[tuple[str, int]], latest: list[tuple[str, str]]
) -> dict[str, tuple[int, list[str]]]:
    """Return per device (refusals, latest reasons) from QUARANTINE_COUNTS and _LATEST rows."""
    reasons: dict[str, list[str]] = {}
    for device, reason in latest:
        reasons.setdefault(str(device), []).append(str(reason))
    return {str(d): (int(n), reasons.get(str(d), [])) for d, n in counts}


class Meta(Database):
    """Meta values, notices and the quarantine (a part of ``edge.store.ledger.Ledger``)."""

    def meta(self, key: str) -> str | None:
        """Return a value kept in the meta table (sync cursors, ...), or None."""
        value = self._value("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def metas(self, prefix: str) -> dict[str, str]:
        """Return the meta values whose keys start with ``prefix``, by the rest of the key."""
        rows = self.reader().execute(
            "SELECT key, value FROM meta WHERE key LIKE ?", (prefix + "%",)
        )
        return {r[0][len(prefix) :]: str(r[1]) for r in rows if str(r[0]).startswith(prefix)}

    def set_meta(self, key: str, value: str) -> None:
        """Store a meta value on this process's connection (an operator's command)."""
        self.write(lambda conn: put(conn, key, value))

    def notice(self, notice_id: str) -> dict[str, Any] | None:
        """Return what is known of a parent notice's delivery."""
        row = self._value_row(
            "SELECT notice_id, delivered_at, attempts, status, error FROM notices "
            "WHERE notice_id = ?",
            (notice_id,),
        )
        return dict(row) if row else None

    def quarantine_summary(self) -> dict[str, tuple[int, list[str]]]:
        """Return, per device, how many batches were kept aside and the latest reasons."""
        reader = self.reader()
        return summarize(
            reader.execute(QUARANTINE_COUNTS).fetchall(),
            reader.execute(QUARANTINE_LATEST).fetchall(),
        )

    def quarantined(self, limit: int = SHOWN) -> list[dict[str, object]]:
        """Return the newest refused batches kept aside, without their bodies."""
        rows = self.reader().execute(
            "SELECT id, received_at, device, reason, length(body) FROM quarantine "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [
            {"id": r[0], "received_at": r[1], "device": r[2], "reason": r[3], "bytes": r[4]}
            for r in rows
        ]
