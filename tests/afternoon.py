"""A pure harness: taps decided and folded in memory, as the writer does, without I/O."""

from __future__ import annotations

import datetime as dt

from edge.clock import HybridLogicalClock
from edge.school import cards
from edge.school.events import Event, Tap
from edge.school.fold import DayState
from edge.school.pickup import PickupBook
from edge.school.roster import Roster
from edge.school.rules import Timing, decide


class Afternoon:
    def __init__(
        self, roster: Roster, day: dt.date, node_id: str = "k", book: PickupBook | None = None
    ) -> None:
        self.roster = roster
        self.book = book or PickupBook()
        self.state = DayState(day)
        self.events: list[Event] = []
        self.hlc = HybridLogicalClock()
        self.node_id = node_id

    def tap(self, station: str, uid: str, at: dt.datetime, tap: Tap | None = None) -> Event:
        tap = tap or Tap(station, cards.normalize(uid), uid, at)
        decision = decide(tap, self.roster, self.state, Timing(), self.book)
        event = Event(
            node_id=self.node_id,
            epoch="e",
            seq=len(self.events) + 1,
            hlc=self.hlc.stamp(at),
            at=at,
            day=self.state.day,
            station=station,
            kind=decision.kind,
            outcome=decision.outcome,
            code=decision.code,
            card=tap.card,
            uid=uid,
            subject_kind=decision.subject_kind,
            subject_id=decision.subject_id,
            data=decision.data,
            roster_version=self.roster.version,
            clock_synced=True,
        )
        self.state.apply(event)
        self.events.append(event)
        return event
