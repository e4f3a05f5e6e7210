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

Every write of a running node goes through ``_write``: a batch of taps, a staff action,
correction, escalation or ingest, and the other threads' writes (a store function
handed to ``call`` or ``write``: sync cursors, notices, quarantine, a roster from the
hub). One transaction under the projection's lock; on any failure (COMMIT included)
the chain's tail (seq, head, HLC) is put back where it was, so the next event follows
the last stored one with no gap. This node's events are all appended by
``edge.store.ledger.append`` (``events.Tail.next``, the one factory, then checked).

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
import dataclasses
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

from edge.clock import AHEAD, COUNTER_BITS, Clock, Reading, ceiling, clock_synchronized, to_millis
from edge.errors import CampusEdgeError, StorageError, TapError
from edge.projection import Projection
from edge.school import cards
from edge.school.events import Decision, Event, Tail, Tap, action
from edge.school.pickup import ManualRelease
from edge.school.roster import Roster
from edge.school.rules import Timing, decide
from edge.store import db
from edge.store import events as rows
from edge.store.ledger import Ledger, append
from edge.writer.answer import TapResult
from edge.writer.correction import correction
from edge.writer.ingest import Ingested, store_synced
from edge.writer.late import escalations
from edge.writer.tap import read_tap

log = logging.getLogger(__name__)
Listener = Callable[[list["TapResult"]], None]
_BATCH = 256
_STOP = object()
T = TypeVar("T")


class WriterStopped(StorageError):
    """The tap writer thread has ended: nothing is recorded until the service restarts."""


