"""Wall clock (injectable) and the hybrid logical clock that orders events.

A Pi has no real-time clock: until NTP has synchronized it, its wall time may be
anything. Events therefore carry both wall time and an HLC stamp; the fold orders by
the stamp, which never goes backwards on a node even when the wall clock does.

The HLC stamp is one integer: milliseconds since the epoch shifted left 16 bits, plus
a 16-bit counter for events within the same millisecond. Not thread-safe: the ledger's
single writer thread owns it.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

# A monotonic reading: (the id of the process or clock that took it, seconds since it
# began). Two readings with the same id measure real elapsed time, whatever the wall
# clock did between them (an NTP step, a kiosk following its hub).
Reading = tuple[str, float]
BOOT = secrets.token_hex(4)  # this process
_STARTED = time.monotonic()

COUNTER_BITS = 16
_COUNTER_MASK = (1 << COUNTER_BITS) - 1
# The stamp of 2100-01-01: no school day lies beyond it (taps.check_moment), and a
# stamp taken in from beyond it would pin every later stamp there (and past SQLite's
# 64-bit INTEGER in the end). Such a stamp never moves a clock.
MAX_STAMP = int(dt.datetime(2100, 1, 1, tzinfo=dt.UTC).timestamp() * 1000) << COUNTER_BITS
# How far an event's moment may lie past a receiver's clock (edge.school.schema).
AHEAD = dt.timedelta(days=1)
# How far another node's stamp may run past this node's wall clock and still be taken
# into its HLC. Clocks on a campus agree within seconds (NTP, or a kiosk following its
# hub); a stamp further ahead came from a clock that was wrong (a Pi that booted with a
# date in the future) or from a forger: it is kept in the record but never pins this
# node's clock. A node's own stamps always count: its own order is never undone.
SKEW = dt.timedelta(minutes=15)


def ceiling(now: dt.datetime) -> int:
    """Return the highest stamp a clock reading ``now`` takes in (SKEW ahead, at most 2100)."""
    return min(MAX_STAMP, (to_millis(now + SKEW) + 1) << COUNTER_BITS)


class Clock(Protocol):
    """Something that tells the time (the system, or a test's hand)."""

    def now(self) -> dt.datetime:
        """Return the current time, timezone-aware."""
        ...


class SystemClock:
    """The machine's wall clock."""

    def now(self) -> dt.datetime:
        """Return the current UTC time."""
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> Reading:
        """Return a monotonic reading (this process, seconds since it began)."""
        return BOOT, time.monotonic() - _STARTED


class CorrectedClock:
    """A node's wall clock: another clock shifted by a correction.

    A kiosk whose clock cannot be trusted (a Pi without RTC before NTP) follows its
    hub's clock once sync has reached it (``follow``); a drill shifts it on purpose.
    """

    def __init__(self, base: Clock, offset_seconds: float = 0.0) -> None:
        self.base = base
        self.offset = dt.timedelta(seconds=offset_seconds)
        self.following = False

    def now(self) -> dt.datetime:
        """Return the corrected time."""
        return self.base.now() + self.offset

    def monotonic(self) -> Reading | None:
        """Return the base clock's monotonic reading: a correction steps the wall only."""
        return reading(self.base)

    def follow(self, reference: dt.datetime, sent: dt.datetime, received: dt.datetime) -> float:
        """Follow a reference clock read between ``sent`` and ``received`` (own times).

        Returns the step taken, in seconds. Steps under half a second are ignored, so
        the clock does not jitter with network delay.
        """
        midpoint = sent + (received - sent) / 2
        step = (reference - midpoint).total_seconds()
        self.following = True
        if abs(step) >= 0.5:
            self.offset += dt.timedelta(seconds=step)
            return step
        return 0.0


class ManualClock:
    """A clock that moves only when told to (tests, simulations, benchmarks)."""

    def __init__(self, start: dt.datetime) -> None:
        self._now = start
        self._boot = secrets.token_hex(4)
        self._elapsed = 0.0

    def now(self) -> dt.datetime:
        """Return the time as last set."""
        return self._now

    def monotonic(self) -> Reading:
        """Return a monotonic reading: time passes by as much as ``set`` and ``advance`` move."""
        return self._boot, self._elapsed

    def set(self, moment: dt.datetime) -> None:
        """Move the clock to ``moment`` (as time passing, whichever way it moves)."""
        self._elapsed += abs((moment - self._now).total_seconds())
        self._now = moment

    def advance(self, **delta: float) -> None:
        """Move the clock forward by a timedelta's keyword arguments."""
        self.set(self._now + dt.timedelta(**delta))

    def step(self, **delta: float) -> None:
        """Step the wall clock by a timedelta (NTP, following the hub): no time passes."""
        self._now += dt.timedelta(**delta)


class ScaledClock:
    """A demo's clock: a chosen moment, then time passing ``speed`` times faster than real.

    ``campus-edge demo`` plays an afternoon in minutes whatever the hour it is started:
    the node, its screens and its tokens all live on this clock. Its monotonic reading
    is scaled too, so windows measured in real time (a pickup context's 120 s, a manual
    release's 60 s) last as long in the demo's time as they would at a gate. From
    ``slow_after`` on it moves at real speed, so a demo left running stays in its evening.
    Thread-safe: it only reads ``real`` (time.monotonic by default).
    """

    def __init__(
        self,
        start: dt.datetime,
        speed: float,
        slow_after: dt.datetime | None = None,
        real: Callable[[], float] = time.monotonic,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("a demo clock starts at a moment with its time zone")
        if not 0 < speed <= 10_000:
            raise ValueError(f"a demo clock's speed is between 0 and 10000, not {speed}")
        self.start = start.astimezone(dt.UTC)
        self.speed = float(speed)
        self._fast = (
            max(0.0, (slow_after - start).total_seconds()) if slow_after is not None else None
        )
        self._real = real
        self._began = real()
        self._boot = secrets.token_hex(4)

    def restart(self) -> None:
        """Read ``start`` again from now (a demo begins its afternoon once its node is up)."""
        self._began = self._real()

    def elapsed(self) -> float:
        """Return how many seconds have passed on this clock since its start."""
        real = self._real() - self._began
        scaled = real * self.speed
        if self._fast is None or scaled <= self._fast:
            return scaled
        return self._fast + (real - self._fast / self.speed)

    def now(self) -> dt.datetime:
        """Return the demo's time (UTC)."""
        return self.start + dt.timedelta(seconds=self.elapsed())

    def monotonic(self) -> Reading:
        """Return a monotonic reading in the demo's seconds."""
        return self._boot, self.elapsed()

    def real_seconds_until(self, moment: dt.datetime) -> float:
        """Return how many real seconds pass before this clock reads ``moment`` (0 if past)."""
        ahead = (moment - self.now()).total_seconds()
        if ahead <= 0:
            return 0.0
        done = self.elapsed()
        if self._fast is None or done + ahead <= self._fast:
            return ahead / self.speed
        fast = max(0.0, self._fast - done)
        return fast / self.speed + (ahead - fast)


def within(
    window: dt.timedelta,
    since: dt.datetime,
    since_reading: Reading | None,
    moment: dt.datetime,
    moment_reading: Reading | None,
) -> bool:
    """Tell whether ``moment`` lies within ``window`` after ``since``, by real time.

    A wall clock may step (NTP, a kiosk following its hub, a Pi that booted with a
    wrong date): two readings of one process's monotonic clock measure the time
    between exactly; a start with no reading of this process lies at least this
    process's age back (an earlier process, or a reading lost). Only without a
    reading now does the wall clock decide. A pickup context, a handover offered and
    a manual release waiting all close by it.
    """
    if moment_reading is not None:
        if since_reading is not None and since_reading[0] == moment_reading[0]:
            return 0 <= moment_reading[1] - since_reading[1] < window.total_seconds()
        if moment_reading[1] >= window.total_seconds():
            return False
    return dt.timedelta(0) <= moment - since < window


def reading(clock: object) -> Reading | None:
    """Return a clock's monotonic reading, or None if it has none."""
    monotonic = getattr(clock, "monotonic", None)
    return monotonic() if callable(monotonic) else None


def to_millis(moment: dt.datetime) -> int:
    """Return ``moment`` as milliseconds since the Unix epoch."""
    return int(moment.timestamp() * 1000)


class HybridLogicalClock:
    """Issues monotonic stamps close to physical time (Kulkarni et al., 2014)."""

    def __init__(self, last: int = 0) -> None:
        self.last = last

    def stamp(self, physical: dt.datetime) -> int:
        """Return a stamp for a local event happening at ``physical`` wall time.

        Never below the last: what a node does sorts after all it did before, whatever
        its wall clock says now (a revoke after its grant, a plan after the last one).
        """
        wall = to_millis(physical) << COUNTER_BITS
        self.last = wall if wall > self.last else self.last + 1
        return self.last

    def receive(self, remote: int, upto: int = MAX_STAMP) -> None:
        """Take in another event's stamp, so later local stamps sort after it.

        A stamp beyond ``upto`` (``ceiling`` of this node's wall clock; at most
        ``MAX_STAMP``, past any school day) is left out.
        """
        if self.last < remote <= min(upto, MAX_STAMP):
            self.last = remote


def clock_synchronized() -> bool:
    """Tell whether the system clock has been synchronized since boot (NTP or RTC).

    systemd-timesyncd touches this file when it has synchronized; where timedatectl
    exists it is asked too. Without either (a test box), the clock is trusted.
    """
    if Path("/run/systemd/timesync/synchronized").exists():
        return True
    try:
        out = subprocess.run(  # noqa: S603
            ["/usr/bin/timedatectl", "show", "-p", "NTPSynchronized", "--value"],
            capture_output=True,
            text=True,
            timeout=2,
            check=False,
            # Not ours to tell systemd anything: timedatectl would report its own errors.
            env={k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"},
        )
    except (OSError, subprocess.SubprocessError):
        return True
    if out.returncode != 0:
        return True
    return out.stdout.strip() == "yes"


class ClockTrust:
    """Whether a node's wall clock can be trusted: set by NTP, declared, or following a hub.

    Calling it tells whether the machine's own clock is synchronized (``declared`` in
    settings overrides the system); the system is asked at most once a minute, since
    asking may start a process. ``vouched`` also counts a clock that follows its hub's.
    """

    ASK_EVERY = 60.0  # seconds

    def __init__(
        self,
        clock: object,
        declared: bool | None = None,
        ask: Callable[[], bool] = clock_synchronized,
    ) -> None:
        self._clock = clock
        self._declared = declared
        self._ask = ask
        self._asked: tuple[float, bool] | None = None

    def __call__(self) -> bool:
        """Tell whether this machine's own clock is synchronized (or declared trusted)."""
        if self._declared is not None:
            return self._declared
        now = time.monotonic()
        if self._asked is None or now - self._asked[0] > self.ASK_EVERY:
            self._asked = (now, self._ask())
        return self._asked[1]

    def vouched(self) -> bool:
        """Tell whether events made now may say their time is right (own clock, or the hub's)."""
        return self() or bool(getattr(self._clock, "following", False))
