"""The simulation tap: a card presented to a station's simulated reader (``--simulate``).

Included only when the node simulates. The tap is answered once its event is
durable (the writer resolves the future after COMMIT); this path is benchmarked
against a bare /healthz, so it does nothing more than the reader's own tap.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from edge import display
from edge.errors import AuthError, TapError
from edge.http.deps import NodeDep
from edge.http.responses import Problem, json_response

router = APIRouter()


class SimTap(BaseModel):
    """A card presented to a station's simulated reader."""

    station: str = Field(min_length=1, max_length=64, examples=["K-1A"])
    uid: str = Field(
        min_length=1, max_length=512, examples=["04A2B3C4"], description="a card, or a pass's text"
    )
    at: dt.datetime | None = Field(
        default=None, description="the simulated moment; without an offset, school time"
    )


class TapAnswer(BaseModel):
    """The answer to a tap, sent once its event is durable."""

    outcome: str
    event_id: str
    kind: str
    code: str
    message: str
    message_en: str
    station: str
    at: str
    subject: dict[str, Any] | None = None
    missing: list[dict[str, Any]] | None = None
    alert: str | None = None
    warning: str | None = None


@router.post(
    "/api/v1/sim/taps",
    response_model=TapAnswer,
    responses={404: {"model": Problem}, 422: {"model": Problem}, 503: {"model": Problem}},
)
async def sim_tap(request: Request, node: NodeDep, body: SimTap, lang: str = "zh") -> Response:
    """Present a card at a station's simulated reader; answer once durable.

    Only from this machine (loopback) unless ``simulate_from_anywhere`` is set.
    """
    if not node.settings.simulate_from_anywhere and not display.is_local(request):
        raise AuthError(
            "simulated taps are taken only from this machine "
            "(set simulate_from_anywhere to allow others)",
            403,
        )
    reader = node.simulated(body.station)
    if reader is None:
        if body.station not in node.roster.stations:
            raise TapError(f"station '{body.station}' is not in the roster (stations.csv)", 404)
        raise TapError(f"station '{body.station}' has a real reader, not a simulated one", 409)
    result = await asyncio.wrap_future(reader.present(body.uid, body.at))
    return json_response(result.to_json("en" if lang == "en" else "zh"))
