"""Prometheus text exposition of a node's health: taps, refusals, sync lag, readers, disk.

Counters count since the process started (Prometheus handles restarts); gauges are
read when scraped. No personal data: stations, outcomes and codes only. A scrape reads
the writer, the readers and the sync status through what ``Metrics`` is built with,
never the Node.
"""

from __future__ import annotations

import datetime as dt
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from edge.clock import Clock
from edge.devices.base import Reader
from edge.writer import TapResult, TapWriter


class Lag(Protocol):
    """How a node stands with its upstream (edge.sync.client.SyncStatus)."""

    waiting: int
    last_success: dt.datetime | None


class Metrics:
    """Counts committed events as the writer reports them; renders a scrape."""

    def __init__(
        self,
        writer: TapWriter,
        readers: Mapping[str, Reader],
        clock: Clock,
        data_dir: Path,
        lag: Callable[[], Lag | None],
    ) -> None:
        self._writer = writer
        self._readers = readers  # the node's readers (one may be added while it runs)
        self._clock = clock
        self._data_dir = data_dir
        self._lag = lag  # None without an upstream
        self._lock = threading.Lock()
        self.taps: Counter[tuple[str, str]] = Counter()  # (station, outcome)
        self.refusals: Counter[str] = Counter()  # code
        self.synced = 0

    def count(self, results: list[TapResult]) -> None:
        """Writer listener: count a committed batch."""
        with self._lock:
            for result in results:
                event = result.event
                if result.synced:
                    self.synced += 1
                    continue
                self.taps[(event.station, event.outcome)] += 1
                if event.outcome == "denied":
                    self.refusals[event.code] += 1

    def render(self) -> str:
        """Return the exposition text for a scrape."""
        out: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
            out.append(f"# HELP campus_edge_{name} {help_text}")
            out.append(f"# TYPE campus_edge_{name} {kind}")
            for labels, value in samples:
                out.append(f"campus_edge_{name}{labels} {_number(value)}")

        with self._lock:
            taps = sorted(self.taps.items())
            refusals = sorted(self.refusals.items())
            synced = self.synced
        metric("taps_total", "counter", "Taps committed at this node, by station and outcome.",
               [(_labels(station=s, outcome=o), n) for (s, o), n in taps])  # fmt: skip
        metric("refusals_total", "counter", "Taps refused, by reason code.",
               [(_labels(code=c), n) for c, n in refusals])  # fmt: skip
        metric("synced_events_total", "counter", "Events of other nodes stored through sync.",
               [("", synced)])  # fmt: skip
        metric("commit_failures_total", "counter", "Ledger commits that failed (nothing acked).",
               [("", self._writer.failures)])  # fmt: skip
        metric("roster_version", "gauge", "Roster version in force.",
               [("", self._writer.roster.version)])  # fmt: skip
        metric("clock_synced", "gauge", "1 when the wall clock is trusted or follows the hub.",
               [("", int(self._writer.clock_synced))])  # fmt: skip
        readers = sorted(self._readers.items())
        metric("reader_up", "gauge", "1 when the station's reader is connected.",
               [(_labels(station=s), int(r.health.connected)) for s, r in readers])  # fmt: skip
        metric("reader_errors_total", "counter", "Read errors and bad frames per reader.",
               [(_labels(station=s), r.health.errors) for s, r in readers])  # fmt: skip
        status = self._lag()
        if status is not None:
            since = (
                (self._clock.now() - status.last_success).total_seconds()
                if status.last_success
                else -1
            )
            metric("sync_waiting_events", "gauge", "Own events not yet acknowledged upstream.",
                   [("", status.waiting)])  # fmt: skip
            metric("sync_seconds_since_success", "gauge",
                   "Seconds since the last successful sync round (-1: never).",
                   [("", since)])  # fmt: skip
        disk = shutil.disk_usage(self._data_dir)
        metric("disk_free_bytes", "gauge", "Free space where the ledger lives.",
               [("", disk.free)])  # fmt: skip
        metric("disk_total_bytes", "gauge", "Size of the filesystem holding the ledger.",
               [("", disk.total)])  # fmt: skip
        return "\n".join(out) + "\n"


def _labels(**values: str) -> str:
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in values.items()
    )
    return "{" + inner + "}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
