"""Living under systemd: readiness, the watchdog, and log lines journald understands.

``notify`` speaks the sd_notify datagram protocol on ``$NOTIFY_SOCKET`` (a plain
Unix datagram, abstract when it starts with '@'), so the unit can be Type=notify
without a C library. ``Watchdog`` sends WATCHDOG=1 at half of ``$WATCHDOG_USEC`` but
only while the service is healthy (the tap writer alive, the HTTP server serving): a
wedged writer stops the pings and systemd restarts the service.

``JournalFormatter`` prefixes each line with its syslog priority (``<3>`` for an
error) and writes ``logger: message`` with any ``key=value`` extras, so journald
files it at the right level and ``journalctl -p warning -u campus-edge`` works.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class Serving(Protocol):
    """What readiness asks of a server (``uvicorn.Server``): has it bound, is it ending."""

    started: bool
    should_exit: bool


def notify(message: str) -> bool:
    """Send one sd_notify message; False when not run by systemd (no NOTIFY_SOCKET)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as err:
        log.warning("could not tell systemd %r: %s", message, err)
        return False
    return True


def ready_when_serving(server: Serving, status: str) -> None:
    """Tell systemd READY=1 once a uvicorn server has bound its socket (in a thread)."""

    def wait() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.05)
        if server.started:
            notify(f"READY=1\nSTATUS={status}")

    threading.Thread(target=wait, name="sd-ready", daemon=True).start()


def stop_gracefully_on_signals() -> None:
    """Make SIGTERM and SIGINT end ``uvicorn.Server.run`` and return, not kill the process.

    uvicorn stops serving on a signal, restores the handlers it found, then raises the
    signal again. With the default handler that kills the process before the node
    stops (readers closed, the writer drained) and before STOPPING=1; with this one,
    ``run`` returns and the caller's cleanup runs.
    """

    def note(signum: int, frame: object) -> None:
        log.info("stopping (signal %d)", signum)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, note)


def watchdog_interval() -> float | None:
    """Return how often to ping the watchdog (half its timeout), or None without one."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid.isdigit() and int(pid) != os.getpid()):
        return None
    return int(usec) / 1_000_000 / 2


class Watchdog:
    """Pings systemd's watchdog while ``healthy()`` holds; stops pinging when it does not."""

    def __init__(self, healthy: Callable[[], bool], interval: float) -> None:
        self.healthy = healthy
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)
        self.missed = 0

    def start(self) -> None:
        """Start pinging in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop pinging."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            if self.healthy():
                notify("WATCHDOG=1")
            else:
                self.missed += 1
                log.error("unhealthy: not feeding the watchdog (systemd will restart us)")


_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}
_STANDARD = set(vars(logging.makeLogRecord({})))


class JournalFormatter(logging.Formatter):
    """One line per record: ``<priority>logger: message key=value ...``."""

    def format(self, record: logging.LogRecord) -> str:
        """Render a record for journald (it reads the priority prefix)."""
        priority = _PRIORITY.get(record.levelno, 6)
        extras = " ".join(
            f"{k}={v}" for k, v in vars(record).items() if k not in _STANDARD and k != "message"
        )
        line = f"<{priority}>{record.name}: {record.getMessage()}"
        if extras:
            line += " " + extras
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info).replace("\n", "\n  ")
        return line


def configure_logging() -> None:
    """Log for journald when systemd runs us ($JOURNAL_STREAM), else with timestamps."""
    handler = logging.StreamHandler()
    if os.environ.get("JOURNAL_STREAM"):
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per sync request is noise
