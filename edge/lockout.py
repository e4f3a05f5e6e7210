"""Lockouts: how many tries a target may make within a sliding window; thread-safe.

A try is reserved before it is made (``reserve``), so concurrent tries cannot all pass
one check and count only afterwards; a try that turns out right is given back
(``release``). Each key is its own target: one caller's failures never lock another.
Times come from a monotonic clock, so a wall clock stepped back or forth changes nothing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

Ticket = tuple[str, float]
_KEYS = 10_000  # beyond this many keys, those with nothing in their window are dropped


class Lockout:
    """At most ``limit`` tries per key within ``window`` seconds."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._tries: dict[str, list[float]] = {}

    def reserve(self, key: str) -> Ticket | None:
        """Count a try against ``key`` now; None (nothing counted) when it is locked."""
        with self._lock:
            now = self._clock()
            if len(self._tries) > _KEYS:
                self._tries = {
                    k: v for k, v in self._tries.items() if v and now - v[-1] < self.window
                }
            recent = [t for t in self._tries.get(key, []) if now - t < self.window]
            if len(recent) >= self.limit:
                self._tries[key] = recent
                return None
            recent.append(now)
            self._tries[key] = recent
            return (key, now)

    def release(self, ticket: Ticket) -> None:
        """Give a reserved try back: it was right, so it does not count."""
        key, at = ticket
        with self._lock:
            tries = self._tries.get(key, [])
            if at in tries:
                tries.remove(at)
