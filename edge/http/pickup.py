"""HTTP for pickup as it really happens: delegates, 无卡接送, one-time codes, passes, plans.

One router per resource (edge.http.delegates, codes, releases, passes, plans,
corrections), all under the "pickup" tag with the errors they answer (PICKUP_ERRORS).
The handlers only parse, call one action of edge.actions and shape the answer; the
rules live there. Staff routes take a bearer token (granting or revoking who may
collect a child needs a PIN sign-in); the pickup screen's routes take its display
channel.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from edge.http import codes, corrections, delegates, passes, plans, releases

routers: list[APIRouter] = [
    delegates.router, codes.router, releases.router, passes.router, plans.router,
    corrections.router,
]  # fmt: skip


def add_to(app: FastAPI) -> None:
    """Serve the pickup routes on ``app``, each as one of the app's own routes.

    FastAPI's ``include_router`` keeps a router as one opaque entry of ``app.routes``
    (no path); adding its routes keeps every path listed there, as tests read them.
    """
    for router in routers:
        app.router.routes.extend(router.routes)
