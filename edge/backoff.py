"""Waiting before trying again: doubling delays with jitter, for readers, sync and notices."""

from __future__ import annotations

import random


class Backoff:
    """Delays for reopening a device: doubling from ``first`` up to ``cap``, jittered."""

    def __init__(self, first: float = 0.5, cap: float = 30.0, jitter: float = 0.2) -> None:
        self.first, self.cap, self.jitter = first, cap, jitter
        self.attempt = 0

    def next(self) -> float:
        """Return the delay before the next attempt."""
        delay = min(self.cap, self.first * 2**self.attempt)
        self.attempt += 1
        return delay * (1 + random.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        """Start again from the first delay (after a success)."""
        self.attempt = 0
