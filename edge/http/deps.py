"""What a route may ask FastAPI for: the running node, and the staff member calling.

Routers never close over a Node: ``create_app`` puts it on ``app.state.node`` and a
route asks for it with ``NodeDep``. A route that needs a signed-in staff member asks
for ``Staff``; a bad or missing token is a 401 with a sentence saying why. The role
sets say who may see what (SECURITY.md).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from edge.errors import AuthError, TapError
from edge.http.responses import Problem
from edge.node import Node
from edge.school import auth
from edge.school.roster import ROLES

bearer = HTTPBearer(auto_error=False)

PRESENCE_ROLES = frozenset({"duty_leader", "guard", "admin"})
PAY_ROLES = frozenset({"duty_leader", "admin"})  # attendance and workload: fees and pay
RECORD_ROLES = frozenset({"teacher", "duty_leader", "admin"})  # a group's supervision record
ALL_STAFF = frozenset(ROLES)
EVENTS_ROLES = frozenset({"admin"})

# The error answers every staff route documents in the OpenAPI schema.
STAFF_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem},
    403: {"model": Problem},
    422: {"model": Problem},
}
# ... and those the pickup routes add: an unknown child or grant, a conflict, a lockout.
PICKUP_ERRORS: dict[int | str, dict[str, Any]] = {
    **STAFF_ERRORS,
    404: {"model": Problem},
    409: {"model": Problem},
    429: {"model": Problem},
}


async def node_of(request: Request) -> Node:
    """Return the node this app serves.

    A coroutine, so FastAPI resolves it on the event loop: a plain function would be
    sent to the thread pool on every request, the tap's included.
    """
    node: Node = request.app.state.node
    return node


NodeDep = Annotated[Node, Depends(node_of)]


def principal(
    node: NodeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> auth.Principal:
    """Return the staff member whose bearer token came with the request."""
    if credentials is None:
        raise AuthError("sign in first: this needs a staff token (Authorization: Bearer)")
    return node.staff_of(credentials.credentials)


Staff = Annotated[auth.Principal, Depends(principal)]


def school_day(day: dt.date) -> dt.date:
    """Return ``day`` if a school day may fall on it (2000-2100); TapError (422) if not."""
    if not 2000 <= day.year <= 2100:
        raise TapError(f"date: {day} is not a school day (2000-2100)")
    return day
