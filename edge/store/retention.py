"""Retention: what is kept about children who have left, and for how long.

Events never name anyone: they hold ids (student, guardian, staff) and card numbers,
and the names, phone numbers and photos live in the roster. When a roster import
drops a child, the node keeps no row of theirs; what can remain is their photo, and
their guardians' (content-addressed files the new roster no longer names). ``plan``
finds those older than the retention period; ``purge`` deletes them. The events stay:
with no roster row behind their ids they are anonymous attendance records, and the
hash chain stays whole.

On the district central, old roster versions (every table as imported, names and
phone numbers included) are the personal data to purge: ``CentralStore.purge_rosters``
keeps each campus's newest version and those younger than the retention period.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from edge.school.roster import PHOTO_NAME
from edge.store.ledger import Ledger


@dataclass
class Plan:
    """What a purge would remove, and what it found."""

    photos: list[Path] = field(default_factory=list)
    photo_bytes: int = 0
    departed: list[str] = field(default_factory=list)  # ids in events, not in the roster


def plan(ledger: Ledger, days: int, now: dt.datetime | None = None) -> Plan:
    """Find unreferenced photos older than ``days`` and children who have left."""
    now = now or dt.datetime.now(dt.UTC)
    roster = ledger.load_roster()
    referenced = {
        row["photo"]
        for name in ("students", "guardians")
        for row in roster.tables.get(name, [])
        if row.get("photo")
    }
    found = Plan()
    cutoff = (now - dt.timedelta(days=days)).timestamp()
    if ledger.photos.is_dir():
        for path in sorted(ledger.photos.iterdir()):
            if not PHOTO_NAME.match(path.name) or path.name in referenced:
                continue
            stat = path.stat()
            if stat.st_mtime <= cutoff:
                found.photos.append(path)
                found.photo_bytes += stat.st_size
    found.departed = sorted(s for s in ledger.student_ids() if s not in roster.students)
    return found


def purge(found: Plan) -> int:
    """Delete what a plan found; return how many files were removed."""
    removed = 0
    for path in found.photos:
        path.unlink(missing_ok=True)
        removed += 1
    return removed
