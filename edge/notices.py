"""Parent notices: sign-in, release and not-collected, delivered to the school's webhook.

A school connects its WeChat or SMS gateway by giving a URL (``webhook_url``) and a
shared secret (``webhook_secret``). The node that speaks for the campus (the hub, or
a kiosk that runs alone; on the central, every campus) reads its ledger by cursor and
POSTs one JSON notice per event, in ledger order:

    POST webhook_url
    X-Campus-Edge-Notice: kiosk-3a:7f2c...:118        (the notice id: dedupe on it)
    X-Campus-Edge-Timestamp: 1795420800                (seconds; reject if far off)
    X-Campus-Edge-Signature: sha256=<hex HMAC-SHA256 of "timestamp.body" with the secret>
    {"notice_id": ..., "type": "signed_in" | "released" | "left_alone" | "not_collected",
     "campus": ..., "at": ISO-8601 school time, "student": {"student_id", "name", "class"},
     "where": station name, "group": group name or null,
     "collected_by": {"kind": "guardian" | "delegate", "name", "relation"} or null,
     "manual": true when released without a card, "service_end": ISO (not_collected)}

A notice the receiver answered 2xx is never sent again (the ``notices`` table holds
it). A 5xx, a timeout or no connection is retried with backoff (2 s doubling to 5
minutes: edge.backoff, without jitter), the same notice first: nothing later overtakes
it. A 4xx other than 408 and 429 means the receiver will never take it: it is
recorded as refused and the next one goes. If an answer is lost after the receiver
acted, the retry carries the same notice id, so a receiver that remembers ids sends
each message once.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import logging
import threading
import time
from typing import Any

import httpx
import orjson

from edge.backoff import Backoff
from edge.errors import CampusEdgeError
from edge.school import events as ev
from edge.school.events import Event
from edge.school.fold import PRESENT
from edge.school.roster import Roster
from edge.school.rules import late_stage
from edge.store import meta
from edge.writer import TapWriter

log = logging.getLogger(__name__)

KINDS = (ev.SIGNED_IN, ev.RELEASED, ev.LEFT_ALONE)
CURSOR = "notice_cursor"
BACKOFF_START, BACKOFF_MAX = 2.0, 300.0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Return the signature header's value for a body sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def payload(roster: Roster, campus: str, event: Event) -> dict[str, Any]:
    """Return the notice of a sign-in, release or walk home."""
    student = roster.students.get(event.subject_id or "")
    station = roster.stations.get(event.station)
    group_id = event.data.get("group_id") or event.data.get("from_group")
    group = roster.groups.get(group_id or "")
    collected = None
    if event.kind == ev.RELEASED:
        if event.data.get("delegate_name"):
            collected = {"kind": "delegate", "name": event.data["delegate_name"], "relation": None}
        else:
            guardian = roster.guardians.get(event.data.get("guardian_id") or "")
            collected = {"kind": "guardian", "name": guardian.name if guardian else None,
                         "relation": event.data.get("relation")}  # fmt: skip
    return {
        "notice_id": event.event_id,
        "type": event.kind,
        "campus": campus,
        "at": event.at.astimezone(roster.calendar.tz).isoformat(),
        "student": {
            "student_id": event.subject_id,
            "name": student.name if student else None,
            "class": student.class_name if student else None,
        },  # fmt: skip
        "where": station.name if station else event.station,
        "group": group.name if group else None,
        "collected_by": collected,
        "manual": bool(event.data.get("manual")),
    }


class Notifier:
    """Delivers parent notices from a node's ledger to the school's webhook, in order.

    It reads the ledger and the live picture of ``writer``, and writes (the cursor, each
    attempt) through it.
    """

    def __init__(
        self, writer: TapWriter, url: str, secret: str, client: httpx.Client | None = None
    ) -> None:
        self.writer = writer
        self.ledger = writer.ledger
        self.url = url
        self.secret = secret
        self.client = client or httpx.Client(timeout=10)
        self._retry = Backoff(BACKOFF_START, BACKOFF_MAX, jitter=0)
        self.backoff = BACKOFF_START  # seconds before the next try, after a failure
        self.delivered = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False  # the first-start cursor is in the ledger
        self._unrecorded: set[str] = set()  # taken by the receiver, not yet recorded

    @property
    def backoff_start(self) -> float:
        """Return the first wait after a failure (it doubles up to BACKOFF_MAX)."""
        return self._retry.first

    @backoff_start.setter
    def backoff_start(self, seconds: float) -> None:
        self._retry.first = seconds

    def start(self) -> None:
        """Deliver in a thread of its own until stopped, from now on at first start."""
        try:
            self._first_start()
        except CampusEdgeError as err:  # a dead writer: the node still starts, loudly
            log.error("parent notices wait for the writer: %s", err)
        self._thread = threading.Thread(target=self._run, name="notices", daemon=True)
        self._thread.start()

    def _first_start(self) -> None:
        """Start the cursor at the ledger's end the first time notices are turned on."""
        if not self._started and self.ledger.meta(CURSOR) is None:
            # A school turning notices on gets today's news, not a year of old ones.
            self._move_cursor(self.ledger.last_rowid())
        self._started = True

    def stop(self) -> None:
        """Stop after the notice in flight."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        self.client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.writer.dead is not None:
                # Nothing can be recorded: a notice sent now would be sent again.
                self._stop.wait(BACKOFF_START)
                continue
            try:
                self._first_start()
                sent = self.deliver_some()
            except Exception as err:  # the database or the gateway: try again later
                log.warning("parent notices: %s", err)
                sent = False
            if not sent:
                self._stop.wait(self.backoff if self.last_error else 1.0)

    def pending(self, limit: int = 100) -> list[dict[str, Any]]:
        """Return the notices not yet delivered or refused, oldest first."""
        cursor = int(self.ledger.meta(CURSOR) or 0)
        found = []
        for event in self.ledger.events_after(cursor, limit):
            found.append((event.rowid, event))
        notices: list[dict[str, Any]] = []
        roster, campus = self.writer.roster, self.ledger.node_id
        day_events = [e for _, e in found]
        voided = {e.data.get("corrects") for e in day_events if e.kind == ev.CORRECTED}
        for rowid, event in found:
            if (
                event.kind in KINDS
                and event.outcome == ev.ACCEPTED
                and event.subject_kind == "student"
                and event.event_id not in voided
            ):
                notices.append({"rowid": rowid, **payload(roster, campus, event)})
            else:
                notices.append({"rowid": rowid})  # nothing to send; the cursor passes it
        return notices

    def not_collected(self) -> list[dict[str, Any]]:
        """Return a notice for each child still here at the service end, once a day."""
        roster = self.writer.roster
        now = self.writer.clock.now()
        day = roster.calendar.day_of(now)
        end = roster.calendar.service_end_at(day)
        if late_stage(roster.calendar, end, now) < 1:
            return []
        with self.writer.projection.lock:
            state = self.writer.projection.day(day)
            here = [(sid, p) for sid, p in state.students.items() if p.state == PRESENT]
        notices = []
        for sid, presence in here:
            student = roster.students.get(sid)
            group = roster.groups.get(presence.group_id or "")
            notices.append({
                "notice_id": f"not_collected:{day.isoformat()}:{sid}", "type": "not_collected",
                "campus": self.ledger.node_id,
                "at": now.astimezone(roster.calendar.tz).isoformat(),
                "student": {"student_id": sid, "name": student.name if student else None,
                            "class": student.class_name if student else None},
                "where": group.room if group else None, "group": group.name if group else None,
                "collected_by": None, "manual": False,
                "service_end": end.isoformat(),
            })  # fmt: skip
        return notices

    def deliver_some(self) -> bool:
        """Send what is due, in order; True if anything moved."""
        moved = False
        for notice in self.pending():
            rowid = notice.pop("rowid")
            if "notice_id" in notice and not self._send(notice):
                return moved
            self._move_cursor(rowid)
            moved = True
        for notice in self.not_collected():
            if not self._send(notice):
                return moved
            moved = True
        return moved

    def _send(self, notice: dict[str, Any]) -> bool:
        """Send one notice unless it went before; False to retry it later."""
        notice_id = notice["notice_id"]
        done = self.ledger.notice(notice_id)
        if notice_id in self._unrecorded or (
            done is not None and (done["delivered_at"] or done["status"])
        ):
            return True  # at most once
        body = orjson.dumps(notice)
        stamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "X-Campus-Edge-Notice": notice_id,
            "X-Campus-Edge-Timestamp": str(stamp),
            "X-Campus-Edge-Signature": sign(self.secret, stamp, body),
        }
        try:
            reply = self.client.post(self.url, content=body, headers=headers)
            status: int | None = reply.status_code
            error = None if reply.is_success else f"HTTP {reply.status_code}"
        except httpx.HTTPError as err:
            status, error = None, f"{type(err).__name__}: {err}"
        if error is None:
            self._unrecorded.add(notice_id)  # taken: never sent again, recorded or not
            self._record(notice_id, dt.datetime.now(dt.UTC).isoformat(), status, None)
            self._unrecorded.discard(notice_id)
            self.delivered += 1
            self.last_error = None
            self._retry.reset()
            return True
        if status is not None and 400 <= status < 500 and status not in (408, 429):
            self._record(notice_id, None, status, error)  # it will never be taken
            log.warning("parent notice %s refused by the receiver: %s", notice_id, error)
            return True
        self._record(notice_id, None, None, error)
        self.last_error = error
        self.backoff = self._retry.next()
        return False

    def _record(
        self, notice_id: str, delivered_at: str | None, status: int | None, error: str | None
    ) -> None:
        """Record one attempt at a notice, through the node's writer."""
        self.writer.write(functools.partial(
            meta.record_notice, notice_id=notice_id, delivered_at=delivered_at, status=status,
            error=error,
        ), timeout=30)  # fmt: skip

    def _move_cursor(self, rowid: int) -> None:
        """Move the cursor past a ledger position, through the node's writer."""
        self.writer.write(functools.partial(meta.put, key=CURSOR, value=str(rowid)), timeout=30)
