"""Keyboard-wedge USB readers (and USB QR scanners) through python-evdev.

Spec: ``hid:/dev/input/by-id/usb-...-event-kbd`` (or ``hid:/dev/input/eventN``).

A wedge reader is a keyboard that types the card number and Enter. The driver grabs
the input device exclusively (EVIOCGRAB), so the digits never reach the kiosk's
browser, and assembles key-down events into a number until Enter. ``KeyAssembler``
is pure and is what the live driver runs, so recorded event streams test the same
code: it ignores key-up and auto-repeat, follows Shift (some readers type hex in
capitals with Shift), tolerates interleaved press/release orders, and drops a
half-typed number when the next key comes more than ``gap`` seconds later.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from edge.devices.base import ReaderGone, ThreadedReader

log = logging.getLogger(__name__)

EV_KEY = 1
KEY_DOWN = 1
# Linux input-event codes (linux/input-event-codes.h): stable kernel ABI.
DIGITS = {2: "1", 3: "2", 4: "3", 5: "4", 6: "5", 7: "6", 8: "7", 9: "8", 10: "9", 11: "0"}
KEYPAD = {79: "1", 80: "2", 81: "3", 75: "4", 76: "5", 77: "6", 71: "7", 72: "8", 73: "9",
          82: "0"}  # fmt: skip
# Letters (a QR scanner types a pickup pass: capitals, digits and dots) and the dot.
LETTERS = {30: "A", 48: "B", 46: "C", 32: "D", 18: "E", 33: "F", 34: "G", 35: "H", 23: "I",
           36: "J", 37: "K", 38: "L", 50: "M", 49: "N", 24: "O", 25: "P", 16: "Q", 19: "R",
           31: "S", 20: "T", 22: "U", 47: "V", 17: "W", 45: "X", 21: "Y", 44: "Z",
           52: "."}  # fmt: skip
ENTER = {28, 96}  # KEY_ENTER, KEY_KPENTER
SHIFT = {42, 54}  # KEY_LEFTSHIFT, KEY_RIGHTSHIFT


@dataclass
class KeyAssembler:
    """Assembles key events into card numbers."""

    gap: float = 1.0
    longest: int = 512  # a pass is about 200 characters; a card number at most 20
    dropped: int = 0
    _buffer: list[str] = field(default_factory=list)
    _last: float | None = None
    _shift: int = 0

    def feed(self, kind: int, code: int, value: int, at: float) -> str | None:
        """Take one input event; return a card number when Enter completes one."""
        if kind != EV_KEY:
            return None
        if code in SHIFT:
            self._shift = max(
                0, self._shift + (1 if value == KEY_DOWN else -1 if value == 0 else 0)
            )
            return None
        if value != KEY_DOWN:
            return None  # key-up (0) and auto-repeat (2)
        if self._last is not None and at - self._last > self.gap and self._buffer:
            self.dropped += 1
            self._buffer.clear()
        self._last = at
        if code in ENTER:
            number = "".join(self._buffer)
            self._buffer.clear()
            return number or None
        char = DIGITS.get(code) or KEYPAD.get(code) or LETTERS.get(code)
        if char is None or len(self._buffer) >= self.longest:
            self.dropped += 1
            self._buffer.clear()
            return None
        self._buffer.append(char)
        return None

    def feed_all(self, events: Iterable[tuple[int, int, int, float]]) -> Iterator[str]:
        """Take a stream of (type, code, value, time) events; yield each card number."""
        for kind, code, value, at in events:
            number = self.feed(kind, code, value, at)
            if number is not None:
                yield number


class WedgeReader(ThreadedReader):
    """A keyboard-wedge reader grabbed exclusively through evdev."""

    driver = "evdev"

    def __init__(self, station: str, spec: str, **options: Any) -> None:
        super().__init__(station, spec, **options)
        self.path = spec.split(":", 1)[1] if ":" in spec else ""
        self.assembler = KeyAssembler()
        self.device: Any = None

    def open(self) -> None:
        """Open and grab the input device."""
        import evdev

        try:
            self.device = evdev.InputDevice(self.path)
            self.device.grab()
        except OSError as err:
            raise ReaderGone(f"cannot open {self.path}: {err.strerror or err}") from err
        self.health.extra["device"] = self.device.name

    def read(self) -> None:
        """Read key events until stopped or the device goes away."""
        try:
            for event in self.device.read_loop():
                if self.stopping:
                    return
                number = self.assembler.feed(event.type, event.code, event.value, event.timestamp())
                if number is not None:
                    self.deliver(number, "auto")
                self.health.extra["dropped"] = self.assembler.dropped
        except OSError as err:  # ENODEV when unplugged
            raise ReaderGone(f"{self.path} went away: {err.strerror or err}") from err

    def close(self) -> None:
        """Release the grab and the device."""
        device, self.device = self.device, None
        if device is not None:
            try:
                device.ungrab()
            except OSError:
                pass
            device.close()
