"""Serial card modules through pyserial: RDM6300-style 125 kHz frames and plain lines.

Specs: ``serial:/dev/ttyUSB0:rdm6300`` (the default format), ``serial:/dev/ttyAMA0:lines``,
optionally with a baud rate: ``serial:/dev/ttyUSB0:rdm6300@9600``. Use a stable path
such as ``/dev/serial/by-id/...`` so a replugged module is found again.

RDM6300 frame (9600 8N1)::

    0x02 | 10 ASCII hex: version byte + 4-byte tag | 2 ASCII hex: XOR of those 5 bytes | 0x03

The module repeats the frame every ~65 ms while a card lies on it. The parsers are
pure (bytes in, card numbers out) and resynchronize on noise: bytes outside a frame
are counted and dropped, a frame with a bad checksum or bad characters is counted
and dropped, a frame split across reads is reassembled.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

from edge.devices.base import ReaderGone, ThreadedReader
from edge.school.cards import Form

log = logging.getLogger(__name__)

STX, ETX = 0x02, 0x03
_HEX = re.compile(rb"[0-9A-Fa-f]+")
_CARD_LINE = re.compile(r"(?:0[xX])?[0-9A-Fa-f]{4,20}")


@dataclass
class FrameCounters:
    """What a parser has thrown away, for health and for the IT teacher."""

    frames: int = 0
    bad_checksum: int = 0
    bad_frame: int = 0
    noise_bytes: int = 0

    def to_json(self) -> dict[str, int]:
        """Return the counters as health shows them."""
        return dict(self.__dict__)


@dataclass
class Rdm6300Parser:
    """Turns a byte stream from an RDM6300-style module into 10-hex-digit EM4100 ids."""

    counters: FrameCounters = field(default_factory=FrameCounters)
    _frame: bytearray | None = None
    form: Form = "hex"

    def feed(self, data: bytes) -> list[str]:
        """Take bytes as they arrive; return the card ids whose frames completed."""
        cards: list[str] = []
        for byte in data:
            if self._frame is None:
                if byte == STX:
                    self._frame = bytearray()
                else:
                    self.counters.noise_bytes += 1
                continue
            if byte == STX:  # a new frame began before the old one ended: resync on it
                self.counters.bad_frame += 1
                self._frame = bytearray()
            elif byte == ETX:
                card = self._check(bytes(self._frame))
                self._frame = None
                if card is not None:
                    cards.append(card)
            else:
                self._frame.append(byte)
                if len(self._frame) > 12:
                    self.counters.bad_frame += 1
                    self.counters.noise_bytes += len(self._frame)
                    self._frame = None
        return cards

    def _check(self, body: bytes) -> str | None:
        if len(body) != 12 or not _HEX.fullmatch(body):
            self.counters.bad_frame += 1
            return None
        data = bytes.fromhex(body[:10].decode())
        if reduce(lambda a, b: a ^ b, data) != int(body[10:], 16):
            self.counters.bad_checksum += 1
            return None
        self.counters.frames += 1
        return body[:10].decode().upper()


@dataclass
class LineParser:
    """One card number per line, as many UART modules and wedge bridges send them."""

    counters: FrameCounters = field(default_factory=FrameCounters)
    _line: bytearray = field(default_factory=bytearray)
    form: Form = "auto"
    longest: int = 32
    _skipping: bool = False  # an over-long line: drop everything up to its end

    def feed(self, data: bytes) -> list[str]:
        """Take bytes as they arrive; return the card numbers whose lines completed."""
        cards: list[str] = []
        for byte in data:
            if byte in (0x0A, 0x0D):
                self._skipping = False
                if self._line:
                    text = self._line.decode("ascii", "replace").strip()
                    if _CARD_LINE.fullmatch(text):
                        self.counters.frames += 1
                        cards.append(text)
                    else:
                        self.counters.bad_frame += 1
                    self._line = bytearray()
            elif self._skipping:
                self.counters.noise_bytes += 1
            elif len(self._line) >= self.longest:
                self.counters.noise_bytes += len(self._line) + 1
                self._line = bytearray()
                self._skipping = True
            else:
                self._line.append(byte)
        return cards


PARSERS = {"rdm6300": Rdm6300Parser, "lines": LineParser}


def parse_spec(spec: str) -> tuple[str, str, int]:
    """Split ``serial:PATH[:FORMAT[@BAUD]]`` into (path, format, baud)."""
    rest = spec.split(":", 1)[1] if ":" in spec else ""
    path, fmt = rest, "rdm6300"
    head, _, tail = rest.rpartition(":")
    if head and tail.split("@")[0] in PARSERS:
        path, fmt = head, tail
    baud = 9600
    if "@" in fmt:
        fmt, _, number = fmt.partition("@")
        if not number.isdigit():
            raise ValueError(f"{spec}: baud rate '{number}' is not a number")
        baud = int(number)
    if not path:
        raise ValueError(f"{spec}: no serial port named (e.g. serial:/dev/ttyUSB0:rdm6300)")
    return path, fmt, baud


class SerialReader(ThreadedReader):
    """A serial card module read through pyserial."""

    driver = "pyserial"

    def __init__(self, station: str, spec: str, **options: Any) -> None:
        super().__init__(station, spec, **options)
        self.path, self.format, self.baud = parse_spec(spec)
        self.parser: Rdm6300Parser | LineParser = PARSERS[self.format]()
        self.port: Any = None
        self.health.extra["frames"] = self.parser.counters.to_json()

    def open(self) -> None:
        """Open the serial port."""
        import serial

        try:
            self.port = serial.Serial(self.path, self.baud, timeout=0.05)
        except (serial.SerialException, OSError) as err:
            raise ReaderGone(f"cannot open {self.path}: {err}") from err

    def read(self) -> None:
        """Read frames until stopped or the port fails."""
        import serial

        while not self.stopping:
            try:
                # Block for the first byte only, then take what else has arrived: read(64)
                # would sit on a complete frame until the timeout (50 ms a tap).
                data = self.port.read(1)
                if data and self.port.in_waiting:
                    data += self.port.read(self.port.in_waiting)
            except (serial.SerialException, OSError, TypeError, AttributeError) as err:
                # TypeError/AttributeError: pyserial's port object after close() from stop().
                raise ReaderGone(f"{self.path} stopped answering: {err}") from err
            if data:
                for card in self.parser.feed(data):
                    self.deliver(card, self.parser.form)
                self.health.extra["frames"] = self.parser.counters.to_json()

    def close(self) -> None:
        """Close the port."""
        port, self.port = self.port, None
        if port is not None:
            try:
                port.close()
            except Exception as err:
                log.debug("closing %s: %s", self.path, err)
