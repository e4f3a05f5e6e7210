"""The simulated reader: a driver like the others, fed by the simulation endpoint.

``present`` is what a card laid on a real reader does: it hands the uid to the sink
and returns the future of the durable tap.
"""

from __future__ import annotations

import concurrent.futures
import datetime as dt
from typing import Any

from edge.devices.base import ReaderHealth, Sink
from edge.errors import StorageError
from edge.school.cards import Form


class SimulatedReader:
    """A reader with no hardware: cards are presented by code."""

    def __init__(self, station: str, spec: str = "sim") -> None:
        self.station = station
        self.health = ReaderHealth(spec=spec, driver="simulated")
        self._sink: Sink | None = None

    def start(self, sink: Sink) -> None:
        """Connect the reader to the tap pipeline."""
        self._sink = sink
        self.health.connected = True

    def stop(self) -> None:
        """Disconnect the reader."""
        self._sink = None
        self.health.connected = False

    def present(
        self, uid: str, at: dt.datetime | None = None, form: Form = "auto"
    ) -> concurrent.futures.Future[Any]:
        """Present a card, as if laid on the reader; the future resolves when durable.

        It resolves to what the node's sink gives (a Durable: the node's tap result).
        """
        if self._sink is None:
            raise StorageError(f"the simulated reader at {self.station} is not started")
        future = self._sink(uid, form, at)
        self.health.reads += 1
        self.health.last_read = dt.datetime.now(dt.UTC)
        return future
