"""Pick a reader driver from a spec string (CONTRACT.md's ``--reader STATION=SPEC``).

Specs: ``sim``; ``nfc:usb``, ``nfc:tty:AMA0:pn532``, ``nfc:udp:HOST:PORT`` (nfcpy);
``serial:/dev/ttyUSB0:rdm6300``; ``hid:/dev/input/eventN``. A family whose driver is
not available on this node (library missing, not built yet) is reported as such:
the service still starts and shows the station's reader as unavailable.
"""

from __future__ import annotations

from edge.devices.base import Reader, ReaderHealth
from edge.devices.sim import SimulatedReader

FAMILIES = ("sim", "nfc", "serial", "hid")


class ReaderUnavailable(Exception):
    """A reader spec that names no driver this node can run; the message says why."""


def parse_binding(text: str) -> tuple[str, str]:
    """Split ``STATION=SPEC`` into its parts, with a clear message when malformed."""
    station, sep, spec = text.partition("=")
    if not sep or not station.strip() or not spec.strip():
        raise ReaderUnavailable(f"'{text}' is not STATION=SPEC (for example K-3A=nfc:usb)")
    return station.strip(), spec.strip()


def open_reader(station: str, spec: str) -> Reader:
    """Return the driver for a spec, not yet started."""
    family = spec.split(":", 1)[0]
    if family == "sim":
        return SimulatedReader(station, spec)
    if family in FAMILIES:
        raise ReaderUnavailable(
            f"{spec}: the {family} driver is not part of this build yet; use 'sim' for now"
        )
    raise ReaderUnavailable(
        f"{spec}: unknown reader family '{family}' (known: {', '.join(FAMILIES)})"
    )


class UnavailableReader:
    """Stands in for a reader whose driver could not be opened, so health can say why."""

    def __init__(self, station: str, spec: str, reason: str) -> None:
        self.station = station
        self.health = ReaderHealth(spec=spec, driver="unavailable", last_error=reason)

    def start(self, sink: object) -> None:
        """Do nothing: there is no device."""

    def stop(self) -> None:
        """Do nothing: there is no device."""
