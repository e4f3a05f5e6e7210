"""Pickup passes: QR text signed with the hub's key, which a kiosk checks offline.

A pass names one child and one adult over at most 181 days from today. It is issued
at the campus hub (or a node that runs alone), whose key every kiosk knows; revoking
one travels to every kiosk, which then refuses it.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from typing import Any

from edge.actions.desk import Desk
from edge.errors import TapError
from edge.school import auth, passes
from edge.school.pickup import PASS_REVOKED
from edge.school.proof import GRANT_ROLES

LONGEST = 181  # days a pass may run, both ends counted
PASS_ID = re.compile(r"X[0-9a-f]{12}")


def issue(
    desk: Desk,
    who: auth.Principal,
    student_id: str,
    name: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> dict[str, Any]:
    """Issue a pass for ``student_id`` and the adult ``name``; return it with its ``text``."""
    auth.require(who, GRANT_ROLES, full=True)
    if desk.settings.upstream and desk.settings.role != "hub":
        raise TapError("passes are issued at the campus hub, whose key every kiosk knows", 409)
    desk.student(student_id)
    today = desk.today()
    start = start or today
    end = end or start
    if start < today or end < start or (end - start).days >= LONGEST:
        raise TapError(f"from {start} to {end} is not a range from today of at most {LONGEST} days")
    pass_id = f"X{secrets.token_hex(6)}"
    text = passes.issue(desk.pass_key, {"id": pass_id, "s": student_id, "n": name.strip(),
                                        "f": start.isoformat(), "t": end.isoformat()})  # fmt: skip
    data = {"pass_id": pass_id, "student_id": student_id, "name": name.strip(),
            "from": start.isoformat(), "to": end.isoformat()}  # fmt: skip
    desk.record(passes.ISSUED, data, who)
    return {**data, "text": text}


def revoke(desk: Desk, who: auth.Principal, pass_id: str) -> dict[str, Any]:
    """Revoke a pass by its id; return what was recorded."""
    auth.require(who, GRANT_ROLES, full=True)
    if not PASS_ID.fullmatch(pass_id):
        raise TapError(f"'{pass_id}' is not a pass id (X and 12 hex digits)", 404)
    data = {"pass_id": pass_id}
    desk.record(PASS_REVOKED, data, who)
    return data
