"""The HTTP app (CONTRACT.md, HTTP): one router per resource, around one Node.

``create_app(node)`` builds the FastAPI app, puts the node on ``app.state.node`` (the
routes ask for it with ``edge.http.deps.NodeDep``), adds the error answers and the body
limit, and includes the routers; nothing lives in module globals. The routers:

- health: /healthz, /metrics, the sync status;
- simulate: the simulation tap (only with ``--simulate``);
- presence: the campus picture, the ledger, a station's idle screen, conflicts, a day;
- curve: the afternoon's counts step by step, for the dashboard's chart;
- streams: Server-Sent Events for screens and dashboards;
- signin: a kiosk's sign-in code traded for a staff token;
- reports: the reports as JSON or files;
- pickup (edge.http.pickup): delegates, codes, passes, plans, corrections;
- pages: the screens' HTML, scripts and roster photos (not in the schema);
- sync (edge.sync.server): what kiosks and hubs exchange.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from edge.http import (
    curve,
    duty,
    health,
    pages,
    pickup,
    presence,
    reports,
    signin,
    simulate,
    streams,
)
from edge.http import patrol as patrol_routes
from edge.http import visitors as gate_register
from edge.http.responses import SYNC_BODY, BodyLimit, add_error_handlers
from edge.node import Node
from edge.school import passes
from edge.sync.hub import LedgerStore
from edge.sync.server import add_sync_routes


def create_app(node: Node) -> FastAPI:
    """Build the HTTP app around a node."""
    app = FastAPI(
        title="campus-edge",
        version="0.1.0",
        description="After-school custody chain at the gate: taps, presence, events.",
    )
    app.state.node = node
    add_error_handlers(app)
    _include(app, health.router)
    if node.settings.simulate:
        _include(app, simulate.router)
    store = LedgerStore(node.writer, node.settings.role, lambda: passes.public_text(node.pass_key))
    add_sync_routes(app, store, node.clock, node.peers)
    _include(app, presence.router, streams.router, signin.router, reports.router)
    _include(app, curve.router)
    _include(app, *pickup.routers)
    _include(app, gate_register.router)  # the gate register (门卫登记)
    _include(app, duty.router)  # the duty log: notes and sign-off
    _include(app, pages.router)
    _include(app, patrol_routes.router, patrol_routes.pages)  # patrol rounds, /patrol
    app.add_middleware(
        BodyLimit, limit=node.settings.max_body_bytes, paths={"/api/v1/sync/events": SYNC_BODY}
    )
    return app


def _include(app: FastAPI, *routers: APIRouter) -> None:
    """Add the routers' routes to the app itself, so ``app.routes`` lists every route.

    (FastAPI's ``include_router`` keeps an included router as one lazy entry.) A route
    holds no state of its own: the node comes from ``app.state``, so apps share them.
    """
    for router in routers:
        app.router.routes.extend(router.routes)
