"""A running node: its ledger, live projection, tap writer and readers, built together.

``Node.open`` builds everything from settings with an injectable clock; ``start`` and
``stop`` bring the writer and the readers up and down. The HTTP app (``edge.http.app``)
takes a Node, so a test builds the real thing on a temporary directory.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import logging
import secrets
import threading
import time
from typing import Any

from edge.actions.desk import Desk
from edge.clock import Clock, CorrectedClock, SystemClock, clock_synchronized
from edge.devices.base import Reader, Sink
from edge.devices.registry import (
    ReaderUnavailable,
    UnavailableReader,
    open_reader,
    parse_binding,
)
from edge.devices.sim import SimulatedReader
from edge.errors import AuthError, StorageError
from edge.live import Broadcast
from edge.metrics import Metrics
from edge.projection import Projection
from edge.school import auth, cards, passes, proof
from edge.school.events import ACTION, PICKUP_OPENED, Tap
from edge.school.fold import PRESENT
from edge.school.roster import Roster
from edge.school.rules import Timing
from edge.settings import Settings
from edge.store.ledger import Ledger
from edge.sync.client import UPSTREAM_PASS_KEY
from edge.sync.server import Peers
from edge.writer import TapResult, TapWriter, WriterStopped

log = logging.getLogger(__name__)


class Node:
    """Everything one ``campus-edge serve`` process runs."""

    ESCALATE_EVERY = 15.0  # seconds between looks at the clock for late pickups

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        offset = settings.sim_clock_offset_seconds if settings.simulate else 0.0
        self.clock: Clock = clock or CorrectedClock(SystemClock(), offset)
        self.ledger = Ledger(
            settings.database, settings.node_id, claim="node_id" in settings.model_fields_set
        )
        self.projection = Projection(
            self.ledger.iter_day, self.ledger.pickup_actions, local=self.ledger.node_id
        )
        self.writer = TapWriter(
            self.ledger,
            self.projection,
            self.clock,
            Timing(
                debounce=dt.timedelta(seconds=settings.debounce_seconds),
                pickup_context=dt.timedelta(seconds=settings.pickup_context_seconds),
            ),
            check_clock=lambda: self.clock_trusted() or getattr(self.clock, "following", False),
        )
        self.peers = Peers()  # the devices that sync with this node
        self._clock_asked: tuple[float, bool] | None = None
        self.sync: Any = None  # edge.sync.client.SyncClient, with --upstream
        self.secret = auth.load_secret(settings.data_dir)
        self.pass_key = passes.load_key(settings.data_dir)
        self.writer.pass_publics = self.pass_publics
        self.readers: dict[str, Reader] = {}
        self.broadcast = Broadcast()
        self.desk = Desk(  # staff actions (edge.actions), signed with this node's key
            self.writer, settings, self.pass_key, self.broadcast.publish,
            lambda who: proof.prover(who, settings.data_dir),
        )  # fmt: skip
        self.signin_codes: dict[str, tuple[str, float]] = {}
        self._stopping = threading.Event()
        self.notifier: Any = None  # edge.notices.Notifier, with webhook_url
        self.writer.listen(self._publish)
        self.writer.on_fault(self._fault)
        self.metrics = Metrics()
        self.writer.listen(self.metrics.count)

    @property
    def roster(self) -> Roster:
        """Return the roster in force."""
        return self.writer.roster

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

    def clock_trusted(self) -> bool:
        """Tell whether this machine's own clock is synchronized (or declared trusted).

        Asked of the system at most once a minute (it may start a process).
        """
        if self.settings.clock_trusted is not None:
            return self.settings.clock_trusted
        now = time.monotonic()
        if self._clock_asked is None or now - self._clock_asked[0] > 60:
            self._clock_asked = (now, clock_synchronized())
        return self._clock_asked[1]

    def pass_publics(self) -> list[str]:
        """Return the keys a pass may be signed with: this node's, and its hub's."""
        keys = [passes.public_text(self.pass_key)]
        upstream = self.ledger.meta(UPSTREAM_PASS_KEY)
        if upstream:
            keys.append(upstream)
        return keys

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
        """Start the tap writer, sync (with an upstream), then every reader."""
        self.writer.start()
        speaks_for_campus = self.settings.role == "hub" or not self.settings.upstream
        if self.settings.webhook_url and self.settings.webhook_secret and speaks_for_campus:
            from edge.notices import Notifier

            url, secret = self.settings.webhook_url, self.settings.webhook_secret
            self.notifier = Notifier(self.writer, url, secret)
            self.notifier.start()
        if self.settings.escalate and speaks_for_campus:
            threading.Thread(
                target=self._escalate_late_pickups, name="late-pickups", daemon=True
            ).start()
        if self.settings.upstream and self.settings.device_token:
            from edge.sync.client import SyncClient

            self.sync = SyncClient(
                self, self.settings.upstream, self.settings.device_token, self.settings.sync_seconds
            )
            self.sync.start()
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
        if not self.broadcast.count:
            return  # no screen is open: render nothing (a synced batch is 1,000 events)
        changed: set[str] = set()
        for result in results:
            event = result.event
            if event.kind == ACTION:
                continue  # a staff action synced in: nothing for a screen
            answer = result.to_json()
            if event.kind == PICKUP_OPENED:
                self._call_forward(result)
            if not result.synced:  # a tap made elsewhere is not this station's screen's
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

    def _fault(self, taps: list[Tap], error: StorageError) -> None:
        """Tell the screens that taps were not saved: the person must tap again."""
        message = {
            "type": "fault",
            "outcome": "denied",
            "kind": "fault",
            "code": "not_saved",
            "message": "未能保存，这次刷卡没有记录：请再刷一次；如果反复出现，请通知信息老师",
            "message_en": "Not saved: this tap was not recorded. Tap again; if this repeats, "
            "tell the IT teacher",
            "detail": str(error),
            "alert": "alert",
            "subject": None,
        }
        if isinstance(error, WriterStopped):  # every screen: nothing is recorded anywhere
            now = self.clock.now().isoformat()
            message.update(
                code="writer_dead",
                message="系统故障，这次刷卡没有记录：请重新刷卡（服务正在自动重启）；"
                "如果一分钟后仍然这样，请通知信息老师",
                message_en="The tap writer stopped, this tap was not recorded: tap again "
                "(the service restarts by itself); if this lasts a minute, tell the IT teacher",
            )
            for station in sorted(self.roster.stations):
                self.broadcast.publish({**message, "station": station, "at": now}, station=station)
            self.broadcast.publish({**message, "station": self.ledger.node_id, "at": now})
            return
        for station in sorted({tap.station for tap in taps}):
            at = max(tap.at for tap in taps if tap.station == station)
            self.broadcast.publish({**message, "station": station, "at": at.isoformat()},
                                   station=station)  # fmt: skip
            self.broadcast.publish({**message, "station": station, "at": at.isoformat()})

    def _call_forward(self, result: TapResult) -> None:
        """Tell the classroom of each child a guardian came for: "家长已到".

        Judged on this node's own picture (the tapping kiosk may not have known where
        the child was), for the classroom stations of the child's group.
        """
        event, roster = result.event, result.roster
        guardian = roster.guardians.get(event.subject_id or "")
        pickup = roster.stations.get(event.station)
        with self.projection.lock:
            state = self.projection.day(event.day)
            for child in event.data.get("students", []):
                sid = child.get("student_id")
                presence = state.students.get(sid)
                student = roster.students.get(sid)
                if presence is None or presence.state != PRESENT or student is None:
                    continue
                for station in roster.stations.values():
                    if station.role != "classroom" or station.group_id != presence.group_id:
                        continue
                    self.broadcast.publish(
                        {
                            "type": "called",
                            "student_id": sid,
                            "name": student.name,
                            "class": student.class_name,
                            "photo": f"/photos/{student.photo}" if student.photo else None,
                            "guardian": guardian.name if guardian else None,
                            "pickup_station": pickup.name if pickup else event.station,
                            "at": event.at.astimezone(roster.calendar.tz).isoformat(),
                            "event_id": event.event_id,
                        },
                        station=station.station_id,
                    )

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

        Wrong codes are bounded per caller and per campus by the sign-in route
        (edge.http.app); they never void another staff member's valid code.
        """
        held = self.signin_codes.pop(code, None)
        if held is None or held[1] < time.monotonic():
            return None
        return held[0]

    def _escalate_late_pickups(self) -> None:
        # One node decides for the campus: the hub, or a kiosk that runs alone. A kiosk
        # that syncs leaves it to its hub (its dashboard still shows the stages).
        while not self._stopping.wait(self.ESCALATE_EVERY):
            try:
                self.writer.escalate().result(timeout=30)
            except Exception:
                log.exception("late pickups could not be passed to the gate guard")

    def stop(self) -> None:
        """Stop sync and the readers, then let the writer finish what is queued."""
        self._stopping.set()
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
