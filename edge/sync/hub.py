"""A hub's (or kiosk's) side of sync: the SyncStore over the node's own SQLite ledger.

Pushed events are stored through the node's tap writer (``TapWriter.ingest``), the
ledger's one writer, so they land in the live projection and on the screens like
local taps. The pull cursor is the ledger's rowid: the single writer commits in
rowid order, so no later commit can appear behind a cursor.
"""

from __future__ import annotations

import datetime as dt

from edge import passes
from edge.errors import TapError
from edge.events import Event
from edge.ledger import Device
from edge.node import Node
from edge.sync.protocol import RosterSnapshot
from edge.taps import Ingested

CLOCK_STEP = "clock_step."
_WAIT = 60.0  # seconds a push may wait for the writer (a kiosk retries after that)


class LedgerStore:
    """The SyncStore of a node whose ledger is SQLite (a hub, or a kiosk others sync to)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.ledger = node.ledger

    def authenticate(self, token: str) -> Device | None:
        """Return the unrevoked device holding this token."""
        return self.ledger.device_for(token)

    def node_info(self) -> tuple[str, str, int]:
        """Return (node_id, role, roster version)."""
        return self.ledger.node_id, self.node.settings.role, self.node.roster.version

    def pass_key(self) -> str:
        """Return the public key this node signs pickup passes with."""
        return passes.public_text(self.node.pass_key)

    def push(self, device: Device, events: list[Event]) -> Ingested:
        """Store a pushed batch through the writer; ChainBroken if it cannot be stored."""
        return self.node.writer.ingest(events).result(timeout=_WAIT)

    def note_clock_step(self, device: Device, seconds: float) -> None:
        """Keep how far a kiosk's clock was off, to correct its unsynced events' times."""
        key, value = f"{CLOCK_STEP}{device.name}", repr(seconds)
        self.node.writer.call(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value)
            )
        ).result(timeout=_WAIT)

    def quarantine(self, device: Device, reason: str, body: bytes) -> None:
        """Keep a refused batch aside (written by the writer thread)."""
        now = dt.datetime.now(dt.UTC).isoformat()
        self.node.writer.call(
            lambda conn: conn.execute(
                "INSERT INTO quarantine (received_at, device, reason, body) VALUES (?, ?, ?, ?)",
                (now, device.name, reason, body.decode()),
            )
        ).result(timeout=_WAIT)

    def pull(self, device: Device, after: str, limit: int) -> tuple[list[Event], str]:
        """Return the events after a rowid cursor, leaving out the caller's own."""
        if after and not after.isdigit():
            raise TapError(f"after: '{after}' is not a cursor this hub gave out")
        cursor = int(after or 0)
        if cursor > 2**62:
            raise TapError(f"after: '{after}' is not a cursor this hub gave out")
        top = self.ledger.last_rowid()  # read first: a later commit lies above it
        events = self.ledger.events_after(cursor, limit, except_node=device.name, upto=top)
        if len(events) < limit:
            # Nothing more of the others' up to top: move past the caller's own too.
            return events, str(max(top, cursor))
        return events, str(events[-1].rowid)

    def roster(self, device: Device, since: int) -> RosterSnapshot | None:
        """Return the roster in force if it is newer than ``since``."""
        if self.ledger.roster_version() <= since:
            return None  # asked every round: answer without reading the tables
        version, source, school_toml, tables = self.ledger.roster_snapshot()
        if version <= since:
            return None
        photos = sorted(
            {row["photo"] for name in ("students", "guardians") for row in tables.get(name, [])
             if row.get("photo")}
        )  # fmt: skip
        return RosterSnapshot(
            version=version, source=source, school_toml=school_toml, tables=tables, photos=photos
        )

    def photo(self, device: Device, name: str) -> bytes | None:
        """Return a roster photo by its content-addressed name."""
        path = self.ledger.photos / name
        return path.read_bytes() if path.is_file() else None


def clock_steps(node: Node) -> dict[str, dt.timedelta]:
    """Return, per node, how far its unsynced clock was off (learned from its pushes)."""
    rows = node.ledger.reader().execute(
        "SELECT key, value FROM meta WHERE key LIKE ?", (CLOCK_STEP + "%",)
    )
    return {r[0][len(CLOCK_STEP) :]: dt.timedelta(seconds=float(r[1])) for r in rows}


def corrected_at(event: Event, steps: dict[str, dt.timedelta]) -> dt.datetime | None:
    """Return an unsynced event's time as the hub corrects it, where it can (else None)."""
    step = steps.get(event.node_id)
    if event.clock_synced or step is None:
        return None
    return event.at + step


def quarantined(node: Node) -> list[dict[str, object]]:
    """Return the refused batches kept aside, newest first (without their bodies)."""
    rows = node.ledger.reader().execute(
        "SELECT id, received_at, device, reason, length(body) FROM quarantine ORDER BY id DESC"
    )
    return [
        {"id": r[0], "received_at": r[1], "device": r[2], "reason": r[3], "bytes": r[4]}
        for r in rows
    ]
