"""The tap pipeline: one writer thread decides, commits, applies, then acknowledges.

Every tap from every reader goes through ``TapWriter.submit``. The writer thread owns
the ledger's write connection, the HLC and the sequence counter. It takes the taps
queued since its last commit as one batch and, inside one transaction, decides each
on the live picture, inserts its event and applies it to the projection; then it
commits (WAL, synchronous=FULL). Only after COMMIT has returned are the submitters'
futures resolved and listeners told, so a green screen or a beep always stands for a
durable event. If the commit fails (disk full, read-only storage) nothing is
acknowledged, the projection drops what it applied and refolds from the ledger, and
every submitter gets a StorageError.

Every write, a batch of taps or a staff action, correction, escalation or ingest, goes
through ``_write``: one transaction under the projection's lock, and on any failure
(COMMIT included) the chain's tail (seq, head, HLC) is put back where it was, so the
next event follows the last stored one with no gap. Every event is made by the one
factory, ``events.Tail.next``.

Local events always sort after everything already in the ledger, because the HLC
starts from the ledger's highest stamp and takes in every event stored since (synced,
or appended by the CLI, staff actions included); so the projection applies them in place.

The writer thread outlives a bad item: a tap the rules cannot decide is refused alone
(TapError), a failing write fails its own submitters. If the thread ends anyway, every
waiting and later submitter gets ``WriterStopped`` at once, and ``dead`` says why
(/healthz, doctor and the screens show it; the watchdog goes unfed and systemd restarts
the service).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import functools
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from edge.clock import (
    AHEAD,
    COUNTER_BITS,
    Clock,
    Reading,
    ceiling,
    clock_synchronized,
    reading,
    to_millis,
)
from edge.errors import CampusEdgeError, StorageError, TapError
from edge.projection import Projection, late_stage
from edge.school import cards, messages, passes
from edge.school.events import (
    ACCEPTED,
    CORRECTABLE,
    CORRECTED,
    CUSTODY_TAKEN,
    SELECT_COLUMNS,
    Decision,
    Event,
    Tail,
    Tap,
    action,
    check_chains,
)
from edge.school.pickup import ManualRelease
from edge.school.roster import Roster
from edge.school.rules import Timing, decide
from edge.store.ledger import Ledger, transaction
from edge.sync import schema

log = logging.getLogger(__name__)
Listener = Callable[[list["TapResult"]], None]
_BATCH = 256
_STOP = object()
T = TypeVar("T")


class WriterStopped(StorageError):
    """The tap writer thread has ended: nothing is recorded until the service restarts."""


class ChainBroken(CampusEdgeError):
    """A synced batch that cannot be stored: changed content, a broken or forked chain."""

    def __init__(self, problems: list[str]) -> None:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        super().__init__("; ".join(problems[:5]) + more)
        self.problems = problems


@dataclass(frozen=True)
class Ingested:
    """What an ingest stored: new events, duplicates skipped, each chain's stored head."""

    stored: list[Event]
    duplicates: int
    heads: dict[tuple[str, str], int]


@dataclass
class _Job:
    """Work other than taps that must run on the writer's connection."""

    run: Callable[[sqlite3.Connection], Any]
    future: concurrent.futures.Future[Any]
    in_transaction: bool = True


