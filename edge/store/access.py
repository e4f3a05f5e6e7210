"""Who may speak to a node: registered devices and their tokens, staff PINs, revocations.

Tokens and PINs are stored only hashed. Written by an operator's command (the CLI) on
its own connection (``edge.store.db``); read by the running node from any thread.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import sqlite3
from dataclasses import dataclass

from edge.errors import StorageError
from edge.store.db import Database


@dataclass(frozen=True)
class Device:
    """A registered kiosk (or, on a district central, a campus hub)."""

    name: str
    kind: str  # "kiosk" or "hub"
    created_at: str
    revoked_at: str | None = None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class Access(Database):
    """Devices, staff PINs and revocations (a part of ``edge.store.ledger.Ledger``)."""

    def add_device(self, name: str, kind: str = "kiosk") -> str:
        """Register a kiosk (or hub) under ``name``; return its new token, stored only hashed."""
        token = "dev1." + secrets.token_urlsafe(32)
        digest = hashlib.sha256(token.encode()).hexdigest()
        try:
            self.write(
                lambda conn: conn.execute(
                    "INSERT INTO devices (name, token_sha256, created_at, kind) "
                    "VALUES (?, ?, ?, ?)",
                    (name, digest, _now(), kind),
                )
            )
        except sqlite3.IntegrityError as err:
            raise StorageError(
                f"a device named '{name}' is already registered; choose another name"
            ) from err
        return token

    def device_for(self, token: str) -> Device | None:
        """Return the registered, unrevoked device holding ``token``, or None."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        row = self._value_row(
            "SELECT name, kind, created_at, revoked_at FROM devices "
            "WHERE token_sha256 = ? AND revoked_at IS NULL",
            (digest,),
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
        changed = self.write(
            lambda conn: (
                conn.execute(
                    "UPDATE devices SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                    (_now(), name),
                ).rowcount
            )
        )
        return int(changed) == 1

    def revoke_staff(self, staff_id: str, at: float) -> None:
        """Refuse every token of a staff member issued up to ``at`` (epoch seconds)."""
        self.write(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO staff_revocations (staff_id, revoked_at) VALUES (?, ?)",
                (staff_id, at),
            )
        )

    def set_pin(self, staff_id: str, pin_hash: str) -> None:
        """Store a staff member's PIN (hashed by the caller)."""
        self.write(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO staff_pins (staff_id, pin_hash, set_at) VALUES (?, ?, ?)",
                (staff_id, pin_hash, _now()),
            )
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
