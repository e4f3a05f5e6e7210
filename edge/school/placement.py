"""Where an event made on a wrong clock belongs: at its moment as corrected later.

A kiosk whose clock is not synchronized (a Pi has no battery-backed clock: it boots on
the date it was switched off) stamps its taps with that wrong time and marks them
(``clock_synced`` false). When it first reaches its hub it steps its clock onto the hub's
and records the step in its own chain: an action ``clock_stepped`` whose
``data.step_seconds`` is how far it moved and ``data.since_seq`` the first seq of the
process (this boot). Each unsynced event of that chain made by that process before the
step is then placed at its moment plus the step: on that school day, in that order, on
every node that holds both (the kiosk itself, its hub). A tap of an earlier boot is
never moved by a later boot's step (see Step). The ledger keeps the event as it was
made (hashed, signed); the reads that fold or report place it. An unsynced event with
no step after it yet stays where it was stamped: nobody can know better until its
kiosk reaches the hub.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from edge.clock import COUNTER_BITS
from edge.school import events as ev
from edge.school.events import Event

CLOCK_STEPPED = "clock_stepped"
LONGEST_STEP = dt.timedelta(days=400)  # a step the schema takes (a Pi off over a summer)
LONGEST_RUN = dt.timedelta(days=7)  # how long before its step a corrected tap may lie
SLACK = dt.timedelta(minutes=1)  # a tap made just before the step was recorded


@dataclass(frozen=True)
class Step:
    """One recorded clock step: where in its chain, how far, since which seq, and when.

    It corrects the unsynced events of its chain made by the same process (seq from
    ``since_seq``, the process's first) before it (seq below ``seq``): never those of an
    earlier boot, whose clock was wrong in its own way. A corrected moment must fall
    before the step itself and at most ``LONGEST_RUN`` before it, so a forged step
    cannot carry a kiosk's taps into the future or far into the past.
    """

    seq: int
    seconds: float
    since_seq: int
    at: dt.datetime

    def corrects(self, event: Event) -> bool:
        """Tell whether this step places ``event`` (its chain's, unsynced, made before it)."""
        if not self.since_seq <= event.seq < self.seq:
            return False
        moved = event.at + dt.timedelta(seconds=self.seconds)
        return self.at - LONGEST_RUN <= moved <= self.at + SLACK


@dataclass(frozen=True)
class Steps:
    """The clock steps recorded in a ledger, per chain (node, epoch), by seq."""

    by_chain: dict[tuple[str, str], list[Step]] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Iterable[tuple[str, str, int, object, object, dt.datetime]]) -> Steps:
        """Collect (node_id, epoch, seq, step_seconds, since_seq, at) rows.

        Unusable ones (a step or a since_seq the schema would refuse) are left out.
        """
        chains: dict[tuple[str, str], list[Step]] = {}
        for node_id, epoch, seq, seconds, since, at in rows:
            if usable(seconds) and isinstance(since, int) and not isinstance(since, bool):
                step = Step(seq, float(seconds), since, at)  # type: ignore[arg-type]
                chains.setdefault((node_id, epoch), []).append(step)
        return cls({chain: sorted(steps, key=lambda s: s.seq) for chain, steps in chains.items()})

    def __bool__(self) -> bool:
        return bool(self.by_chain)

    def nodes(self) -> set[str]:
        """Return the nodes whose chains hold a step."""
        return {node for node, _ in self.by_chain}

    def span(self) -> dt.timedelta:
        """Return the largest step, either way (how far an event can move)."""
        largest = max((abs(s.seconds) for steps in self.by_chain.values() for s in steps),
                      default=0)  # fmt: skip
        return dt.timedelta(seconds=largest)

    def step_of(self, event: Event) -> dt.timedelta | None:
        """Return the step that corrects an event's moment, or None where none does."""
        if event.clock_synced or (event.kind == ev.ACTION and event.code == CLOCK_STEPPED):
            return None
        steps = self.by_chain.get((event.node_id, event.epoch))
        if not steps:
            return None
        index = bisect.bisect_right([s.seq for s in steps], event.seq)  # the first after it
        if index == len(steps) or not steps[index].corrects(event):
            return None
        return dt.timedelta(seconds=steps[index].seconds)


def usable(seconds: object) -> bool:
    """Tell whether a recorded step is a number the schema takes (bounded, finite)."""
    return (
        isinstance(seconds, int | float)
        and not isinstance(seconds, bool)
        and math.isfinite(seconds)
        and abs(seconds) <= LONGEST_STEP.total_seconds()
    )


def placed(event: Event, step: dt.timedelta, tz: dt.tzinfo) -> Event:
    """Return the event as it is placed: its moment, school day and order corrected."""
    at = event.at + step
    millis = round(step.total_seconds() * 1000)
    hlc = max(0, event.hlc + (millis << COUNTER_BITS))
    return dataclasses.replace(event, at=at, day=at.astimezone(tz).date(), hlc=hlc)
