"""The reader contract every driver keeps, and the machinery drivers share.

A driver turns card reads into calls of its ``sink``: ``sink(uid, form, at)`` queues
a tap for the driver's station and returns a future that resolves once the tap's
event is durable, so feedback (a beep, an LED) comes only after the commit. The node
gives each driver its sink; of what the future resolves to, a driver reads only what
``Durable`` names (the recorded event's outcome and alert): devices know nothing of
the writer behind the sink. A driver reports its health at any time without blocking,
and runs in its own thread: a reader that hangs, is unplugged or throws never blocks
another station or the service. ``ThreadedReader`` gives drivers that loop: open the
device, read until it fails, close, wait with jittered exponential backoff, open again.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from edge.backoff import Backoff
from edge.devices.feedback import Feedback
from edge.school.cards import Form

log = logging.getLogger(__name__)


class Recorded(Protocol):
    """The event a durable tap recorded, as far as a reader's feedback reads it."""

    @property
    def outcome(self) -> str:
        """Return accepted, denied or ignored."""
        ...

    @property
    def data(self) -> Mapping[str, Any]:
        """Return the event's details (``alert`` among them)."""
        ...


class Durable(Protocol):
    """What a sink's future resolves to: a durable tap, with the event it recorded."""

    @property
    def event(self) -> Recorded:
        """Return the event the tap recorded."""
        ...


# sink(uid, form, at): queue a tap; the future resolves to a Durable once it is stored.
# Its result type is the node's own (a driver passes it on, reading it as a Durable).
Sink = Callable[[str, Form, dt.datetime | None], concurrent.futures.Future[Any]]


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
    reconnects: int = 0
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
            "reconnects": self.reconnects,
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


class CardHold:
    """Tells a new tap from a card still lying on the reader.

    Readers report a card again and again while it stays in the field (nfcpy polls,
    an RDM6300 repeats its frame every ~65 ms). A read is a new tap when the card
    differs from the last one or was not seen for ``hold`` seconds.
    """

    def __init__(self, hold: float = 0.5) -> None:
        self.hold = hold
        self._uid: str | None = None
        self._seen = 0.0

    def is_new(self, uid: str, now: float) -> bool:
        """Record a read at monotonic time ``now``; tell whether it is a new tap."""
        new = uid != self._uid or now - self._seen > self.hold
        self._uid, self._seen = uid, now
        return new


class ReaderGone(Exception):
    """The device went away or misbehaved; the driver reopens it after a backoff."""


class ThreadedReader:
    """A driver running its own thread: open, read, close, back off, reopen."""

    driver = "threaded"

    def __init__(
        self,
        station: str,
        spec: str,
        *,
        hold: float = 0.5,
        backoff: Backoff | None = None,
        feedback: Feedback | None = None,
    ) -> None:
        self.station = station
        self.spec = spec
        self.health = ReaderHealth(spec=spec, driver=self.driver)
        self.hold = CardHold(hold)
        self.backoff = backoff or Backoff()
        self.feedback = feedback
        self._sink: Sink | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # The device-specific part ------------------------------------------------------

    def open(self) -> None:
        """Open the device; raise ReaderGone (or OSError) if it is not there."""
        raise NotImplementedError

    def read(self) -> None:
        """Read until stopped; call ``deliver`` per card; raise ReaderGone on failure."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the device; must not raise."""

    # The shared part ----------------------------------------------------------------

    def start(self, sink: Sink) -> None:
        """Start the reader's thread."""
        self._sink = sink
        self._thread = threading.Thread(
            target=self._run, name=f"reader-{self.station}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and release the device."""
        self._stop.set()
        self.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def stopping(self) -> bool:
        """Tell whether stop() was called."""
        return self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.open()
                self.health.connected = True
                self.health.last_error = None
                self.backoff.reset()
                log.info("%s: reader %s connected", self.station, self.spec)
                self.read()
            except Exception as err:  # a reader must never take the service down
                if not self._stop.is_set():
                    self.health.errors += 1
                    self.health.last_error = f"{type(err).__name__}: {err}"
                    log.warning("%s: reader %s: %s", self.station, self.spec, err)
            finally:
                was_connected = self.health.connected
                self.health.connected = False
                self.close()
            if self._stop.is_set():
                break
            if was_connected:
                self.health.reconnects += 1
            self._stop.wait(self.backoff.next())

    def deliver(self, uid: str, form: Form, seen_at: float | None = None) -> bool:
        """Hand a read to the tap pipeline unless it is the same card still lying there."""
        now = time.monotonic() if seen_at is None else seen_at
        if not self.hold.is_new(uid, now):
            return False
        if self._sink is None:
            return False
        started = time.perf_counter()
        self.health.reads += 1
        self.health.last_read = dt.datetime.now(dt.UTC)
        try:
            future = self._sink(uid, form, None)
        except Exception as err:  # an unreadable number, an unknown station: count it
            self.health.errors += 1
            self.health.last_error = f"{type(err).__name__}: {err}"
            log.warning("%s: read %r refused: %s", self.station, uid, err)
            return False

        def done(f: concurrent.futures.Future[Any]) -> None:
            self.health.extra["last_tap_ms"] = round((time.perf_counter() - started) * 1000, 2)
            if self.feedback is not None and f.exception() is None:
                durable: Durable = f.result()
                self.feedback.signal(durable.event.outcome, durable.event.data.get("alert"))

        future.add_done_callback(done)
        return True
