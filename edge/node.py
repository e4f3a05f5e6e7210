"""A running node, built together: ledger, live projection, tap writer, readers, services.

The composition root: ``Node(settings, clock)`` builds everything with an injectable
clock; ``start`` and ``stop`` bring the writer, the background services (notices,
late pickups, sync) and the readers up and down. What each part does lives in its own
module; the HTTP app (``edge.http.app``) takes a Node, so a test builds the real thing
on a temporary directory.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import functools
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from edge.actions.desk import Desk
from edge.actions.readers import ReaderWatch
from edge.actions.signin import SignInCodes
from edge.actions.visitors import Gate
from edge.clock import Clock, ClockTrust, CorrectedClock, SystemClock
from edge.devices.base import Reader, Sink
from edge.devices.registry import (
    ReaderUnavailable,
    UnavailableReader,
    open_reader,
    parse_binding,
)
from edge.devices.sim import SimulatedReader
from edge.errors import AuthError
from edge.live import Broadcast, Screens
from edge.metrics import Lag, Metrics
from edge.periodic import Periodic
from edge.projection import DayCache, Projection
from edge.school import auth, cards, conflicts, passes, proof
from edge.school.curve import CurveCache
from edge.school.events import Event
from edge.school.roster import Roster
from edge.school.rules import Timing
from edge.settings import Settings
from edge.store.ledger import Ledger
from edge.store.meta import UPSTREAM_PASS_KEY
from edge.sync.server import Peers
from edge.writer import TapResult, TapWriter

if TYPE_CHECKING:  # for the types only: start() imports them when the settings ask
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from edge.notices import Notifier
    from edge.sync.client import SyncClient

log = logging.getLogger(__name__)


class Node:
    """Everything one ``campus-edge serve`` process runs."""

    ESCALATE_EVERY = 15.0  # seconds between looks at the clock for late pickups
    LIVE_EVERY = 5.0  # seconds between looks at the clock for the dashboards (service end)
    READER_WATCH_EVERY = 5.0  # seconds between looks at the readers (edge.actions.readers)

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        offset = settings.sim_clock_offset_seconds if settings.simulate else 0.0
        self.clock: Clock = clock or CorrectedClock(SystemClock(), offset)
        self.clock_trusted = ClockTrust(self.clock, settings.clock_trusted)
        self.ledger = Ledger(
            settings.database, settings.node_id, claim="node_id" in settings.model_fields_set
        )
        self.projection = Projection(
            self._events_of_day, self.ledger.pickup_actions, local=self.ledger.node_id,
            last_rowid=self.ledger.last_rowid,
            load_after=lambda after, limit, upto: self.ledger.events_after(after, limit, upto=upto),
        )  # fmt: skip
        self.secret = auth.load_secret(settings.data_dir)
        self._pass_raw = passes.key_bytes(settings.data_dir)  # read (or made) now, used later
        self.writer = TapWriter(
            self.ledger,
            self.projection,
            self.clock,
            Timing(
                debounce=dt.timedelta(seconds=settings.debounce_seconds),
                pickup_context=dt.timedelta(seconds=settings.pickup_context_seconds),
            ),
            check_clock=self.clock_trusted.vouched,
            pass_publics=self._pass_publics,
        )
        self.peers = Peers()  # the devices that sync with this node
        self.sync: SyncClient | None = None  # with --upstream
        self.notifier: Notifier | None = None  # with webhook_url
        self.readers: dict[str, Reader] = {}
        self.signin_codes = SignInCodes(
            self.writer, self.ledger, self.secret, self.clock, settings.token_hours
        )
        self.broadcast = Broadcast()
        self.desk = Desk(  # staff actions (edge.actions), signed with this node's key
            self.writer, settings, lambda: self.pass_key, self.broadcast.publish,
            lambda who: proof.prover(who, settings.data_dir),
        )  # fmt: skip
        screens = Screens(self.broadcast, self.projection, self.clock, self.ledger.node_id,
                          lambda: self.writer.roster, self.signin_codes.issue,
                          lambda work: self.writer.call(work, in_transaction=False))  # fmt: skip
        self.writer.listen(screens.publish)
        self.live_clock = Periodic("live-clock", self.LIVE_EVERY, screens.tick,
                                   "the dashboards' clock could not be looked at")  # fmt: skip
        self.writer.on_fault(screens.fault)
        self.metrics = Metrics(
            self.writer, self.readers, self.clock, settings.data_dir, self._sync_status
        )
        self.writer.listen(self.metrics.count)
        self.conflicts = DayCache(self.ledger, conflicts.find)  # the day's, for the dashboard
        self.gate = Gate(self.writer)  # the gate register (门卫登记): visitors, instructors
        self.curves = CurveCache(self.ledger)  # the afternoon's counts, for the dashboard's chart
        self.late_pickups = Periodic(
            "late-pickups", self.ESCALATE_EVERY, lambda: self.writer.escalate().result(timeout=30),
            "late pickups could not be passed to the gate guard",
        )  # fmt: skip
        self.reader_watch = Periodic(  # readers offline and back, for the duty log
            "reader-watch", self.READER_WATCH_EVERY, ReaderWatch(self.writer, self.readers).check,
            "a reader's state could not be recorded",
        )  # fmt: skip

    def _events_of_day(self, day: dt.date) -> Iterator[Event]:
        """Yield a day's events to fold, those made on a wrong clock placed where they belong."""
        return self.ledger.iter_day(day, tz=self.writer.roster.calendar.tz)

    @property
    def roster(self) -> Roster:
        """Return the roster in force."""
        return self.writer.roster

    @functools.cached_property
    def pass_key(self) -> Ed25519PrivateKey:
        """Return the key this node signs passes with, loaded (or made) when first needed.

        A node that never issues or checks a pass, nor hands its key to a kiosk, does
        not import cryptography at all (some 8 MB of a Pi's memory).
        """
        return passes.private_key(self._pass_raw)

    def staff_of(self, token: str) -> auth.Principal:
        """Return who a staff bearer token speaks for now; AuthError (401) saying why not."""
        return auth.verify(
            self.secret, token, self.roster, self.clock.now(), self.ledger.staff_revoked_at
        )

    def staff_if_any(self, authorization: str) -> auth.Principal | None:
        """Return who an ``Authorization: Bearer`` header speaks for; None if nobody valid."""
        scheme, _, given = authorization.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return None
        try:
            return self.staff_of(given.strip())
        except AuthError:
            return None

    def _pass_publics(self) -> list[str]:
        """Return the keys a pass may be signed with: this node's, and its hub's."""
        keys = [passes.public_text(self.pass_key)]
        upstream = self.ledger.meta(UPSTREAM_PASS_KEY)
        if upstream:
            keys.append(upstream)
        return keys

    def _sync_status(self) -> Lag | None:
        """Return how this node stands with its upstream; None without one."""
        return self.sync.status if self.sync is not None else None

    def responsive(self, timeout: float = 5.0) -> bool:
        """Tell whether the tap writer is alive and still turns its queue (a no-op goes through).

        The watchdog is fed only while this holds: a dead or wedged writer gets the
        service restarted by systemd.
        """
        if self.writer.dead is not None:
            return False
        try:
            self.writer.call(lambda conn: None).result(timeout=timeout)
        except Exception:
            return False
        return True

    def start(self) -> None:
        """Start the tap writer, the campus's services, sync (with an upstream), then readers."""
        self.writer.start()
        self.live_clock.start()
        # One node speaks for the campus (notices, late pickups): the hub, or a kiosk that
        # runs alone. A kiosk that syncs leaves it to its hub (its dashboard still shows
        # the stages).
        speaks_for_campus = self.settings.role == "hub" or not self.settings.upstream
        if self.settings.webhook_url and self.settings.webhook_secret and speaks_for_campus:
            from edge.notices import Notifier

            url, secret = self.settings.webhook_url, self.settings.webhook_secret
            self.notifier = Notifier(self.writer, url, secret)
            self.notifier.start()
        if self.settings.escalate and speaks_for_campus:
            self.late_pickups.start()
        if self.settings.upstream and self.settings.device_token:
            from edge.sync.client import SyncClient

            self.sync = SyncClient(
                self, self.settings.upstream, self.settings.device_token, self.settings.sync_seconds
            )
            self.sync.start()
        for station, spec in self._bindings().items():
            try:
                reader: Reader = open_reader(station, spec)
            except ReaderUnavailable as err:
                log.error("station %s: %s", station, err)
                reader = UnavailableReader(station, spec, str(err))
            reader.start(self._sink_for(station))
            self.readers[station] = reader
        self.reader_watch.start()

    def _bindings(self) -> dict[str, str]:
        """Return the reader spec of each station: settings' bindings, then "sim"."""
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
        return bindings

    def stop(self) -> None:
        """Stop sync and the readers, then let the writer finish what is queued."""
        self.late_pickups.stop()
        self.live_clock.stop()
        self.reader_watch.stop()
        if self.notifier is not None:
            self.notifier.stop()
        if self.sync is not None:
            self.sync.stop()
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