@dataclass
class _Job:
    """Work other than taps that must run on the writer's connection."""

    run: Callable[[sqlite3.Connection], Any]
    future: concurrent.futures.Future[Any]
    in_transaction: bool = True


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
        self.first_seq = 1  # the seq of this process's first event (set once it runs)
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
        return read_tap(self.roster, self.clock, self.pass_publics, station, uid, at, form)

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

        For the other writes of a node (a store function: sync cursors, the quarantine,
        a roster), so the ledger keeps one writer. ``in_transaction=False`` runs it
        bare (a PRAGMA that a transaction would refuse, sqlite-utils' bulk loading).
        """
        self._check_running()
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        self._queue.put(_Job(run, future, in_transaction))
        if self._stopped is not None:
            self._fail_queued()
        return future

    def write(
        self, work: Callable[[sqlite3.Connection], T], *, in_transaction: bool = True,
        timeout: float = 60.0,
    ) -> T:  # fmt: skip
        """Run ``work(conn)`` on the writer thread (see ``call``) and return its outcome.

        The write path (edge.store.db.Writes) of a running node's other threads: sync,
        notices, the sync store. Not from the writer thread itself (a listener): it
        would wait for itself.
        """
        if threading.current_thread() is self._thread:
            raise StorageError("a write from the writer thread would wait for itself")
        outcome: T = self.call(work, in_transaction=in_transaction).result(timeout=timeout)
        return outcome

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
        """Call ``listener`` on the writer thread after each write, with the events it made.

        After every write that committed (an empty list for a write that made no tap).
        """
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
            self.first_seq = self._tail.seq  # what this process writes starts here
            data_version = db.data_version(conn)
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
                # It may have swapped a roster in on this very connection.
                data_version = self._refresh(conn, data_version, roster_changed=True)
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
                with db.transaction(conn):
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
                err = StorageError(f"this could not be saved ({err}); nothing was recorded: "
                                   "try again; if this repeats, tell the IT teacher")  # fmt: skip
            elif not isinstance(err, CampusEdgeError):
                log.exception("a write on the ledger failed")
            _settle(job.future, error=err)
            return
        _settle(job.future, outcome)
        synced = outcome.stored if isinstance(outcome, Ingested) else []
        self._tell([TapResult(e, self.roster, synced=True) for e in synced])  # [] too: a write

    def _tell(self, results: list[TapResult]) -> None:
        for listener in self._listeners:
            try:
                listener(results)
            except Exception:
                log.exception("a tap listener failed")

    def _ingest(
        self, conn: sqlite3.Connection, events: list[Event], meta: dict[str, str] | None
    ) -> Ingested:
        """Store other nodes' events (ingest.store_synced) and apply them; on the writer."""
        ingested = store_synced(conn, events, meta)
        upto = ceiling(self.clock.now())
        for event in sorted(ingested.stored, key=lambda e: e.key):
            self.projection.add(event)
            self._tail.receive(event, upto)  # every event, actions too: what follows sorts after
        return ingested

    def _refresh(
        self, conn: sqlite3.Connection, data_version: int, roster_changed: bool = False
    ) -> int:
        """Look at the clock's trust now and then, and take in a new roster; see below.

        Another process (``campus-edge roster import``) may have swapped the roster in;
        data_version changes whenever another connection commits (``roster_changed``:
        this one may have). A failure here is logged and looked at again before the
        next item; it never ends the thread.
        """
        try:
            now = time.monotonic()
            if now - self._clock_checked > 60:
                self._clock_checked = now
                self.clock_synced = self._check_clock()
            current = db.data_version(conn)
            changed = roster_changed or current != data_version
            if changed and self.ledger.roster_version(conn) != self.roster.version:
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
        last = rows.head(conn, (self.ledger.node_id, self.ledger.epoch))
        if last is None or last.seq < self._tail.seq:
            return False
        self._tail.seq, self._tail.head = last.seq + 1, last.hash
        self._tail.hlc.receive(last.hlc)  # our own stamp: it always counts
        return True

    def record_action(
        self,
        code: str,
        data: dict[str, Any],
        subject_id: str | None = None,
        station: str = "api",
        *,
        proof: Callable[[Event], Event] | None = None,
        decision: Decision | None = None,
        at: dt.datetime | None = None,
    ) -> concurrent.futures.Future[Event]:
        """Append a staff action to the ledger (resolved after COMMIT); see events.ACTION.

        ``proof`` signs the event for the staff member who made it (edge.school.proof);
        ``decision`` records another kind instead (a phone's patrol visit), made ``at``.
        """

        def append(conn: sqlite3.Connection) -> Event:
            made = decision or action(code, data, subject_id)  # a pickup action: the book
            return self._append(conn, at or self.clock.now(), None, station, made, proof=proof)

        return self.call(append)

    def escalate(self) -> concurrent.futures.Future[list[TapResult]]:
        """Pass children still here ``late_custody`` after the service end to the gate guard.

        The custody events edge.writer.late.escalations decides, recorded like any
        handover. Safe to call as often as wanted.
        """

        def append(conn: sqlite3.Connection) -> list[TapResult]:
            roster, now = self.roster, self.clock.now()
            day = roster.calendar.day_of(now)
            return [
                TapResult(self._append(conn, now, day, "system", decision), roster)  # no card
                for decision in escalations(roster, self.projection.day, now)
            ]

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

        Checked on the writer thread against the ledger (edge.writer.correction).
        """

        def append(conn: sqlite3.Connection) -> Event:
            now = self.clock.now()
            today = self.roster.calendar.day_of(now)
            wrong, decision = correction(conn, event_id, staff_id, reason, today)
            return self._append(conn, now, wrong.day, wrong.station, decision, proof=proof)

        return self.call(append)

    def _append(
        self, conn: sqlite3.Connection, at: dt.datetime, day: dt.date | None, station: str,
        decision: Decision, card: str | None = None, uid: str | None = None, *,
        mono: Reading | None = None, proof: Callable[[Event], Event] | None = None,
    ) -> Event:  # fmt: skip
        """Make this node's next event (store.ledger.append) and apply it; inside _write.

        ``mono`` is the tap's monotonic reading (the debounce measures real time by it);
        ``proof`` signs a staff action for who made it before it is chained.
        """
        roster = self.roster
        now = self.clock.now()
        # A moment more than a day past our own clock (a simulated tap's ``at``), or a
        # stamp that will run more than a day past its moment (this clock was days
        # ahead, and our own order is never undone), is not one this node's clock can
        # vouch for: it is marked so, as an untrusted clock's, which a receiver takes
        # ahead of its own clock (edge.school.schema) without following it.
        vouched = (
            self.clock_synced and at <= now + AHEAD
            and self._tail.hlc.last < to_millis(at + AHEAD) << COUNTER_BITS
        )  # fmt: skip
        event = append(
            conn, self._tail, at, day or roster.calendar.day_of(at), station, decision,
            now=now, roster_version=roster.version, clock_synced=vouched, card=card, uid=uid,
            sign=proof,
        )  # fmt: skip
        rowid = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        event = dataclasses.replace(event, rowid=int(rowid))  # the cursor screens resume from
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
