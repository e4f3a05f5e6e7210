"""Readers going offline and back online, recorded in the ledger for the duty log.

A reader's health (edge.devices) lives in memory and is shown by /healthz and the
dashboard while it lasts; the duty log (edge.reports.duty) needs to say afterwards
when a station could not read cards. ``ReaderWatch.check`` runs every few seconds
(edge.node) and records a station's reader as an action of that station when it has
been seen in a new state for ``SETTLE`` checks in a row (a reader that re-opens
within a check or two is not news): ``reader_offline`` with the last error, then
``reader_online``. A reader that never connects after start is recorded offline.
"""

from __future__ import annotations

import logging
import threading

from edge.devices.base import Reader
from edge.writer import TapWriter

log = logging.getLogger(__name__)

READER_OFFLINE, READER_ONLINE = "reader_offline", "reader_online"  # edge.reports.duty reads them
SETTLE = 2  # checks in a row in the new state before it is recorded
DETAIL_MAX = 200


class ReaderWatch:
    """Records each station's reader going offline or online (one thread calls ``check``)."""

    def __init__(self, writer: TapWriter, readers: dict[str, Reader]) -> None:
        self._writer = writer
        self._readers = readers
        self._recorded: dict[str, bool] = {}  # station: the state last recorded (start: up)
        self._streak: dict[str, int] = {}
        self._lock = threading.Lock()

    def check(self) -> None:
        """Look at every reader once; record the ones that settled into a new state."""
        with self._lock:
            for station, reader in list(self._readers.items()):
                up = bool(reader.health.connected)
                if up == self._recorded.get(station, True):
                    self._streak.pop(station, None)
                    continue
                self._streak[station] = self._streak.get(station, 0) + 1
                if self._streak[station] < SETTLE:
                    continue
                detail = "" if up else _plain(reader.health.last_error or "")
                self._writer.record_action(
                    READER_ONLINE if up else READER_OFFLINE,
                    {"detail": detail, "spec": _plain(reader.health.spec)},
                    None,
                    station,
                ).result(timeout=30)
                self._recorded[station] = up
                self._streak.pop(station, None)
                log.warning("station %s: reader %s", station, "back online" if up else "offline")


def _plain(text: str) -> str:
    """Return text fit for the ledger: printable characters only, at most DETAIL_MAX."""
    return "".join(ch if ch.isprintable() else " " for ch in text)[:DETAIL_MAX].strip()
