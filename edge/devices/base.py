"""The reader contract every driver keeps.

A driver turns card reads into calls of its ``sink``: ``sink(uid, form)`` queues a
tap for the driver's station and returns a future that resolves once the tap's event
is durable (so feedback, a beep or an LED, comes after the commit). A driver reports
its health at any time without blocking. Drivers run in their own thread or task;
none may block another station.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from edge.cards import Form

if TYPE_CHECKING:
    from edge.taps import TapResult

Sink = Callable[[str, Form, "dt.datetime | None"], "concurrent.futures.Future[TapResult]"]


@dataclass
class ReaderHealth:
    """What a reader can say about itself: connected, last read, errors."""

    spec: str
    driver: str
    connected: bool = False
    last_read: dt.datetime | None = None
    reads: int = 0
    errors: int = 0
    last_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """Return the health as /healthz shows it."""
        return {
            "spec": self.spec,
            "driver": self.driver,
            "connected": self.connected,
            "last_read": self.last_read.isoformat() if self.last_read else None,
            "reads": self.reads,
            "errors": self.errors,
            "last_error": self.last_error,
            **self.extra,
        }


class Reader(Protocol):
    """A card reader bound to one station."""

    station: str
    health: ReaderHealth

    def start(self, sink: Sink) -> None:
        """Begin delivering reads to ``sink``."""
        ...

    def stop(self) -> None:
        """Stop reading and release the device."""
        ...
