"""The district central's HTTP app: its health and the sync protocol, over its PostgreSQL store.

``create_central_app(store, settings)`` puts the store on ``app.state.central`` and
serves the sync routes (edge.sync.server) over it; ``serve_central`` runs it until
interrupted (``campus-edge serve --role central``).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request

from edge import systemd
from edge.clock import SystemClock
from edge.http.responses import SYNC_BODY, BodyLimit, add_error_handlers
from edge.settings import Settings
from edge.sync.central import CentralStore
from edge.sync.server import Peers, Receiver, add_sync_routes, receiver

log = logging.getLogger(__name__)
router = APIRouter()


def central_store(request: Request) -> CentralStore:
    """Return the app's central store (set by ``create_central_app``)."""
    store: CentralStore = request.app.state.central
    return store


@router.get("/healthz")
def healthz(
    request: Request,
    store: Annotated[CentralStore, Depends(central_store)],
    sync: Annotated[Receiver, Depends(receiver)],
) -> dict[str, Any]:
    """Tell whether the central runs and how the hubs stand."""
    now = sync.clock.now()
    behind = dt.timedelta(minutes=request.app.state.settings.behind_minutes)
    return {
        "status": "ok",
        "node_id": store.node_id,
        "role": "central",
        "events": store.count_events(),
        "hubs": sync.peers.report(store.devices(), now, behind),
    }


def create_central_app(store: CentralStore, settings: Settings) -> FastAPI:
    """Build the central's HTTP app: health and the sync protocol."""
    app = FastAPI(title="campus-edge central", version="0.1.0",
                  description="The district's record: campus hubs sync here.")  # fmt: skip
    app.state.central = store
    app.state.settings = settings
    add_error_handlers(app)
    app.router.routes.extend(router.routes)  # as add_sync_routes does: app.routes lists it
    add_sync_routes(app, store, SystemClock(), Peers())
    app.add_middleware(
        BodyLimit, limit=settings.max_body_bytes, paths={"/api/v1/sync/events": SYNC_BODY}
    )
    return app


def serve_central(settings: Settings) -> None:
    """Run the district central until interrupted."""
    import uvicorn

    systemd.configure_logging()
    store = CentralStore(settings.database_url or "", node_id=settings.node_id)
    try:
        config = uvicorn.Config(
            create_central_app(store, settings),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
        )
        log.info("campus-edge central on http://%s:%s", settings.host, settings.port)
        server = uvicorn.Server(config)
        systemd.ready_when_serving(server, f"campus-edge central on port {settings.port}")
        systemd.stop_gracefully_on_signals()
        server.run()
    finally:
        systemd.notify("STOPPING=1")
        store.close()
