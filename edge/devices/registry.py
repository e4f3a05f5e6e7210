"""Pick a reader driver from a spec string (CONTRACT.md's ``--reader STATION=SPEC``).

| spec | driver | library |
|---|---|---|
| ``sim`` | simulated reader, fed by the simulation endpoint | none |
| ``nfc:usb``, ``nfc:tty:AMA0:pn532``, ``nfc:udp:HOST:PORT`` | nfcpy frontend | nfcpy |
| ``serial:/dev/ttyUSB0:rdm6300``, ``serial:PATH:lines[@BAUD]`` | serial module | pyserial |
| ``hid:/dev/input/eventN`` | keyboard-wedge reader, grabbed | evdev |

A driver whose library does not import is reported unavailable with the reason and
what to install: the service still starts, and the station shows its reader offline.
"""

from __future__ import annotations

import importlib

from edge.devices.base import Reader, ReaderHealth
from edge.devices.sim import SimulatedReader

FAMILIES = {"sim": None, "nfc": "nfc", "serial": "serial", "hid": "evdev"}
PACKAGES = {"nfc": "nfcpy", "serial": "pyserial", "evdev": "evdev"}


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
    if family not in FAMILIES:
        raise ReaderUnavailable(
            f"{spec}: unknown reader family '{family}' (known: {', '.join(FAMILIES)})"
        )
    module = FAMILIES[family]
    if module is not None:
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise ReaderUnavailable(
                f"{spec}: the Python package {PACKAGES[module]} is not installed ({err}); "
                "install campus-edge with its readers: pip install 'campus-edge[readers]'"
            ) from err
    if family == "sim":
        return SimulatedReader(station, spec)
    if family == "nfc":
        from edge.devices.contactless import ContactlessReader

        return ContactlessReader(station, spec)
    if family == "serial":
        from edge.devices.uart import SerialReader

        try:
            return SerialReader(station, spec)
        except ValueError as err:
            raise ReaderUnavailable(str(err)) from err
    from edge.devices.wedge import WedgeReader

    return WedgeReader(station, spec)


class UnavailableReader:
    """Stands in for a reader whose driver could not be opened, so health can say why."""

    def __init__(self, station: str, spec: str, reason: str) -> None:
        self.station = station
        self.health = ReaderHealth(spec=spec, driver="unavailable", last_error=reason)

    def start(self, sink: object) -> None:
        """Do nothing: there is no device."""

    def stop(self) -> None:
        """Do nothing: there is no device."""