@dataclass(frozen=True)
class TapResult:
    """A committed event and the roster in force: a local tap, or one that synced in."""

    event: Event
    roster: Roster
    synced: bool = False  # arrived from another node through sync

    def to_json(self, lang: str = "zh") -> dict[str, Any]:
        """Return the answer of CONTRACT.md's simulation endpoint (and the kiosk's).

        A copy of one answer rendered once per tap (the HTTP answer and every live
        stream share it); ``lang="en"`` puts the English sentence in ``message``.
        """
        answer = dict(self._answer)
        if lang == "en":
            answer["message"] = answer["message_en"]
        return answer

    @functools.cached_property
    def _answer(self) -> dict[str, Any]:
        e = self.event
        data = {**e.data, "station_id": e.station}
        if e.subject_kind:
            data[f"{e.subject_kind}_id"] = e.subject_id
        data.setdefault("card", e.uid)
        answer: dict[str, Any] = {
            "outcome": e.outcome,
            "event_id": e.event_id,
            "kind": e.kind,
            "code": e.code,
            "message": messages.render(e.code, self.roster, data, lang="zh"),
            "message_en": messages.render(e.code, self.roster, data, lang="en"),
            "station": e.station,
            "at": e.at.astimezone(self.roster.calendar.tz).isoformat(),
            "subject": self._subject(),
        }
        if "alert" in e.data:
            answer["alert"] = e.data["alert"]
        if "warning" in e.data:
            answer["warning"] = e.data["warning"]
        if "plan_notes" in e.data:
            answer["plan_notes"] = e.data["plan_notes"]
            answer["plan"] = e.data["plan"]
        if "missing" in e.data:
            answer["missing"] = [self._student(s) for s in e.data["missing"]]
            answer["head_count"] = e.data["head_count"]
            answer["expected"] = e.data["expected"]
        if "students" in e.data:
            answer["students"] = [
                {
                    **self._student(c["student_id"]),
                    "state": c["state"],
                    "group_id": c["group_id"],
                    "group_name": self._group_name(c["group_id"]),
                    "plan": c.get("plan"),
                }
                for c in e.data["students"]
            ]
        return answer

    def _subject(self) -> dict[str, Any] | None:
        e = self.event
        if e.subject_kind is None or e.subject_id is None:
            return None
        tables: dict[str, dict[str, Any]] = {
            "student": self.roster.students,
            "guardian": self.roster.guardians,
            "staff": self.roster.staff,
        }
        person = tables.get(e.subject_kind, {}).get(e.subject_id)
        subject = {
            "kind": e.subject_kind,
            "id": e.subject_id,
            "name": person.name if person else e.data.get("delegate_name"),
        }
        if e.subject_kind == "student" and person is not None:
            subject["class"] = person.class_name
            subject["grade"] = person.grade
        photo = getattr(person, "photo", None)
        if photo:
            subject["photo"] = f"/photos/{photo}"
        return subject

    def _group_name(self, group_id: str | None) -> str | None:
        group = self.roster.groups.get(group_id or "")
        return group.name if group else None

    def _student(self, student_id: str) -> dict[str, Any]:
        student = self.roster.students.get(student_id)
        return {
            "student_id": student_id,
            "name": student.name if student else None,
            "class": student.class_name if student else None,
            "photo": f"/photos/{student.photo}" if student and student.photo else None,
        }


