"""The pickup desk: what a staff action needs of a node, and the lockouts that bound guesses.

The node builds one ``Desk`` from its narrow parts (the writer, which holds the ledger,
the projection, the roster and the clock; the settings; the pass key; a way to tell
the screens; a way to sign an action for a staff member). Every action in this
package takes it, checks, and either raises an edge.errors error or records one
event through the writer. Wrong pickup codes (per station) and adult searches (per
screen or staff member) are counted here, so they outlive any one request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from edge.errors import TapError
from edge.lockout import Lockout
from edge.projection import Projection
from edge.school import auth, proof
from edge.school.events import Event
from edge.school.roster import Roster, Student
from edge.settings import Settings
from edge.writer import TapWriter

if TYPE_CHECKING:  # cryptography is imported when a pass is first issued
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

# Who may make each staff action is school.proof's GRANT_ROLES and CORRECT_ROLES (the roles
# a synced action is checked against); who may look at delegations and plans:
VIEW_ROLES = proof.GRANT_ROLES | {"guard"}
CODE_FAILURES = 5  # wrong codes at one station within CODE_LOCKOUT before it stops taking any
CODE_LOCKOUT = 600.0
SEARCHES = (20, 60.0)  # adult searches per screen (or staff member) a minute

Prover = Callable[[Event], Event]


class Publish(Protocol):
    """Send a message to one station's screens (edge.live.Broadcast.publish)."""

    def __call__(self, message: dict[str, Any], station: str | None = None) -> None:
        """Send ``message`` to ``station``'s screens, or with None to the dashboards'."""


def _code_failures() -> Lockout:
    return Lockout(CODE_FAILURES, CODE_LOCKOUT)


def _searches() -> Lockout:
    return Lockout(*SEARCHES)


@dataclass
class Desk:
    """A node's parts that staff actions use, and the lockouts of its pickup screens."""

    writer: TapWriter
    settings: Settings
    pass_key_of: Callable[[], Ed25519PrivateKey]  # loaded when a pass is first issued
    publish: Publish
    prove: Callable[[auth.Principal], Prover]  # signs an action for who made it
    code_failures: Lockout = field(default_factory=_code_failures)
    searches: Lockout = field(default_factory=_searches)

    @property
    def pass_key(self) -> Ed25519PrivateKey:
        """Return the key this node signs passes with."""
        return self.pass_key_of()

    @property
    def roster(self) -> Roster:
        """Return the roster in force."""
        return self.writer.roster

    @property
    def projection(self) -> Projection:
        """Return the live picture of the days and the pickup book."""
        return self.writer.projection

    @property
    def photos(self) -> Path:
        """Return the folder of the roster's and delegates' photos."""
        return self.writer.ledger.photos

    def now(self) -> dt.datetime:
        """Return the node clock's time."""
        return self.writer.clock.now()

    def today(self) -> dt.date:
        """Return today's school day."""
        return self.roster.calendar.day_of(self.now())

    def student(self, student_id: str) -> Student:
        """Return a child of the roster; TapError (404) if there is none."""
        student = self.roster.students.get(student_id)
        if student is None:
            raise TapError(f"student '{student_id}' is not in the roster", 404)
        return student

    def student_name(self, student_id: str) -> str:
        """Return a child's name, or the id when the roster no longer has them."""
        student = self.roster.students.get(student_id)
        return student.name if student else student_id

    def pickup_station(self, station: str) -> None:
        """Refuse a station that is not a pickup point of the roster (404, or 409)."""
        place = self.roster.stations.get(station)
        if place is None:
            raise TapError(f"station '{station}' is not in the roster (stations.csv)", 404)
        if place.role != "pickup":
            raise TapError(f"station '{station}' is a classroom door, not a pickup point", 409)

    def record(self, code: str, data: dict[str, Any], who: auth.Principal) -> None:
        """Record a staff action, signed for who made it; return once it is durable."""
        self.writer.record_action(code, data, who.staff_id, proof=self.prove(who)).result(
            timeout=30
        )
