"""A hub's (or kiosk's) side of sync: the SyncStore over the node's own SQLite ledger.

Pushed events are stored through the node's tap writer (``TapWriter.ingest``), the
ledger's one writer, so they land in the live projection and on the screens like
local taps; every other write here (a clock step, a node key, the quarantine) is a
store function run by that writer too. The pull cursor is the ledger's rowid: the
single writer commits in rowid order, so no later commit can appear behind a cursor.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from typing import Any, Protocol

from edge.errors import AuthError, TapError
from edge.school.events import Event
from edge.store import meta
from edge.store.access import Device
from edge.store.ledger import Ledger
from edge.sync.protocol import RosterSnapshot, photo_names
from edge.writer import Ingested, TapWriter

CLOCK_STEP = "clock_step."
NODE_KEY = "node_key."  # meta key prefix: a device's node key, pinned or bound at first hello
_WAIT = 60.0  # seconds a push may wait for the writer (a kiosk retries after that)


class HoldsLedger(Protocol):
    """Whatever holds a node's ledger (edge.node.Node is one)."""

    @property
    def ledger(self) -> Ledger:
        """Return the node's ledger."""
        ...


class LedgerStore:
    """The SyncStore of a node whose ledger is SQLite (a hub, or a kiosk others sync to)."""

    def __init__(self, writer: TapWriter, role: str, pass_key: Callable[[], str]) -> None:
        """Serve sync from ``writer``'s ledger, as a node of ``role`` (kiosk, hub).

        ``pass_key`` returns the public text of the key this node signs passes with
        (asked at the first hello, so a node nobody syncs with never loads the key).
        """
        self.writer = writer
        self.ledger = writer.ledger
        self.role = role
        self._pass_key = pass_key

    def authenticate(self, token: str) -> Device | None:
        """Return the unrevoked device holding this token."""
        return self.ledger.device_for(token)

    def node_info(self) -> tuple[str, str, int]:
        """Return (node_id, role, roster version)."""
        return self.ledger.node_id, self.role, self.writer.roster.version

    def pass_key(self) -> str:
        """Return the public key this node signs pickup passes with."""
        return self._pass_key()

    def push(self, device: Device, events: list[Event]) -> Ingested:
        """Store a pushed batch through the writer; ChainBroken if it cannot be stored."""
        return self.writer.ingest(events).result(timeout=_WAIT)

    def note_clock_step(self, device: Device, seconds: float) -> None:
        """Keep how far a kiosk's clock was off, to correct its unsynced events' times."""
        note = functools.partial(meta.put, key=f"{CLOCK_STEP}{device.name}", value=repr(seconds))
        self.writer.write(note, timeout=_WAIT)

    def quarantine(self, device: Device, reason: str, body: bytes) -> None:
        """Keep a refused batch aside (written by the writer thread); see meta.BODIES_KEPT."""
        now = dt.datetime.now(dt.UTC).isoformat()
        keep = functools.partial(meta.quarantine, received_at=now, device=device.name,
                                 reason=reason, body=body.decode())  # fmt: skip
        self.writer.write(keep, timeout=_WAIT)

    def quarantine_summary(self) -> dict[str, tuple[int, list[str]]]:
        """Return, per device, how many batches were kept aside and the latest reasons."""
        return self.ledger.quarantine_summary()

    def bind_key(self, device: Device, node_id: str, key: str) -> None:
        """Register a kiosk's node key on first use; AuthError (403) if another is bound."""
        if device.kind == "kiosk" and node_id != device.name:
            raise AuthError(
                f"device '{device.name}' says it is node '{node_id}': start the kiosk with "
                f"--node-id {device.name}",
                403,
            )
        held = self._bound(device)
        if held is not None:
            if held != key and binding(self.ledger, device).get("pinned"):
                raise AuthError(
                    f"device '{device.name}' shows a node key other than the one pinned when it "
                    "was registered: run `campus-edge node-key` on the kiosk and compare; if it "
                    f"is your kiosk, revoke it (campus-edge device revoke {device.name}) and "
                    "register it again with the key it shows (campus-edge device add NAME "
                    "--node-key KEY)",
                    403,
                )
            if held != key:
                raise AuthError(
                    f"device '{device.name}' shows a node key other than the one it registered "
                    "at its first sync (a re-installed or replaced kiosk, or a copied token): "
                    f"if this is your kiosk, revoke it (campus-edge device revoke {device.name}) "
                    "and register it again under a new name (campus-edge device add NAME)",
                    403,
                )
            return
        now = dt.datetime.now(dt.UTC).isoformat()
        value = json.dumps({"created": device.created_at, "node": node_id, "key": key,
                            "pinned": False, "bound_at": now})  # fmt: skip
        bind = functools.partial(meta.put_first, key=f"{NODE_KEY}{device.name}", value=value)
        self.writer.write(bind, timeout=_WAIT)
        if self._bound(device) != key:  # two hellos raced: the first one bound
            raise AuthError(f"device '{device.name}' registered another node key just now", 403)

    def _bound(self, device: Device) -> str | None:
        held = binding(self.ledger, device)
        return str(held["key"]) if held else None

    def push_key(self, device: Device) -> str | None:
        """Return the node key the device's pushes are signed with (None: none bound)."""
        return self._bound(device)

    def key_for(self, device: Device, node_id: str) -> tuple[bool, str | None]:
        """Return (True, the key a kiosk bound): a kiosk pushes only its own node's events."""
        return True, self._bound(device)

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

    def roster(self, device: Device, since: int, have: str | None = None) -> RosterSnapshot | None:
        """Return the roster in force unless the caller holds it.

        With ``have`` (the tag of the roster the caller last took from here), whenever
        the one in force here is another: a kiosk's own import numbered like ours, or a
        re-installed hub counting from 1 again, never keeps a kiosk on an old roster.
        Without it (an older caller), when newer than ``since``.
        """
        tag = self.ledger.roster_tag()  # asked every round: answer without reading tables
        if not tag or (tag == have if have is not None else self.ledger.roster_version() <= since):
            return None
        version, source, school_toml, tables = self.ledger.roster_snapshot()
        if version == 0:
            return None
        return RosterSnapshot(
            version=version, source=source, school_toml=school_toml, tables=tables,
            photos=photo_names(tables), tag=self.ledger.roster_tag(),
        )  # fmt: skip

    def photo(self, device: Device, name: str) -> bytes | None:
        """Return a roster photo by its content-addressed name."""
        path = self.ledger.photos / name
        return path.read_bytes() if path.is_file() else None


