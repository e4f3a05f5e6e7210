"""Patrol (巡查): a phone's checkpoint visit, a kiosk screen's confirm, and the day's rounds.

A visit sent by a phone (``visit``) is recorded as a ``patrol_visit`` event of this
node, attributed to the token's staff member, made at the moment the phone read the
tag (``at``: a visit made offline is sent later with it). The same ``visit_id`` sent
twice (an answer lost, the phone's queue sent again) records one visit. A kiosk's
confirm (``confirm``) is a tap of the visiting staff member's card, decided by the
rules like a second tap. ``day_rounds`` shapes edge.school.patrol's rounds for the API.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from edge.actions.desk import Desk
from edge.clock import reading
from edge.errors import TapError
from edge.school import auth, cards, patrol
from edge.school import events as ev
from edge.school.events import Decision, Event, Tap
from edge.school.roster import Roster
from edge.writer import TapResult

VISIT_ROLES = frozenset({"duty_leader", "guard"})  # who sends a checkpoint visit
VIEW_ROLES = frozenset({"duty_leader", "guard", "admin"})  # who reads the rounds
PHONE_STATION = "handheld"  # the station a phone's visits are recorded at
OFFLINE_DAYS = 7  # a visit queued offline is taken this long after it was made
AHEAD = dt.timedelta(minutes=5)  # a phone's clock may run this far ahead of ours


def visit(
    desk: Desk, who: auth.Principal, tag: str, at: dt.datetime | None, visit_id: str | None,
    sent_at: dt.datetime | None = None,
) -> tuple[dict[str, Any], bool]:  # fmt: skip
    """Record a checkpoint visit by ``who``; return (the visit, whether it is new).

    ``sent_at`` (the phone's clock when it sent the visit) corrects a phone whose clock
    is wrong: the visit is taken as made ``sent_at - at`` before this node's now.
    TapError: 404 for a tag that is no checkpoint's, 422 for a moment too far off.
    """
    auth.require(who, VISIT_ROLES)
    roster, now = desk.roster, desk.now()
    byte_order: cards.ByteOrder = "big" if roster.calendar.card_byte_order == "big" else "little"
    try:
        card = cards.normalize(tag, byte_order=byte_order)
    except cards.CardNumberError as err:
        raise TapError(f"tag: {err}") from err
    holder = roster.cards.get(card)
    if holder is None or holder[0] != "checkpoint":
        raise TapError(f"不是本校的巡查点标签 / tag {tag} is not a checkpoint of this school "
                       "(checkpoints.csv)", 404)  # fmt: skip
    if at is None:
        at = now
    elif sent_at is not None:
        if at > sent_at:
            raise TapError("at: the tag cannot have been read after the visit was sent (sent_at)")
        at = now - (sent_at - at)
    if not now - dt.timedelta(days=OFFLINE_DAYS) <= at <= now + AHEAD:
        raise TapError(f"at: {at.isoformat()} is not within the last {OFFLINE_DAYS} days "
                       "of this node's clock (check the phone's date)")  # fmt: skip
    day = roster.calendar.day_of(at)
    if visit_id is not None:
        with desk.projection.lock:
            earlier = desk.projection.day(day).patrol
            held = [e for e in earlier if e.data.get("visit_id") == visit_id]
        if held:
            return shape(roster, held[0]), False
    data: dict[str, Any] = {"checkpoint_id": holder[1], "via": "phone"}
    if visit_id is not None:
        data["visit_id"] = visit_id
    made = Decision(ev.ACCEPTED, ev.PATROL_VISIT, "patrol_checkpoint", "staff", who.staff_id, data)
    event = desk.writer.record_action("", {}, station=PHONE_STATION, decision=made,
                                      at=at).result(timeout=30)  # fmt: skip
    answer = shape(roster, event)
    desk.publish({"type": "tap", **TapResult(event, roster).to_json()}, None)  # the dashboards
    return answer, True


async def confirm(desk: Desk, station: str, visit_event: str) -> TapResult:
    """Take a group over after a patrol visit, confirmed on the classroom's screen.

    Recorded as the visiting staff member's tap there (the rules check the visit is
    this station's last, and within 60 s); TapError 404/409 when there is none.
    """
    place = desk.roster.stations.get(station)
    if place is None or place.role != "classroom":
        raise TapError(f"station '{station}' is not a classroom of the roster", 404)
    with desk.projection.lock:
        last = desk.projection.day(desk.today()).patrol_staff.get(station)
    staff = desk.roster.staff.get(last[0]) if last is not None else None
    if last is None or last[2] != visit_event or staff is None or not staff.card:
        raise TapError("no patrol visit waits for a confirm here: tap the card again", 409)
    clock = desk.writer.clock
    tap = Tap(station, staff.card, staff.card, clock.now(), {"patrol_confirm": visit_event},
              reading(clock))  # fmt: skip
    return await desk.writer.submit(tap)


def shape(roster: Roster, event: Event) -> dict[str, Any]:
    """Return a visit as the API shows it."""
    data = event.data
    staff = roster.staff.get(event.subject_id or "")
    shown: dict[str, Any] = {
        "event_id": event.event_id,
        "staff_id": event.subject_id,
        "staff_name": staff.name if staff else None,
        "at": event.at.astimezone(roster.calendar.tz).isoformat(),
        "node_id": event.node_id,
    }
    if data.get("checkpoint_id"):
        point = roster.checkpoints.get(data["checkpoint_id"])
        shown |= {"checkpoint_id": data["checkpoint_id"], "name": point.name if point else None}
    else:
        place = roster.stations.get(event.station)
        shown |= {
            "station": event.station,
            "name": place.name if place else None,
            "head_count": data.get("head_count"),
            "missing": data.get("missing", []),
        }
    return shown


def day_rounds(desk: Desk, day: dt.date, now: dt.datetime) -> dict[str, Any]:
    """Return the day's rounds at ``now``: visits, visited, not yet, missed; and the alerts."""
    roster = desk.roster
    with desk.projection.lock:
        events = list(desk.projection.day(day).patrol)
    shown = {e.event_id: shape(roster, e) for e in events}
    places = roster.patrol_places()
    names = {p: _place_name(roster, p) for p in places}
    answer: dict[str, Any] = {
        "date": day.isoformat(), "enabled": roster.calendar.patrol is not None,
        "now": now.astimezone(roster.calendar.tz).isoformat(),
        "places": [{"id": p, "name": names[p]} for p in places], "rounds": [], "alerts": [],
    }  # fmt: skip
    plan = roster.calendar.patrol
    if plan is None:
        return answer
    tz = roster.calendar.tz
    for found in patrol.rounds(plan, day, tz, roster.calendar.service_end_at(day), places,
                               patrol.visits(events), now):  # fmt: skip
        missed = list(found.not_yet) if found.alert else []
        item = {
            "opens": found.opens.isoformat(), "due": found.due.isoformat(), "state": found.state,
            "visits": [shown[v.event_id] for v in found.visits], "visited": list(found.visited),
            "not_yet": [] if found.alert else list(found.not_yet), "missed": missed,
        }  # fmt: skip
        answer["rounds"].append(item)
        if found.alert:
            answer["alerts"].append({"due": item["due"], "state": found.state, "missed": missed,
                                     "names": [names[p] for p in missed]})  # fmt: skip
    return answer


def _place_name(roster: Roster, place: str) -> str:
    station = roster.stations.get(place)
    if station is not None:
        return station.name
    point = roster.checkpoints.get(place)
    return point.name if point else place
