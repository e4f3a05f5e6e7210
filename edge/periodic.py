"""A job run every so many seconds on its own daemon thread, until stopped."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Runs ``job`` every ``every`` seconds; a job that raises is logged and run again later."""

    def __init__(self, name: str, every: float, job: Callable[[], object], failed: str) -> None:
        self.name = name
        self.every = every
        self._job = job
        self._failed = failed  # what the log says when the job raises
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread; the job first runs one period from now."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the job that runs now, if one does (not waited for)."""
        self._stopping.set()

    def _run(self) -> None:
        while not self._stopping.wait(self.every):
            try:
                self._job()
            except Exception:
                log.exception("%s", self._failed)
