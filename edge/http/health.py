"""How the node stands: /healthz for anyone, Prometheus metrics, and the sync status."""

from __future__ import annotations

import datetime as dt
import hmac
import shutil
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.security import HTTPAuthorizationCredentials

from edge.errors import AuthError
from edge.http.deps import EVENTS_ROLES, PRESENCE_ROLES, STAFF_ERRORS, NodeDep, Staff, bearer
from edge.http.responses import json_response
from edge.node import Node
from edge.school import auth
from edge.sync.hub import quarantined

router = APIRouter()


def _behind(node: Node) -> dt.timedelta:
    """Return how long a device may be silent before it counts as behind."""
    return dt.timedelta(minutes=node.settings.behind_minutes)


def _disk(node: Node) -> dict[str, Any]:
    free_mb = shutil.disk_usage(node.settings.data_dir).free // (1024 * 1024)
    return {"free_mb": free_mb, "low": free_mb < 2 * node.settings.min_free_mb}


@router.get("/healthz")
async def healthz(node: NodeDep) -> Response:
    """Tell whether the node runs, what it is, and how its readers are (503: writer dead)."""
    roster = node.roster
    dead = node.writer.dead  # taps are not recorded: 503, status writer_dead, why
    sync = node.sync.status.to_json(node.clock.now(), _behind(node)) if node.sync else None
    return json_response(
        {
            "status": "writer_dead" if dead else "ok",
            **({"detail": dead} if dead else {}),
            "node_id": node.ledger.node_id,
            "role": node.settings.role,
            "epoch": node.ledger.epoch,
            "roster_version": roster.version,
            "stations": len(roster.stations),
            "students": len(roster.students),
            "clock_synced": node.writer.clock_synced,
            "simulate": node.settings.simulate,
            "sync": sync,
            "disk": _disk(node),
            "readers": {s: r.health.to_json() for s, r in node.readers.items()},
        },
        503 if dead else 200,
    )


@router.get("/metrics", responses=STAFF_ERRORS, response_class=Response)
def metrics(
    node: NodeDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    """Prometheus text: taps, refusals, sync lag, readers, clock, disk.

    Scrape with ``metrics_token`` (settings) or an admin's staff token as bearer.
    """
    given = credentials.credentials if credentials else ""
    wanted = node.settings.metrics_token
    if not (wanted and hmac.compare_digest(given.encode(), wanted.encode())):
        if credentials is None:
            raise AuthError("this needs the metrics token or an admin token (Bearer)")
        auth.require(node.staff_of(given), EVENTS_ROLES, full=True)
    return Response(node.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/api/v1/sync/status", responses=STAFF_ERRORS, tags=["sync"])
def sync_status(node: NodeDep, who: Staff) -> Response:
    """Tell how this node and the kiosks syncing with it stand (dashboard alerts).

    ``upstream``: this node's own sync (null without ``--upstream``); ``devices``:
    every registered kiosk, ``behind`` when not heard from for ``behind_minutes``
    or when its last batch was refused; ``quarantined``: refused batches kept aside.
    """
    auth.require(who, PRESENCE_ROLES)
    now, behind = node.clock.now(), _behind(node)
    return json_response(
        {
            "node_id": node.ledger.node_id,
            "role": node.settings.role,
            "now": now.isoformat(),
            "clock_synced": node.writer.clock_synced,
            "upstream": node.sync.status.to_json(now, behind) if node.sync else None,
            "devices": node.peers.report(node.ledger.devices(), now, behind),
            "quarantined": quarantined(node),
        }
    )
