"""Delegations (临时委托): an adult a teacher names to collect one child for a few days.

A delegation starts today or later and runs at most 31 days; its photo, if any, is
kept beside the roster's photos under its content's hash. Revoking one travels to
every kiosk and wins over the grant.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import secrets
from typing import Any

from edge.actions.desk import VIEW_ROLES, Desk
from edge.errors import TapError
from edge.files import write_atomic
from edge.school import auth
from edge.school.pickup import DELEGATE_GRANTED, DELEGATE_REVOKED
from edge.school.proof import GRANT_ROLES
from edge.school.roster import PHOTO_LIMIT, PHOTO_TYPES

PHONE = re.compile(r"^[0-9+\-\s()]{5,20}$")
LONGEST = 31  # days a delegation may run, both ends counted


def grant(
    desk: Desk,
    who: auth.Principal,
    student_id: str,
    name: str,
    phone: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    photo: str | None = None,
) -> dict[str, Any]:
    """Name an adult who may collect one child from ``start`` (today) to ``end`` (= start).

    Return the delegation as recorded; ``photo`` is a JPEG, PNG or WebP in base64.
    """
    auth.require(who, GRANT_ROLES, full=True)
    desk.student(student_id)
    if not PHONE.match(phone):
        raise TapError(f"phone '{phone}' is not a phone number")
    today = desk.today()
    start = start or today
    end = end or start
    if start < today:
        raise TapError(f"from {start} is in the past: a delegation starts today or later")
    if end < start or (end - start).days >= LONGEST:
        raise TapError(f"from {start} to {end} is not a range of at most {LONGEST} days")
    kept = store_photo(desk, photo) if photo else None
    data = {
        "grant_id": f"D{secrets.token_hex(5)}", "student_id": student_id,
        "name": name.strip(), "phone": phone.strip(), "photo": kept,
        "from": start.isoformat(), "to": end.isoformat(),
    }  # fmt: skip
    desk.record(DELEGATE_GRANTED, data, who)
    return data


def revoke(desk: Desk, who: auth.Principal, grant_id: str) -> dict[str, Any]:
    """Take a standing delegation back; return what was recorded."""
    auth.require(who, GRANT_ROLES, full=True)
    if grant_id not in desk.projection.book.delegates:
        raise TapError(f"there is no standing delegation '{grant_id}'", 404)
    data = {"grant_id": grant_id}
    desk.record(DELEGATE_REVOKED, data, who)
    return data


def standing(desk: Desk, who: auth.Principal, student_id: str | None) -> list[dict[str, Any]]:
    """List the delegations that hold today or later (of one child, if named)."""
    auth.require(who, VIEW_ROLES)
    day = desk.today()
    shown = [d.to_json() for d in desk.projection.book.delegates.values()
             if d.end >= day and (student_id is None or d.student_id == student_id)]  # fmt: skip
    return sorted(shown, key=lambda d: (d["from"], d["name"]))


def store_photo(desk: Desk, encoded: str) -> str:
    """Keep a base64 photo beside the roster's photos; return its content-addressed name."""
    try:
        data = base64.b64decode(encoded, validate=True)
    except ValueError as err:
        raise TapError("photo: is not base64") from err
    if len(data) > PHOTO_LIMIT:
        raise TapError("photo: make it smaller than 2 MB")
    kind = next((k for magic, k in PHOTO_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise TapError("photo: is not a JPEG, PNG or WebP image")
    name = f"{hashlib.sha256(data).hexdigest()}.{kind}"
    folder = desk.photos
    folder.mkdir(exist_ok=True)
    if not (folder / name).exists():
        write_atomic(folder / name, data)
    return name
