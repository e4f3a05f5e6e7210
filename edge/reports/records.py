"""Everything held about one child, for a parent's request (data protection).

``child_record`` gathers the child's rows in the roster in force (student, the adults
linked by pickup.csv with their relation and whether they may collect, enrolments,
leave), the photos those rows name, and every event in the ledger about the child:
their own taps and decisions, and the events that mention them (a head count that
listed them missing, a guardian's pickup context that listed them).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from edge.errors import TapError
from edge.school.roster import Roster
from edge.store.ledger import Ledger


def child_record(ledger: Ledger, roster: Roster, student_id: str) -> dict[str, Any]:
    """Return the child's record as a JSON-ready dict; TapError if not in the roster."""
    if student_id not in roster.students:
        raise TapError(f"student '{student_id}' is not in the roster in force", 404)
    tables = roster.tables
    student = [r for r in tables.get("students", []) if r.get("student_id") == student_id]
    pickup = [r for r in tables.get("pickup", []) if r.get("student_id") == student_id]
    adults = {r["guardian_id"] for r in pickup}
    guardians = [r for r in tables.get("guardians", []) if r.get("guardian_id") in adults]
    photos = sorted({r["photo"] for r in student + guardians if r.get("photo")})
    events = [e.to_json() for e in ledger.events_about(student_id)]
    return {
        "student_id": student_id,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(),
        "roster_version": roster.version,
        "student": [_clean(r) for r in student],
        "pickup": [_clean(r) for r in pickup],
        "guardians": [_clean(r) for r in guardians],
        "enrollments": [_clean(r) for r in tables.get("enrollments", [])
                        if r.get("student_id") == student_id],
        "leave": [_clean(r) for r in tables.get("leave", []) if r.get("student_id") == student_id],
        "photos": photos,
        "events": events,
    }  # fmt: skip


def copy_photos(ledger: Ledger, names: list[str], folder: Path) -> int:
    """Copy the named photos into ``folder``; return how many were there to copy."""
    folder.mkdir(parents=True, exist_ok=True)
    copied = 0
    for name in names:
        source = ledger.photos / name
        if source.is_file():
            shutil.copyfile(source, folder / name)
            copied += 1
    return copied


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not k.startswith("_")}
