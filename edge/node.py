"""A running node: its ledger, live projection, tap writer and readers, built together.

``Node.open`` builds everything from settings with an injectable clock; ``start`` and
``stop`` bring the writer and the readers up and down. The HTTP app (``edge.api``)
takes a Node, so a test builds the real thing on a temporary directory.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import logging
import secrets
import time

from edge import auth, cards
from edge.clock import Clock, SystemClock
from edge.devices.base import Reader, Sink
from edge.devices.registry import (
    ReaderUnavailable,
    UnavailableReader,
    open_reader,
    parse_binding,
)
from edge.devices.sim import SimulatedReader
from edge.ledger import Ledger
from edge.live import Broadcast
from edge.projection import Projection
from edge.roster import Roster
from edge.rules import Timing
from edge.settings import Settings
from edge.taps import TapResult, TapWriter

log = logging.getLogger(__name__)


class Node:
    """Everything one ``campus-edge serve`` process runs."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.ledger = Ledger(settings.database, settings.node_id)
        self.projection = Projection(self.ledger.iter_day)
        self.writer = TapWriter(
            self.ledger,
            self.projection,
            self.clock,
            Timing(
                debounce=dt.timedelta(seconds=settings.debounce_seconds),
                pickup_context=dt.timedelta(seconds=settings.pickup_context_seconds),
            ),
        )
        self.secret = auth.load_secret(settings.data_dir)
        self.readers: dict[str, Reader] = {}
        self.broadcast = Broadcast()
        self.signin_codes: dict[str, tuple[str, float]] = {}
        self.signin_failures = 0
        self.writer.listen(self._publish)

    @property
    def roster(self) -> Roster:
        """Return the roster in force."""
        return self.writer.roster

    def start(self) -> None:
        """Start the tap writer, then attach and start every reader."""
        self.writer.start()
        bindings: dict[str, str] = {}
        for text in self.settings.readers:
            try:
                station, spec = parse_binding(text)
            except ReaderUnavailable as err:
                log.error("%s", err)
                continue
            if station not in self.roster.stations:
                log.warning("reader %s is bound to %s, which is not in the roster", spec, station)
            bindings[station] = spec
        if self.settings.simulate:
            for station in self.roster.stations:
                bindings.setdefault(station, "sim")
        for station, spec in bindings.items():
            try:
                reader: Reader = open_reader(station, spec)
            except ReaderUnavailable as err:
                log.error("station %s: %s", station, err)
                reader = UnavailableReader(station, spec, str(err))
            reader.start(self._sink_for(station))
            self.readers[station] = reader

    def _publish(self, results: list[TapResult]) -> None:
        # On the writer thread, after COMMIT: screens only ever show durable taps.
        changed: set[str] = set()
        for result in results:
            event = result.event
            answer = result.to_json()
            if event.subject_kind == "staff" and event.outcome == "accepted":
                answer["signin_code"] = self.new_signin_code(event.subject_id or "")
            self.broadcast.publish({"type": "tap", **answer}, station=event.station)
            answer.pop("signin_code", None)
            answer.pop("students", None)
            self.broadcast.publish({"type": "tap", **answer}, station=None)
            for key in ("group_id", "from_group"):
                if event.data.get(key):
                    changed.add(event.data[key])
        if changed:
            self.broadcast.publish_everywhere({"type": "changed", "groups": sorted(changed)})

    def new_signin_code(self, staff_id: str) -> str:
        """Return a one-time code that signs a staff member in on a dashboard for 60 s."""
        now = time.monotonic()
        for code, (_, expires) in list(self.signin_codes.items()):
            if expires < now:
                del self.signin_codes[code]
        code = f"{secrets.randbelow(1_000_000):06d}"
        self.signin_codes[code] = (staff_id, now + 60)
        return code

    def redeem_signin_code(self, code: str) -> str | None:
        """Return the staff id a valid code was issued to, once; None otherwise.

        Twenty wrong codes void every outstanding one, so guessing six digits within
        their minute is not an option.
        """
        held = self.signin_codes.pop(code, None)
        if held is None or held[1] < time.monotonic():
            self.signin_failures += 1
            if self.signin_failures >= 20:
                self.signin_codes.clear()
                self.signin_failures = 0
            return None
        return held[0]

    def stop(self) -> None:
        """Stop the readers, then let the writer finish what is queued."""
        for reader in self.readers.values():
            reader.stop()
        self.writer.stop()

    def _sink_for(self, station: str) -> Sink:
        def sink(
            uid: str, form: cards.Form = "auto", at: dt.datetime | None = None
        ) -> concurrent.futures.Future[TapResult]:
            return self.writer.submit_nowait(self.writer.make_tap(station, uid, at, form))

        return sink

    def simulated(self, station: str) -> SimulatedReader | None:
        """Return the simulated reader at a station, if there is one."""
        reader = self.readers.get(station)
        if reader is None and self.settings.simulate and station in self.roster.stations:
            # A station added by a roster import after start gets its simulated reader now.
            reader = SimulatedReader(station)
            reader.start(self._sink_for(station))
            self.readers[station] = reader
        return reader if isinstance(reader, SimulatedReader) else None
