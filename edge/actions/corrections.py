"""Corrections: a wrong sign-in, release or walk home of today undone with a reason.

The record stays; a new event names it. The writer checks it on its own thread
against the ledger (it exists, is of today, is not corrected yet).
"""

from __future__ import annotations

import asyncio

from edge.actions.desk import Desk
from edge.school import auth
from edge.school.events import Event
from edge.school.proof import CORRECT_ROLES


async def correct(desk: Desk, who: auth.Principal, event_id: str, reason: str) -> Event:
    """Undo record ``event_id`` for ``reason``; return the correcting event once durable."""
    auth.require(who, CORRECT_ROLES, full=True)
    future = desk.writer.correct(event_id, who.staff_id, reason.strip(), proof=desk.prove(who))
    return await asyncio.wrap_future(future)