class TapWriter:
    """Serializes every tap through one thread that owns the ledger's write side."""

    def __init__(
        self,
        ledger: Ledger,
        projection: Projection,
        clock: Clock,
        timing: Timing | None = None,
        roster: Roster | None = None,
        check_clock: Callable[[], bool] = clock_synchronized,
        pass_publics: Callable[[], list[str]] = list,
    ) -> None:
        self.ledger = ledger
        self.projection = projection
        self.clock = clock
        self.timing = timing or Timing()
        self.roster = roster or ledger.load_roster()
        self._check_clock = check_clock
        self.clock_synced = True
        self._clock_checked = 0.0
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._listeners: list[Listener] = []
        self._fault_listeners: list[Callable[[list[Tap], StorageError], None]] = []
        self._ready = threading.Event()
        self.commits = 0
        self.failures = 0
        self._tail = Tail(ledger.node_id, ledger.epoch)
        self._stopped: str | None = None  # why the thread ended, if it did
        self._stopping = False
        # Manual releases asked on a pickup screen, by station, waiting for a staff card.
        # Set and read under the projection's lock.
        self.pending: dict[str, ManualRelease] = {}
        self.pass_publics = pass_publics  # the keys passes may be signed with

    # -- the submitter's side ---------------------------------------------------

    def make_tap(
        self, station: str, uid: str, at: dt.datetime | None = None, form: cards.Form = "auto"
    ) -> Tap:
        """Check a raw read and return the Tap to decide; TapError if it cannot be taken."""
        roster = self.roster
        if station not in roster.stations:
            raise TapError(f"station '{station}' is not in the roster (stations.csv)", 404)
        mono = None
        if at is None:
            at, mono = self.clock.now(), reading(self.clock)
        elif at.tzinfo is None:
            at = at.replace(tzinfo=roster.calendar.tz)
        check_moment(at, "at")
        if uid.strip().upper().startswith(passes.PREFIX):
            # A pass from a QR scanner: checked here, against the keys this node knows.
            try:
                payload = passes.verify(uid, self.pass_publics())
            except ValueError as err:
                return Tap(station, passes.CARD_PREFIX + "?", "", at, {"error": str(err)}, mono)
            pass_id = str(payload.get("id", ""))[:40]
            return Tap(station, passes.CARD_PREFIX + pass_id, pass_id, at, payload, mono)
        try:
            card = cards.normalize(uid, byte_order=_byte_order(roster), form=form)
        except cards.CardNumberError as err:
            raise TapError(f"uid: {err}") from err
        return Tap(station=station, card=card, uid=uid, at=at, mono=mono)

    def submit_nowait(self, tap: Tap) -> concurrent.futures.Future[TapResult]:
        """Queue a tap; the future resolves once its event is committed."""
        self._check_running()
        future: concurrent.futures.Future[TapResult] = concurrent.futures.Future()
        self._queue.put((tap, future))
        if self._stopped is not None:  # it ended while this was queued: answer it now
            self._fail_queued()
        return future

    async def submit(self, tap: Tap) -> TapResult:
        """Queue a tap and wait until its event is committed."""
        return await asyncio.wrap_future(self.submit_nowait(tap))

    def call(
        self, run: Callable[[sqlite3.Connection], Any], *, in_transaction: bool = True
    ) -> concurrent.futures.Future[Any]:
        """Run ``run(conn)`` on the writer thread inside one transaction; return its future.

        For the other writes of a node (sync cursors, the quarantine), so the ledger
        keeps one writer. ``in_transaction=False`` runs it bare (a PRAGMA that a
        transaction would refuse).
        """
        self._check_running()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.put(_Job(run, future, in_transaction))
        if self._stopped is not None:
            self._fail_queued()
        return future

    @property
    def dead(self) -> str | None:
        """Return why the writer thread ended unasked (a sentence), or None while it runs."""
        if self._stopped is None and self._thread is not None and not self._thread.is_alive():
            if self._ready.is_set() and not self._stopping:
                return _stopped_sentence("the thread ended")
        return self._stopped

    def _check_running(self) -> None:
        dead = self.dead
        if dead is not None:
            raise WriterStopped(dead)
        if self._thread is None or not self._thread.is_alive():
            raise StorageError("the tap writer is not running")

    def ingest(
        self, events: list[Event], meta: dict[str, str] | None = None
    ) -> concurrent.futures.Future[Ingested]:
        """Store events made on other nodes (sync), each chain only in order; see _ingest.

        ``meta`` (a sync cursor) is written in the same transaction, so a cursor never
        runs ahead of the events it covers. The future resolves after COMMIT.
        """
        return self.call(functools.partial(self._ingest, events=events, meta=meta))

    def on_fault(self, listener: Callable[[list[Tap], StorageError], None]) -> None:
        """Call ``listener`` with the taps of a batch whose commit failed (none acked)."""
        self._fault_listeners.append(listener)

    def listen(self, listener: Listener) -> None:
        """Call ``listener`` on the writer thread with each committed batch."""
        self._listeners.append(listener)

    # -- the writer thread --------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread; return once it is ready to take taps."""
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="tap-writer", daemon=True)
        self._thread.start()
        self._ready.wait(timeout=30)

    def stop(self) -> None:
        """Finish the queued taps and stop the writer thread."""
        self._stopping = True
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout=30)

    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = self.ledger.writer()
            # the chain and the clock, owned by this thread
            self._tail = self.ledger.tail(conn, self.clock.now())
            data_version = conn.execute("PRAGMA data_version").fetchone()[0]
            self._ready.set()
            self._loop(conn, data_version)
        except BaseException as err:  # noqa: BLE001 - whatever ends it, every submitter hears
            log.critical("the tap writer stopped: %r; taps are refused until a restart", err,
                         exc_info=isinstance(err, Exception))  # fmt: skip
            self._stopped = _stopped_sentence(f"{type(err).__name__}: {err}")
            self._ready.set()
            self._fail_queued()
            for fault_listener in self._fault_listeners:
                try:
                    fault_listener([], WriterStopped(self._stopped))
                except Exception:
                    log.exception("a fault listener failed")
        finally:
            if conn is not None:
                conn.close()

    def _loop(self, conn: sqlite3.Connection, data_version: int) -> None:
        pending: Any = None
        while True:
            if pending is None:
                try:
                    item = self._queue.get(timeout=1.0)
                except queue.Empty:
                    data_version = self._refresh(conn, data_version)
                    continue
            else:
                item, pending = pending, None
            if item is _STOP:
                return
            data_version = self._refresh(conn, data_version)
            if isinstance(item, _Job):
                self._run_job(conn, item)
                continue
            batch = [item]
            while len(batch) < _BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP or isinstance(more, _Job):
                    pending = more
                    break
                batch.append(more)
            self._commit(conn, batch)

    def _fail_queued(self) -> None:
        """Answer everything still queued with why the writer stopped."""
        failure = WriterStopped(self._stopped or _stopped_sentence("it stopped"))
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Job):
                _settle(item.future, error=failure)
            elif item is not _STOP:
                _settle(item[1], error=failure)

    def _write(
        self, conn: sqlite3.Connection, work: Callable[[sqlite3.Connection], T],
        in_transaction: bool = True,
    ) -> T:  # fmt: skip
        """Run ``work`` as one write: the one commit path of every kind of event.

        Inside one immediate transaction (after taking in what the CLI appended), under
        the projection's lock. On any failure, COMMIT included, the transaction is rolled
        back, the chain's tail (seq, head, HLC) goes back to where it stood and the
        projection refolds from the ledger; the error propagates.
        """
        mark = self._tail.mark()
        with self.projection.lock:
            try:
                if not in_transaction:
                    return work(conn)
                with transaction(conn):
                    self._catch_up(conn)
                    return work(conn)
            except BaseException:
                self._tail.reset(mark)
                self.projection.forget()  # it may have applied what was rolled back
                raise

    def _run_job(self, conn: sqlite3.Connection, job: _Job) -> None:
        try:
            outcome = self._write(conn, job.run, job.in_transaction)
        except Exception as err:
            if isinstance(err, sqlite3.DatabaseError):
                self.failures += 1
                log.exception("a write on the ledger failed")
                err = StorageError(f"the ledger could not be written ({err})")
            elif not isinstance(err, CampusEdgeError):
                log.exception("a write on the ledger failed")
            _settle(job.future, error=err)
            return
        _settle(job.future, outcome)
        if isinstance(outcome, Ingested) and outcome.stored:
            results = [TapResult(e, self.roster, synced=True) for e in outcome.stored]
            self._tell(results)

    def _tell(self, results: list[TapResult]) -> None:
        for listener in self._listeners:
            try:
                listener(results)
            except Exception:
                log.exception("a tap listener failed")

    def _ingest(
        self, conn: sqlite3.Connection, events: list[Event], meta: dict[str, str] | None
    ) -> Ingested:
        """Store other nodes' events, in the caller's transaction, on the writer thread.

        Each (node, epoch) chain is stored only in order: an event must carry the next
        seq and name the hash of the one before it. One already held is a duplicate if
        its hash matches, a fork if not. An event beyond a gap waits (it is not stored;
        the sender learns from the heads where to resume). Changed content or a fork
        refuses the whole batch (ChainBroken), storing nothing.
        """

        def head_of(chain: tuple[str, str]) -> tuple[int, str]:
            row = conn.execute(
                "SELECT seq, hash FROM events WHERE node_id = ? AND epoch = ? "
                "ORDER BY seq DESC LIMIT 1",
                chain,
            ).fetchone()
            return (int(row[0]), str(row[1])) if row else (0, "")

        def held_hash(event: Event) -> str | None:
            row = conn.execute("SELECT hash FROM events WHERE id = ?", (event.event_id,))
            held = row.fetchone()
            return str(held[0]) if held else None

        check = check_chains(events, head_of, held_hash)
        if check.gaps and meta:  # a pulled page moves a cursor past them: none may wait
            check.problems.append(f"{check.gaps} events arrived before the events they follow")
        if check.problems:
            raise ChainBroken(check.problems)
        stored = check.stored
        self.ledger.insert_events(conn, stored)
        for key, value in (meta or {}).items():
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
        upto = ceiling(self.clock.now())
        for event in sorted(stored, key=lambda e: e.key):
            self.projection.add(event)
            self._tail.receive(event, upto)  # every event, actions too: what follows sorts after
        return Ingested(stored, check.duplicates, {c: h[0] for c, h in check.heads.items()})

    def _refresh(self, conn: sqlite3.Connection, data_version: int) -> int:
        # Another process (``campus-edge roster import``) may have swapped the roster in;
        # data_version changes whenever another connection commits. A failure here is
        # logged and looked at again before the next item; it never ends the thread.
        try:
            now = time.monotonic()
            if now - self._clock_checked > 60:
                self._clock_checked = now
                self.clock_synced = self._check_clock()
            current = int(conn.execute("PRAGMA data_version").fetchone()[0])
            if current != data_version and self.ledger.roster_version(conn) != self.roster.version:
                self.roster = self.ledger.load_roster()
                log.info("roster version %s now in force", self.roster.version)
        except Exception:
            log.exception("could not look for a new roster; the one in force stays")
            return data_version
        return current

    def _commit(self, conn: sqlite3.Connection, batch: list[Any]) -> None:
        roster = self.roster
        refused: list[tuple[concurrent.futures.Future[TapResult], TapError]] = []

        signed: dict[str, ManualRelease] = {}  # manual releases signed in this batch

        def record(conn: sqlite3.Connection) -> list[tuple[Any, TapResult]]:
            results: list[tuple[Any, TapResult]] = []
            refused.clear()
            signed.clear()
            for tap, future in batch:
                try:
                    decision = self._decide(tap, roster, signed)
                    event = self._append(
                        conn, tap.at, None, tap.station, decision, tap.card, tap.uid,
                        mono=tap.mono,
                    )  # fmt: skip
                except TapError as err:  # this tap alone: the others go on
                    refused.append((future, err))
                    continue
                results.append((future, TapResult(event, roster)))
            return results

        try:
            results = self._write(conn, record)
        except Exception as err:
            self.failures += 1
            log.exception("commit of %d taps failed; none acknowledged", len(batch))
            failure = StorageError(
                f"the tap could not be saved ({err}); it was not recorded: tap again, "
                "and tell the IT teacher if this repeats"
            )
            failed = {id(f) for f, _ in refused}
            for tap_error_future, tap_error in refused:
                _settle(tap_error_future, error=tap_error)
            for _, future in batch:
                if id(future) not in failed:
                    _settle(future, error=failure)
            for fault_listener in self._fault_listeners:
                try:
                    fault_listener([tap for tap, _ in batch], failure)
                except Exception:
                    log.exception("a fault listener failed")
            return
        self.commits += 1
        with self.projection.lock:  # a signed request is done once its event is durable
            for station, asked in signed.items():
                if self.pending.get(station) is asked:
                    del self.pending[station]
        for future, tap_error in refused:
            _settle(future, error=tap_error)
        for future, result in results:
            _settle(future, result)
        if results:
            self._tell([r for _, r in results])

    def _decide(
        self, tap: Tap, roster: Roster, signed: dict[str, ManualRelease] | None = None
    ) -> Decision:
        """Decide one tap on the live picture; TapError if this tap alone cannot be.

        ``signed`` collects the manual releases this batch signs (by station): they are
        dropped from ``pending`` only after COMMIT, and no later tap signs one again.
        """
        if tap.station not in roster.stations:
            raise TapError(
                f"station '{tap.station}' is not in the roster (stations.csv) any more: a "
                "roster import removed it while this tap waited; it was not recorded",
                404,
            )
        state = self.projection.day(roster.calendar.day_of(tap.at))
        book = self.projection.book
        signed = {} if signed is None else signed
        asked = None if tap.station in signed else self.pending.get(tap.station)
        try:
            decision = decide(
                tap, roster, state, self.timing, book, asked, clock_trusted=self.clock_synced
            )
        except (sqlite3.Error, CampusEdgeError):
            raise
        except Exception as err:
            log.exception("a tap at %s could not be decided", tap.station)
            raise TapError(
                f"this tap at station '{tap.station}' could not be decided ({err!r}); it was "
                "not recorded: tap again, and tell the IT teacher if this repeats",
                409,
            ) from err
        if asked is not None and decision.data.get("manual"):
            signed[tap.station] = asked  # signed: done either way, once committed
        return decision

    def _catch_up(self, conn: sqlite3.Connection) -> bool:
        """Take in this node's events another process appended (CLI actions); True if any.

        Called inside the write transaction, so nothing can slip in after the check.
        """
        row = conn.execute(
            "SELECT seq, hash, hlc FROM events WHERE node_id = ? AND epoch = ? "
            "ORDER BY seq DESC LIMIT 1",
            (self.ledger.node_id, self.ledger.epoch),
        ).fetchone()
        if row is None or int(row[0]) < self._tail.seq:
            return False
        self._tail.seq, self._tail.head = int(row[0]) + 1, str(row[1])
        self._tail.hlc.receive(int(row[2]))  # our own stamp: it always counts
        return True

    def record_action(
        self,
        code: str,
        data: dict[str, Any],
        subject_id: str | None = None,
        station: str = "api",
        *,
        proof: Callable[[Event], Event] | None = None,
    ) -> concurrent.futures.Future[Event]:
        """Append a staff action to the ledger (resolved after COMMIT); see events.ACTION.

        ``proof`` signs the event for the staff member who made it (edge.sync.proof).
        """

        def append(conn: sqlite3.Connection) -> Event:
            now = self.clock.now()
            # A pickup action goes into the book at once.
            return self._append(
                conn, now, None, station, action(code, data, subject_id), proof=proof
            )

        return self.call(append)

    def escalate(self) -> concurrent.futures.Future[list[TapResult]]:
        """Pass children still here ``late_custody`` after the service end to the gate guard.

        One custody event per group that still holds children and is not the guard's
        already, recorded like any handover (head count, previous custodian), by the
        school's ``late_custodian``, else the staff member last on duty at a pickup
        point today, else the roster's first guard. Safe to call as often as wanted.
        """

        def append(conn: sqlite3.Connection) -> list[TapResult]:
            roster = self.roster
            now = self.clock.now()
            day = roster.calendar.day_of(now)
            end = roster.calendar.service_end_at(day)
            if late_stage(roster.calendar, end, now) < 3:
                return []
            state = self.projection.day(day)
            guard = _late_custodian(roster, state)
            if guard is None:
                log.warning("no guard in the roster to take late children; none passed on")
                return []
            made = []
            for group_id in sorted({p.group_id for p in state.students.values()
                                    if p.state == "present" and p.group_id}):  # fmt: skip
                held = state.custodians.get(group_id)
                if held is not None and held[0] == guard:
                    continue
                present = sorted(state.present_in(group_id))
                data = {
                    "group_id": group_id, "head_count": len(present), "present": present,
                    "expected": len(present), "missing": [], "on_leave": [],
                    "previous_custodian": held[0] if held else None, "escalated": True,
                    "minutes_after_end": int((now - end).total_seconds() // 60),
                }  # fmt: skip
                decision = Decision(ACCEPTED, CUSTODY_TAKEN, "late_custody", "staff", guard, data)
                event = self._append(conn, now, day, "system", decision)  # no card: the clock
                made.append(TapResult(event, roster))
            return made

        future = self.call(append)
        future.add_done_callback(self._tell_listeners)
        return future

    def _tell_listeners(self, future: concurrent.futures.Future[list[TapResult]]) -> None:
        if future.cancelled() or future.exception() is not None or not future.result():
            return
        self._tell(future.result())

    def correct(
        self,
        event_id: str,
        staff_id: str,
        reason: str,
        *,
        proof: Callable[[Event], Event] | None = None,
    ) -> concurrent.futures.Future[Event]:
        """Undo a wrong sign-in or release of today by a new event naming it (see CORRECTED).

        Checked on the writer thread against the ledger: the event must exist, be a
        sign-in, release or walk home of today (school time), and not be corrected yet.
        """

        def append(conn: sqlite3.Connection) -> Event:
            roster = self.roster
            row = conn.execute(
                f"SELECT {SELECT_COLUMNS} FROM events WHERE id = ?",  # noqa: S608 - constants
                (event_id,),
            ).fetchone()
            if row is None:
                raise TapError(f"there is no record '{event_id}'", 404)
            wrong = Event.from_row(tuple(row))
            now = self.clock.now()
            if wrong.kind not in CORRECTABLE:
                raise TapError(
                    f"record '{event_id}' is a {wrong.kind}: only a sign-in, a release or a "
                    "walk home can be corrected"
                )
            if wrong.day != roster.calendar.day_of(now):
                raise TapError(
                    f"record '{event_id}' is of {wrong.day}: corrections are made the same day; "
                    "for an older record, write to the duty leader"
                )
            done = conn.execute(
                "SELECT id FROM events WHERE kind = ? AND json_extract(data, '$.corrects') = ?",
                (CORRECTED, event_id),
            ).fetchone()
            if done is not None:
                raise TapError(f"record '{event_id}' was already corrected by {done[0]}", 409)
            data = {"corrects": event_id, "reason": reason, "corrected_kind": wrong.kind,
                    "student_id": wrong.subject_id}  # fmt: skip
            decision = Decision(ACCEPTED, CORRECTED, "corrected", "staff", staff_id, data)
            return self._append(conn, now, wrong.day, wrong.station, decision, proof=proof)

        return self.call(append)

    def _append(
        self, conn: sqlite3.Connection, at: dt.datetime, day: dt.date | None, station: str,
        decision: Decision, card: str | None = None, uid: str | None = None, *,
        mono: Reading | None = None, proof: Callable[[Event], Event] | None = None,
    ) -> Event:  # fmt: skip
        """Make this node's next event (events.Tail), insert it and apply it; inside _write.

        ``mono`` is the tap's monotonic reading (the debounce measures real time by it);
        ``proof`` signs a staff action for who made it before it is chained.
        """
        roster = self.roster
        now = self.clock.now()
        # A moment more than a day past our own clock (a simulated tap's ``at``), or a
        # stamp that will run more than a day past its moment (this clock was days
        # ahead, and our own order is never undone), is not one this node's clock can
        # vouch for: it is marked so, as an untrusted clock's, which a receiver takes
        # ahead of its own clock (edge.sync.schema) without following it.
        vouched = (
            self.clock_synced and at <= now + AHEAD
            and self._tail.hlc.last < to_millis(at + AHEAD) << COUNTER_BITS
        )  # fmt: skip
        mark = self._tail.mark()
        event = self._tail.next(
            at, day or roster.calendar.day_of(at), station, decision, card=card, uid=uid,
            roster_version=roster.version, clock_synced=vouched, sign=proof,
        )  # fmt: skip
        # What this node writes, its hub must take: the receiver's schema is checked here
        # too, so no event of ours can stall our chain at the hub (edge.sync.schema).
        wrong = schema.own_problem(event, now)
        if wrong is not None:
            self._tail.reset(mark)
            log.error("refused to write %s: %s", event.event_id, wrong)
            raise TapError(
                f"this could not be recorded in a form the campus hub takes ({wrong}); "
                "nothing was saved: tell the IT teacher",
            )
        self.ledger.insert_events(conn, [event])
        self.projection.add(event, mono)
        return event


def _settle(
    future: concurrent.futures.Future[Any], result: Any = None, error: BaseException | None = None
) -> None:
    """Resolve a submitter's future, unless its submitter gave up (cancelled) meanwhile."""
    try:
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    except concurrent.futures.InvalidStateError:
        log.info("a tap's answer had no one waiting for it (%s)", error or "committed")


def _stopped_sentence(reason: str) -> str:
    return (
        f"the tap writer has stopped ({reason}): this tap was not recorded. 请重新刷卡 / tap "
        "again in a few seconds, once the service has restarted; if it does not, tell the IT "
        "teacher (journalctl -u campus-edge)"
    )


def _late_custodian(roster: Roster, state: Any) -> str | None:
    chosen = roster.calendar.late_custodian
    if chosen and chosen in roster.staff:
        return chosen
    if state.on_duty is not None:
        return str(state.on_duty[0])
    return next((s for s, m in roster.staff.items() if m.role == "guard"), None)


def _byte_order(roster: Roster) -> cards.ByteOrder:
    return "big" if roster.calendar.card_byte_order == "big" else "little"


def check_moment(moment: dt.datetime, name: str) -> None:
    """Refuse a moment outside 2000-2100 (TapError, 422): no school day lies there."""
    if not 2000 <= moment.year <= 2100:
        raise TapError(f"{name}: {moment.isoformat()} is not a moment of a school day (2000-2100)")
