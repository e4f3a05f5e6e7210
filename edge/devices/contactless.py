"""13.56 MHz readers through nfcpy: PN532 on UART, ACR122U/PN533 on USB, nfcpy's UDP.

nfcpy's simulated UDP frontend is a driver like the others; the tests use it.

Specs: ``nfc:usb``, ``nfc:usb:072f:2200``, ``nfc:tty:AMA0:pn532``,
``nfc:udp:HOST:PORT``; everything after ``nfc:`` is nfcpy's device path.

The driver polls for ISO 14443-A targets (4-, 7- and 10-byte UIDs) with
``ContactlessFrontend.sense`` and hands each new UID, as nfcpy reports it in hex, to
the tap pipeline. Field notes it deals with:

- a PN532 has been seen to slow to ~5 s per read after an hour idle and ~20 s after
  a day: every successful read's latency is measured and the frontend is closed and
  reopened when one is slower than ``slow_read`` seconds (health counts it);
- opening a reader fails intermittently with "No such device" until retried, and
  it fails for good while the kernel's pn533/port100 modules hold a USB reader (see
  README, Hardware): opening is retried with backoff, the reason kept in health.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from edge.devices.base import ReaderGone, ThreadedReader
from edge.devices.feedback import Acr122Feedback

log = logging.getLogger(__name__)


class ContactlessReader(ThreadedReader):
    """An nfcpy ContactlessFrontend polled for Type A cards."""

    driver = "nfcpy"

    def __init__(
        self,
        station: str,
        spec: str,
        *,
        poll_interval: float = 0.05,
        slow_read: float = 1.0,
        **options: Any,
    ) -> None:
        super().__init__(station, spec, **options)
        self.path = spec.split(":", 1)[1] if ":" in spec else "usb"
        self.poll_interval = poll_interval
        self.slow_read = slow_read
        self.clf: Any = None
        self.health.extra.update({"read_ms": None, "reinits": 0})

    def open(self) -> None:
        """Open the nfcpy frontend at the spec's path."""
        import nfc  # nfcpy is an optional library; the registry checks it imports

        try:
            self.clf = nfc.ContactlessFrontend(self.path)
        except OSError as err:
            raise ReaderGone(f"no reader at {self.path}: {err.strerror or err}") from err
        if self.feedback is None and "ACR122" in str(self.clf.device):
            self.feedback = Acr122Feedback(self.clf.device)
        self.health.extra["device"] = str(self.clf.device)

    def read(self) -> None:
        """Poll for cards until stopped."""
        from nfc.clf import RemoteTarget

        while not self.stopping:
            started = time.perf_counter()
            try:
                target = self.clf.sense(RemoteTarget("106A"), iterations=1)
            except OSError as err:  # unplugged: EIO, ENODEV
                raise ReaderGone(f"reader at {self.path} stopped answering: {err}") from err
            if target is not None and getattr(target, "sdd_res", None):
                elapsed = time.perf_counter() - started
                self.health.extra["read_ms"] = round(elapsed * 1000, 1)
                self.deliver(bytes(target.sdd_res).hex().upper(), "hex")
                if elapsed > self.slow_read:
                    self.health.extra["reinits"] += 1
                    raise ReaderGone(
                        f"a read took {elapsed:.1f} s (limit {self.slow_read} s): reinitializing"
                    )
            self._idle(self.poll_interval)

    def _idle(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.01, seconds))

    def close(self) -> None:
        """Close the frontend, releasing the USB device or serial port."""
        clf, self.clf = self.clf, None
        if clf is not None:
            try:
                clf.close()
            except Exception as err:
                log.debug("closing %s: %s", self.path, err)
