"""HTTP for corrections of today's records; the rules are edge.actions.corrections."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from edge.actions import corrections
from edge.http.deps import PICKUP_ERRORS, NodeDep, Staff
from edge.http.responses import json_response
from edge.text import Clean

router = APIRouter(tags=["pickup"], responses=PICKUP_ERRORS)


class CorrectionIn(BaseModel):
    """Why a record is wrong."""

    reason: Clean = Field(min_length=2, max_length=200, examples=["刷错了学生的卡"])


@router.post("/api/v1/events/{event_id}/correct")
async def correct(node: NodeDep, who: Staff, event_id: str, body: CorrectionIn) -> Response:
    """Undo a wrong sign-in or release of today with a reason; the record stays."""
    event = await corrections.correct(node.desk, who, event_id, body.reason)
    return json_response({"id": event.event_id, **event.data, "by": who.staff_id})
