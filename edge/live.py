"""Live updates for screens: committed taps fanned out to Server-Sent Event streams.

The tap writer calls ``Broadcast.publish`` on its own thread after each commit, so a
screen never shows a tap that is not durable. Each subscriber is an asyncio queue on
the event loop that serves its stream; ``publish`` hands messages over with
``call_soon_threadsafe``. A subscriber that falls 500 messages behind (a frozen
browser tab) is dropped rather than allowed to grow without bound; its browser's
EventSource reconnects and refetches the picture.

``Screens`` decides what each screen is told: a station's own taps (with a sign-in
code for a staff card), every tap to the dashboards, "家长已到" to a child's classroom,
and a fault when taps were not saved.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from edge.clock import Clock
from edge.errors import StorageError
from edge.projection import PRESENT, Change, Projection
from edge.school.events import ACTION, PICKUP_OPENED, Tap
from edge.school.roster import Roster
from edge.writer import TapResult, WriterStopped

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15.0
RECHECK_SECONDS = 5.0  # how often an open stream's token is checked again
HEARTBEAT: dict[str, Any] = {}  # a heartbeat's turn in the stream loop (by identity)
BACKLOG = 500


@dataclass(frozen=True)
class Frame:
    """An SSE event rendered once for every stream: a delta (with its cursor) or a reload."""

    data: bytes
    cursor: int = 0  # a delta's id; 0: never skipped

    @classmethod
    def of(cls, change: Change) -> Frame:
        """Return the SSE bytes of a picture's change (a delta carries its cursor as ``id``)."""
        if change.kind == "delta":
            head = b"id: " + str(change.cursor).encode() + b"\n"
            return cls(head + b"event: delta\ndata: " + change.data + b"\n\n", change.cursor)
        return cls(b"event: " + change.kind.encode() + b"\ndata: " + change.data + b"\n\n")


@dataclass(eq=False)
class Subscriber:
    """One open stream: what it wants to see, and its queue on its event loop."""

    loop: asyncio.AbstractEventLoop
    station: str | None  # None: the dashboard's stream, every station
    queue: asyncio.Queue[dict[str, Any] | Frame | None] = field(
        default_factory=lambda: asyncio.Queue(BACKLOG)
    )


