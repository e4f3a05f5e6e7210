"""Hash-chained events made without a kiosk, for sync tests and benchmarks."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from edge.clock import to_millis
from edge.school.events import Event

START = dt.datetime(2026, 11, 23, 7, 30, tzinfo=dt.UTC)  # 15:30 in Shanghai


def chain(node_id: str, count: int, epoch: str = "e1", first: int = 1) -> Iterator[Event]:
    """Yield ``count`` sign-in events of one node, chained and hashed as a writer would."""
    previous = ""
    for seq in range(1, first + count):
        at = START + dt.timedelta(milliseconds=37 * seq)
        event = Event(
            node_id=node_id, epoch=epoch, seq=seq, hlc=to_millis(at) << 16, at=at,
            day=dt.date(2026, 11, 23), station="K-1A", kind="signed_in", outcome="accepted",
            code="signed_in", card=f"{seq:010d}", uid=f"{seq:08X}", subject_kind="student",
            subject_id=f"S{seq % 5000:05d}", data={"group_id": "B-1A"}, roster_version=1,
            clock_synced=True, prev_hash=previous,
        )  # fmt: skip
        event = dataclasses.replace(event, stored_hash=event.content_hash())
        previous = event.stored_hash or ""
        if seq >= first:
            yield event


def staff_proof(node: Any, staff_id: str = "A1") -> Callable[[Event], Event]:
    """Return what signs a staff action as made by ``staff_id`` through the API just now.

    As the HTTP API does for a verified token (edge.school.proof): the writer refuses a
    staff action without it, since the campus hub would.
    """
    from edge.school import proof
    from edge.school.auth import Principal

    member = node.roster.staff[staff_id]
    now = node.clock.now().timestamp()
    who = Principal(staff_id, member.role, member.name, "full", now - 60, now + 12 * 3600)
    return proof.prover(who, node.settings.data_dir)
