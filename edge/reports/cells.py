"""Cells several reports show the same way: times, names, rates, how a child left."""

from __future__ import annotations

import datetime as dt
from typing import Any

from edge.school import events as ev
from edge.school import messages
from edge.school.events import Event
from edge.school.roster import Roster

KIND_ZH = {"basic": "基础看护", "club": "社团活动"}


def hm(moment: dt.datetime | None, roster: Roster, seconds: bool = False) -> str:
    """Return a moment as the school's wall-clock time (HH:MM, or HH:MM:SS)."""
    if moment is None:
        return ""
    return moment.astimezone(roster.calendar.tz).strftime("%H:%M:%S" if seconds else "%H:%M")


def name(table: dict[str, Any], ident: str | None) -> str:
    """Return the name of a roster row by its id (the id itself when it is gone)."""
    if ident is None:
        return ""
    person = table.get(ident)
    return person.name if person is not None else ident


def group_name(roster: Roster, group_id: str | None) -> str:
    """Return a group's name (its id when the roster does not name it)."""
    group = roster.groups.get(group_id or "")
    return group.name if group else (group_id or "")


def rate(part: int, whole: int) -> float | None:
    """Return part / whole to four places, or None when there is no whole."""
    return round(part / whole, 4) if whole else None


def message(roster: Roster, event: Event) -> str:
    """Return the sentence the system gave for an event, as the screens showed it."""
    data = dict(event.data)
    if event.subject_kind and event.subject_id:
        data.setdefault(f"{event.subject_kind}_id", event.subject_id)
    data.setdefault("station_id", event.station)
    data.setdefault("card", event.uid or event.card)
    return messages.render(event.code, roster, data)


def ends(roster: Roster, event: Event) -> tuple[str, str, str]:
    """Return (how they left, with whom, where) for a release, a walk home or a move."""
    station = roster.stations.get(event.station)
    where = station.name if station else event.station
    if event.kind == ev.RELEASED:
        how = "无卡接送" if event.data.get("manual") else "家长接走"
        if event.data.get("delegate_name"):
            return how, f"{event.data['delegate_name']}（临时委托）", where
        guardian = name(roster.guardians, event.data.get("guardian_id"))
        relation = event.data.get("relation") or ""
        return how, f"{guardian}（{relation}）" if relation else guardian, where
    if event.kind == ev.LEFT_ALONE:
        return "自行离校", "", where
    return f"转到{group_name(roster, event.data.get('group_id'))}", "", where