def binding(ledger: Ledger, device: Device) -> dict[str, Any]:
    """Return how a device's node key is bound here ({} when none is), from meta."""
    value = ledger.meta(f"{NODE_KEY}{device.name}")
    if value is None:
        return {}
    held: dict[str, Any] = json.loads(value)
    return held if held.get("created") == device.created_at else {}


def pin_key(ledger: Ledger, name: str, key: str) -> None:
    """Bind a node key to a device at its registration (``device add --node-key``)."""
    device = next(d for d in ledger.devices() if d.name == name)
    value = json.dumps({"created": device.created_at, "node": name, "key": key, "pinned": True,
                        "bound_at": dt.datetime.now(dt.UTC).isoformat()})  # fmt: skip
    ledger.set_meta(f"{NODE_KEY}{name}", value)


def describe_binding(held: dict[str, Any]) -> str:
    """Return how a device's node key is bound, as ``device list`` shows it."""
    if not held:
        return "no key yet (bound at its first hello)"
    how = "key pinned at registration" if held.get("pinned") else "key bound at first hello"
    return f"{how} {held.get('bound_at') or '(time not recorded)'}"


def clock_steps(node: HoldsLedger) -> dict[str, dt.timedelta]:
    """Return, per node, how far its unsynced clock was off (learned from its pushes)."""
    steps = node.ledger.metas(CLOCK_STEP)
    return {name: dt.timedelta(seconds=float(value)) for name, value in steps.items()}


def corrected_at(event: Event, steps: dict[str, dt.timedelta]) -> dt.datetime | None:
    """Return an unsynced event's time as the hub corrects it, where it can (else None)."""
    step = steps.get(event.node_id)
    if event.clock_synced or step is None:
        return None
    return event.at + step


def quarantined(node: HoldsLedger) -> list[dict[str, object]]:
    """Return the newest refused batches kept aside (meta.SHOWN at most), without bodies."""
    return node.ledger.quarantined(meta.SHOWN)