class Broadcast:
    """Fans committed taps out to open streams; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[Subscriber] = set()

    def subscribe(self, station: str | None) -> Subscriber:
        """Open a stream for one station (a kiosk) or for all (the dashboard)."""
        subscriber = Subscriber(asyncio.get_running_loop(), station)
        with self._lock:
            self._subscribers.add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Close a stream."""
        with self._lock:
            self._subscribers.discard(subscriber)

    @property
    def count(self) -> int:
        """Return how many streams are open."""
        return len(self._subscribers)

    @property
    def dashboards(self) -> int:
        """Return how many dashboard streams are open."""
        with self._lock:
            return sum(1 for s in self._subscribers if s.station is None)

    def publish_frame(self, frame: Frame) -> None:
        """Send a frame rendered once (a delta, a reload) to the dashboards' streams."""
        self._send(frame, lambda s: s.station is None)

    def publish(self, message: dict[str, Any], station: str | None = None) -> None:
        """Send a message to one station's streams, or with None to the dashboards'."""
        self._send(message, lambda s: s.station == station)

    def publish_everywhere(self, message: dict[str, Any]) -> None:
        """Send a message to every open stream."""
        self._send(message, lambda s: True)

    def _send(self, message: dict[str, Any] | Frame, wanted: Callable[[Subscriber], bool]) -> None:
        with self._lock:
            targets = [s for s in self._subscribers if wanted(s)]
        if targets and isinstance(message, dict):  # rendered once, not once per stream
            message = Frame(_event(str(message.get("type", "message")), message))
        for subscriber in targets:
            try:
                subscriber.loop.call_soon_threadsafe(self._put, subscriber, message)
            except RuntimeError:  # its loop has closed
                self.unsubscribe(subscriber)

    def _put(self, subscriber: Subscriber, message: dict[str, Any] | Frame) -> None:
        try:
            subscriber.queue.put_nowait(message)
        except asyncio.QueueFull:
            log.warning("dropping a stream %d messages behind", BACKLOG)
            self.unsubscribe(subscriber)
            subscriber.queue.get_nowait()
            subscriber.queue.put_nowait(None)

    async def stream(
        self,
        subscriber: Subscriber,
        hello: dict[str, Any],
        first: Frame | None = None,
        still: Callable[[], bool] | None = None,
    ) -> AsyncIterator[bytes]:
        """Yield the SSE bytes of a subscriber's stream until it is closed.

        ``first`` follows the hello (a delta bridging a reconnect, or a reload). A delta
        queued meanwhile with a cursor at or below what was sent is skipped: what was
        sent already reflects it. ``still`` is asked at most every RECHECK_SECONDS
        (and at each heartbeat): once it says no (a revoked or expired token), the
        stream ends.
        """
        sent = int(hello.get("cursor", 0))
        checked = time.monotonic()
        try:
            yield b"retry: 1000\n" + _event("hello", hello)
            if first is not None:
                yield first.data
            while True:
                try:
                    message = await asyncio.wait_for(subscriber.queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    message = HEARTBEAT
                if still is not None and time.monotonic() - checked >= RECHECK_SECONDS:
                    checked = time.monotonic()
                    if not still():
                        return
                if message is HEARTBEAT:
                    yield b": heartbeat\n\n"
                    continue
                if message is None:
                    return
                if isinstance(message, Frame):
                    if message.cursor and message.cursor <= sent:
                        continue
                    sent = max(sent, message.cursor)
                    yield message.data
                    continue
                yield _event(str(message.get("type", "message")), message)
        finally:
            self.unsubscribe(subscriber)


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


FAULT = {
    "type": "fault",
    "outcome": "denied",
    "kind": "fault",
    "code": "not_saved",
    "message": "未能保存，这次刷卡没有记录：请再刷一次；如果反复出现，请通知信息老师",
    "message_en": "Not saved: this tap was not recorded. Tap again; if this repeats, "
    "tell the IT teacher",
    "detail": "",  # what went wrong
    "alert": "alert",
    "subject": None,
}
WRITER_DEAD = {
    "code": "writer_dead",
    "message": "系统故障，这次刷卡没有记录：请重新刷卡（服务正在自动重启）；"
    "如果一分钟后仍然这样，请通知信息老师",
    "message_en": "The tap writer stopped, this tap was not recorded: tap again "
    "(the service restarts by itself); if this lasts a minute, tell the IT teacher",
}


class Screens:
    """Routes what the writer committed (or failed to) to the screens that show it.

    ``publish`` and ``fault`` are the writer's listeners: they run on its thread,
    after COMMIT, so screens only ever show durable taps.
    """

    def __init__(
        self,
        broadcast: Broadcast,
        projection: Projection,
        clock: Clock,
        node_id: str,
        roster: Callable[[], Roster],
        signin_code: Callable[[str], str],
        write: Callable[[Callable[[Any], None]], object] = lambda work: None,
    ) -> None:
        self.broadcast = broadcast
        self._projection = projection
        self._clock = clock
        self._node_id = node_id
        self._roster = roster  # the roster in force (a roster import swaps it)
        self._signin_code = signin_code  # a one-time sign-in code for a staff member
        self._write = write  # runs a no-op on the writer's thread (its commit listeners follow)
        self._day: dt.date | None = None  # the day the dashboards' deltas are of

    def publish(self, results: list[TapResult]) -> None:
        """Show a committed batch: its station's screen, the dashboards, changed groups.

        Called after every write (an empty batch for one that made no tap); then the
        dashboards get what the write changed in the picture (``settled``).
        """
        if not self.broadcast.count:
            self._projection.forget_changes()
            return  # no screen is open: render nothing (a synced batch is 1,000 events)
        self._show(results)
        self.settled()

    def _show(self, results: list[TapResult]) -> None:
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
                    answer["signin_code"] = self._signin_code(event.subject_id or "")
                self.broadcast.publish({"type": "tap", **answer}, station=event.station)
            answer.pop("signin_code", None)
            answer.pop("students", None)
            self.broadcast.publish({"type": "tap", **answer}, station=None)
            for key in ("group_id", "from_group"):
                if event.data.get(key):
                    changed.add(event.data[key])
        if changed:
            self.broadcast.publish_everywhere({"type": "changed", "groups": sorted(changed)})

    def settled(self) -> None:
        """Send the dashboards what a commit changed in today's picture, rendered once.

        The writer's commit listener (its thread, after COMMIT): one ``delta`` with the
        changed entries, groups, counts and late pickups, or a ``reload`` (the day
        changed, the service end passed, the late stage moved, a new roster). With no
        dashboard open it only forgets what changed.
        """
        if not self.broadcast.dashboards:
            self._projection.forget_changes()
            self._day = None
            return
        roster, now = self._roster(), self._clock.now()
        day = roster.calendar.day_of(now)
        if self._day is not None and day != self._day:
            self.broadcast.publish_frame(Frame.of(Change.reload("day")))
        self._day = day
        change = self._projection.changes(roster, day, now)
        if change is not None:
            self.broadcast.publish_frame(Frame.of(change))

    def tick(self) -> None:
        """Look at the clock for the dashboards (service end, late stage, a new day).

        Run on the writer's thread (a no-op write), so every delta and reload keeps the
        order of the commits.
        """
        if self.broadcast.dashboards:
            self._write(lambda conn: None)

    def fault(self, taps: list[Tap], error: StorageError) -> None:
        """Tell the screens that taps were not saved: the person must tap again."""
        message = {**FAULT, "detail": str(error)}
        if isinstance(error, WriterStopped):  # every screen: nothing is recorded anywhere
            now = self._clock.now().isoformat()
            message.update(WRITER_DEAD)
            for station in sorted(self._roster().stations):
                self.broadcast.publish({**message, "station": station, "at": now}, station=station)
            self.broadcast.publish({**message, "station": self._node_id, "at": now})
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
        with self._projection.lock:
            state = self._projection.day(event.day)
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
