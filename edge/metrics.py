"""Prometheus text exposition of a node's health: taps, refusals, sync lag, readers, disk.

Counters count since the process started (Prometheus handles restarts); gauges are
read when scraped. No personal data: stations, outcomes and codes only.
"""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edge.node import Node
    from edge.writer import TapResult


class Metrics:
    """Counts committed events as the writer reports them."""

    def __init__(self) -> None:
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

    def render(self, node: Node) -> str:
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
               [("", node.writer.failures)])  # fmt: skip
        metric("roster_version", "gauge", "Roster version in force.", [("", node.roster.version)])
        metric("clock_synced", "gauge", "1 when the wall clock is trusted or follows the hub.",
               [("", int(node.writer.clock_synced))])  # fmt: skip
        readers = sorted(node.readers.items())
        metric("reader_up", "gauge", "1 when the station's reader is connected.",
               [(_labels(station=s), int(r.health.connected)) for s, r in readers])  # fmt: skip
        metric("reader_errors_total", "counter", "Read errors and bad frames per reader.",
               [(_labels(station=s), r.health.errors) for s, r in readers])  # fmt: skip
        if node.sync is not None:
            status = node.sync.status
            since = (
                (node.clock.now() - status.last_success).total_seconds()
                if status.last_success
                else -1
            )
            metric("sync_waiting_events", "gauge", "Own events not yet acknowledged upstream.",
                   [("", status.waiting)])  # fmt: skip
            metric("sync_seconds_since_success", "gauge",
                   "Seconds since the last successful sync round (-1: never).",
                   [("", since)])  # fmt: skip
        disk = shutil.disk_usage(node.settings.data_dir)
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
