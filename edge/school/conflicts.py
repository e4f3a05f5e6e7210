"""What two kiosks did that cannot both be right, found after their events met.

Each kiosk decides on what it knows; with the LAN down, two can each let the same
child go, or one can sign a child in while another releases them. The fold orders
such events deterministically, but the school must look at them: they are listed
for review (the dashboard's 需核查), never merged away. Pure: a day's events in,
conflicts out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from edge.school import events as ev
from edge.school.events import Event
from edge.school.fold import effective

SAME_MOMENT = dt.timedelta(seconds=60)
_LEAVES = (ev.RELEASED, ev.LEFT_ALONE)


def find(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Return the conflicts in one day's events (corrected ones left out), oldest first."""
    found: list[dict[str, Any]] = []
    gone: dict[str, Event] = {}  # child -> the event that let them go, since their sign-in
    last: dict[str, Event] = {}  # child -> their last sign-in or leave, any node
    codes: dict[str, Event] = {}
    for event in sorted(effective(events), key=lambda e: e.key):
        sid = event.subject_id or ""
        if event.kind in (ev.SIGNED_IN, *_LEAVES) and event.subject_kind == "student":
            before = last.get(sid)
            if (
                before is not None
                and before.node_id != event.node_id
                and {before.kind, event.kind} & {ev.SIGNED_IN}
                and before.kind != event.kind
                and abs(event.at - before.at) < SAME_MOMENT
            ):
                found.append(_conflict("same_moment", sid, before, event))
            last[sid] = event
        if event.kind == ev.SIGNED_IN:
            gone.pop(sid, None)
        elif event.kind in _LEAVES and event.subject_kind == "student":
            earlier = gone.get(sid)
            if earlier is not None and earlier.node_id != event.node_id:
                found.append(_conflict("released_twice", sid, earlier, event))
            gone.setdefault(sid, event)
        elif event.kind == ev.PICKUP_OPENED and isinstance(event.data.get("code"), str):
            code = event.data["code"]  # anything else is no code (the fold flags it)
            first = codes.get(code)
            if first is not None and first.node_id != event.node_id:
                found.append(_conflict("code_used_twice", sid, first, event))
            codes.setdefault(code, event)
    return found


def _conflict(kind: str, subject: str, one: Event, two: Event) -> dict[str, Any]:
    return {
        "kind": kind,
        "subject_id": subject,
        "events": [
            {
                "id": e.event_id,
                "node_id": e.node_id,
                "station": e.station,
                "kind": e.kind,
                "code": e.code,
                "at": e.at.isoformat(),
                "data": e.data,
            }
            for e in (one, two)
        ],  # fmt: skip
    }
