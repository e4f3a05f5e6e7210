"""HTTP for pickup as it really happens: delegates, 无卡接送, one-time codes, passes, plans.

One router per resource (edge.http.delegates, codes, releases, passes, plans,
corrections), all under the "pickup" tag with the errors they answer (PICKUP_ERRORS).
The handlers only parse, call one action of edge.actions and shape the answer; the
rules live there. Staff routes take a bearer token (granting or revoking who may
collect a child needs a PIN sign-in); the pickup screen's routes take its display
channel.
"""

from __future__ import annotations

from fastapi import APIRouter

from edge.http import codes, corrections, delegates, passes, plans, releases

routers: list[APIRouter] = [
    delegates.router, codes.router, releases.router, passes.router, plans.router,
    corrections.router,
]  # fmt: skip
