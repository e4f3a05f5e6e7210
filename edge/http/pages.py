"""The pages a browser opens: kiosk and dashboard screens, their scripts, roster photos.

Served from the installed package (kiosk_ui), with no build step; not in the OpenAPI
schema.
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Response
from fastapi.responses import HTMLResponse, JSONResponse

from edge.http.deps import NodeDep
from edge.school import roster as roster_mod

router = APIRouter(include_in_schema=False)
SCRIPTS = {".js": "text/javascript", ".css": "text/css"}
PHOTOS = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


def _page(name: str) -> str:
    return resources.files("kiosk_ui").joinpath(name).read_text(encoding="utf-8")


@router.get("/dashboard/rollcall", response_class=HTMLResponse)
def rollcall_page() -> Response:
    """Serve the emergency roll call (printable, one A4 page per group)."""
    return HTMLResponse(_page("rollcall.html"))


@router.get("/ui/{name}")
def ui_file(name: str) -> Response:
    """Serve the pages' shared scripts and styles."""
    kind = SCRIPTS.get(Path(name).suffix)
    if kind is None or "/" in name or name.startswith("."):
        return JSONResponse({"detail": f"no such file: {name}"}, 404)
    try:
        return Response(_page(name), media_type=f"{kind}; charset=utf-8")
    except FileNotFoundError:
        return JSONResponse({"detail": f"no such file: {name}"}, 404)


@router.get("/photos/{name}")
def photo(node: NodeDep, name: str) -> Response:
    """Serve a roster photo by its content-addressed name (unguessable, immutable)."""
    if not roster_mod.PHOTO_NAME.match(name) or not (node.ledger.photos / name).is_file():
        return JSONResponse({"detail": "no such photo"}, 404)
    return Response(
        (node.ledger.photos / name).read_bytes(),
        media_type=PHOTOS[name.rsplit(".", 1)[1]],
        headers={"Cache-Control": "max-age=86400, immutable"},
    )


@router.get("/kiosk/{station}", response_class=HTMLResponse)
def kiosk_page(node: NodeDep, station: str) -> Response:
    """Serve a station's tap screen."""
    if station not in node.roster.stations:
        return HTMLResponse(
            f"<h1>站点 “{html.escape(station)}” 不在名单中 / station not in the roster</h1>",
            404,
        )
    return HTMLResponse(_page("kiosk.html"))


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard_page() -> Response:
    """Serve the duty leader's dashboard."""
    return HTMLResponse(_page("dashboard.html"))
