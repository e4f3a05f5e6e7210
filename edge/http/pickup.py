"""HTTP for pickup as it really happens: delegates, 无卡接送, one-time codes, corrections.

Staff routes take a bearer token (granting or revoking who may collect a child needs
a PIN sign-in). The pickup screen's routes take the station's display channel
(edge.display: the kiosk itself, or its display key), the adult search and a manual
release also a staff token: a caller on the LAN gets nothing from them. A manual
release asked there is only carried out by a staff card tapped at that pickup point
within 60 s, never replaces one already waiting, and records who asked. The screen
never shows a phone number, and a phone is matched on its last 4 digits only, so a
longer number tells nothing more. Wrong pickup codes are counted before the tap is
awaited, per station.
"""

import asyncio
import base64
import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request, Response
from pydantic import BaseModel, Field

from edge import display
from edge.clock import reading
from edge.errors import AuthError, TapError
from edge.files import write_atomic
from edge.http.responses import Problem, json_response
from edge.lockout import Lockout
from edge.node import Node
from edge.school import auth, passes, proof
from edge.school.calendar import CalendarError, parse_time
from edge.school.events import Event, Tap
from edge.school.fold import PRESENT
from edge.school.pickup import (
    CODE_ISSUED,
    CODE_PREFIX,
    DELEGATE_GRANTED,
    DELEGATE_REVOKED,
    MANUAL_WINDOW,
    PASS_REVOKED,
    PLAN_SET,
    ManualRelease,
)
from edge.school.roster import PHOTO_LIMIT, PHOTO_TYPES
from edge.text import Clean

GRANT_ROLES = frozenset({"teacher", "duty_leader", "admin"})
CORRECT_ROLES = frozenset({"teacher", "guard", "duty_leader", "admin"})
_PHONE = re.compile(r"^[0-9+\-\s()]{5,20}$")
CODE_FAILURES = 5  # wrong codes at one station within CODE_LOCKOUT before it stops taking any
CODE_LOCKOUT = 600.0
SEARCHES = (20, 60.0)  # adult searches per screen (or staff member) a minute
SCREEN_ROLES = frozenset({"teacher", "guard", "duty_leader", "admin"})  # with a token


class DelegateIn(BaseModel):
    """An adult a teacher or admin names to collect one child for a day or a few."""

    student_id: str = Field(min_length=1, max_length=64)
    name: Clean = Field(min_length=1, max_length=40, examples=["张阿姨"])
    phone: Clean = Field(min_length=5, max_length=20, examples=["13800001234"])
    start: dt.date | None = Field(default=None, alias="from", description="default today")
    end: dt.date | None = Field(default=None, alias="to", description="default = from")
    photo: str | None = Field(
        default=None, max_length=3_000_000, description="a JPEG/PNG/WebP, base64"
    )


class CodeIn(BaseModel):
    """A one-time pickup code for one child, one adult, one day."""

    student_id: str = Field(min_length=1, max_length=64)
    adult_kind: str = Field(pattern="^(guardian|delegate)$")
    adult_id: str = Field(min_length=1, max_length=64)
    day: dt.date | None = Field(default=None, description="default today")


class ManualIn(BaseModel):
    """A release without a card, asked on the pickup screen."""

    student_id: str = Field(min_length=1, max_length=64)
    adult_kind: str = Field(pattern="^(guardian|delegate)$")
    adult_id: str = Field(min_length=1, max_length=64)
    reason: Clean = Field(min_length=2, max_length=200, examples=["家长忘带接送卡"])


class CodeEntry(BaseModel):
    """A pickup code typed on the pickup screen's keypad."""

    code: str = Field(pattern=r"^[0-9]{8}$", examples=["40172958"])


class PlanIn(BaseModel):
    """A child's dismissal plan for a day (放学安排)."""

    date: dt.date | None = Field(default=None, description="default today")
    batch: str | None = Field(default=None, pattern=r"^\d{2}:\d{2}$", examples=["17:00"])
    point: str | None = Field(default=None, max_length=64, description="a pickup station_id")
    mode: str = Field(default="guardian", pattern="^(guardian|alone)$")
    club_until: str | None = Field(default=None, pattern=r"^\d{2}:\d{2}$", examples=["17:30"])


class PassIn(BaseModel):
    """A signed pickup pass for one child and one adult over a date range."""

    student_id: str = Field(min_length=1, max_length=64)
    name: Clean = Field(min_length=1, max_length=40, description="the adult the pass names")
    start: dt.date | None = Field(default=None, alias="from", description="default today")
    end: dt.date | None = Field(default=None, alias="to", description="default = from")


class CorrectionIn(BaseModel):
    """Why a record is wrong."""

    reason: Clean = Field(min_length=2, max_length=200, examples=["刷错了学生的卡"])


def add_pickup_routes(
    app: FastAPI,
    node: Node,
    principal: Callable[..., auth.Principal],
    responses: dict[int | str, dict[str, Any]],
) -> None:
    """Serve delegates, manual releases, codes and corrections."""
    Staff = Annotated[auth.Principal, Depends(principal)]
    answers = {**responses, 404: {"model": Problem}, 409: {"model": Problem},
               429: {"model": Problem}}  # fmt: skip
    failures = Lockout(CODE_FAILURES, CODE_LOCKOUT)
    searches = Lockout(*SEARCHES)

    def screen_or_staff(request: Request, station: str) -> str:
        """Return who asks at a station's screen: ``display:STATION`` or a staff id."""
        if display.is_display(request, node.secret, station):
            return f"display:{station}"
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise AuthError(display.refusal(station, staff=True))
        who = node.staff_of(given.strip())  # a bad token says why (401)
        auth.require(who, SCREEN_ROLES)
        return who.staff_id

    def signed(who: auth.Principal) -> Callable[[Event], Event]:
        return proof.prover(who, node.settings.data_dir)  # staff actions carry proof

    def today() -> dt.date:
        return node.roster.calendar.day_of(node.clock.now())

    def pickup_station(station: str) -> None:
        place = node.roster.stations.get(station)
        if place is None:
            raise TapError(f"station '{station}' is not in the roster (stations.csv)", 404)
        if place.role != "pickup":
            raise TapError(f"station '{station}' is a classroom door, not a pickup point", 409)

    def adult_name(kind: str, ident: str) -> str | None:
        if kind == "delegate":
            found = node.projection.book.delegate(ident, today())
            return found.name if found else None
        guardian = node.roster.guardians.get(ident)
        return guardian.name if guardian else None

    @app.post("/api/v1/delegates", responses=answers, tags=["pickup"], status_code=201)
    def grant(who: Staff, body: DelegateIn) -> Response:
        """Name an adult who may collect one child for a day or a date range (临时委托)."""
        auth.require(who, GRANT_ROLES, full=True)
        roster = node.roster
        if body.student_id not in roster.students:
            raise TapError(f"student '{body.student_id}' is not in the roster", 404)
        if not _PHONE.match(body.phone):
            raise TapError(f"phone '{body.phone}' is not a phone number")
        start = body.start or today()
        end = body.end or start
        if start < today():
            raise TapError(f"from {start} is in the past: a delegation starts today or later")
        if end < start or (end - start).days > 30:
            raise TapError(f"from {start} to {end} is not a range of at most 31 days")
        photo = _store_photo(node, body.photo) if body.photo else None
        data = {
            "grant_id": f"D{secrets.token_hex(5)}", "student_id": body.student_id,
            "name": body.name.strip(), "phone": body.phone.strip(), "photo": photo,
            "from": start.isoformat(), "to": end.isoformat(),
        }  # fmt: skip
        node.writer.record_action(DELEGATE_GRANTED, data, who.staff_id, proof=signed(who)).result(
            timeout=30
        )
        return json_response({**data, "by": who.staff_id}, 201)

    @app.delete("/api/v1/delegates/{grant_id}", responses=answers, tags=["pickup"])
    def revoke(who: Staff, grant_id: str) -> Response:
        """Take a delegation back; it travels to every kiosk and wins over the grant."""
        auth.require(who, GRANT_ROLES, full=True)
        if grant_id not in node.projection.book.delegates:
            raise TapError(f"there is no standing delegation '{grant_id}'", 404)
        data = {"grant_id": grant_id}
        node.writer.record_action(DELEGATE_REVOKED, data, who.staff_id, proof=signed(who)).result(
            timeout=30
        )
        return json_response({**data, "revoked_by": who.staff_id})

    @app.get("/api/v1/delegates", responses=answers, tags=["pickup"])
    def delegates(
        who: Staff, student: Annotated[str | None, Query(description="one child")] = None
    ) -> Response:
        """List the delegations that hold today or later."""
        auth.require(who, GRANT_ROLES | {"guard"})
        day = today()
        shown = [d.to_json() for d in node.projection.book.delegates.values()
                 if d.end >= day and (student is None or d.student_id == student)]  # fmt: skip
        return json_response({"delegates": sorted(shown, key=lambda d: (d["from"], d["name"]))})

    @app.post("/api/v1/pickup-codes", responses=answers, tags=["pickup"], status_code=201)
    def issue_code(who: Staff, body: CodeIn) -> Response:
        """Issue a one-time pickup code for one child, one adult and one day (接送码)."""
        auth.require(who, GRANT_ROLES, full=True)
        roster = node.roster
        day = body.day or today()
        if body.student_id not in roster.students:
            raise TapError(f"student '{body.student_id}' is not in the roster", 404)
        if day < today():
            raise TapError(f"{day} is in the past")
        if body.adult_kind == "guardian":
            right = roster.pickup.get((body.student_id, body.adult_id))
            if right is None or not right.allowed:
                raise TapError(f"{body.adult_id} may not collect {body.student_id}", 409)
        else:
            found = node.projection.book.delegate(body.adult_id, day)
            if found is None or found.student_id != body.student_id:
                raise TapError(f"no delegation '{body.adult_id}' for {body.student_id} on {day}",
                               409)  # fmt: skip
        taken = {code for (d, code) in node.projection.book.codes if d == day}
        code = next(
            c for c in iter(lambda: f"{secrets.randbelow(10**8):08d}", "") if c not in taken
        )
        data = {"code": code, "day": day.isoformat(), "student_id": body.student_id,
                "adult_kind": body.adult_kind, "adult_id": body.adult_id}  # fmt: skip
        node.writer.record_action(CODE_ISSUED, data, who.staff_id, proof=signed(who)).result(
            timeout=30
        )
        return json_response(data, 201)

    @app.get("/api/v1/stations/{station}/adults", responses=answers, tags=["pickup"])
    def find_adults(
        request: Request, station: str, q: Annotated[str, Query(min_length=2, max_length=40)]
    ) -> Response:
        """Find guardians and today's delegates by name or a phone's last 4 digits (无卡接送).

        For the pickup screen (display channel) or staff: names, relations, photos and
        the children each may collect today; never a phone number. A longer number is
        matched on its last 4 digits only. 20 searches a minute per screen.
        """
        pickup_station(station)
        asker = screen_or_staff(request, station)
        if searches.reserve(asker) is None:
            raise TapError("too many searches here in the last minute: wait a minute", 429)
        roster = node.roster
        words = q.strip()
        if words.isdigit() and len(words) < 4:
            raise TapError("type at least the last 4 digits of the phone number")
        day = today()

        def matches(name: str, phone: str) -> bool:
            if not words.isdigit():
                return words in name
            return phone.replace(" ", "").endswith(words[-4:])

        with node.projection.lock:
            state = node.projection.day(day)
            book = node.projection.book

            def child(sid: str) -> dict[str, Any]:
                student = roster.students[sid]
                seen = state.students.get(sid)
                group = roster.groups.get(seen.group_id or "") if seen else None
                return {
                    "student_id": sid, "name": student.name, "class": student.class_name,
                    "state": state.state_of(roster, sid) or "not_enrolled_today",
                    "group_name": group.name if group else None,
                    "photo": f"/photos/{student.photo}" if student.photo else None,
                }  # fmt: skip

            found: list[dict[str, Any]] = []
            for guardian in roster.guardians.values():
                if matches(guardian.name, guardian.phone):
                    rights = [(sid, r) for sid, r in roster.children_of(guardian.guardian_id)]
                    found.append({
                        "adult_kind": "guardian", "adult_id": guardian.guardian_id,
                        "name": guardian.name,
                        "photo": f"/photos/{guardian.photo}" if guardian.photo else None,
                        "children": [{**child(sid), "relation": r.relation, "allowed": r.allowed}
                                     for sid, r in rights],
                    })  # fmt: skip
            for grant in book.delegates.values():
                if grant.valid_on(day) and matches(grant.name, grant.phone):
                    found.append({
                        "adult_kind": "delegate", "adult_id": grant.grant_id, "name": grant.name,
                        "photo": f"/photos/{grant.photo}" if grant.photo else None,
                        "valid": [grant.start.isoformat(), grant.end.isoformat()],
                        "children": [{**child(grant.student_id), "relation": "临时委托",
                                      "allowed": True}],
                    })  # fmt: skip
        return json_response({"adults": found[:20]})

    @app.post("/api/v1/stations/{station}/manual-release", responses=answers, tags=["pickup"])
    def ask_manual_release(request: Request, station: str, body: ManualIn) -> Response:
        """Ask to release a child without a card; a staff card tapped here within 60 s signs it.

        From the station's screen or a staff member. A request still waiting here is
        never replaced (409): sign it with a card, or cancel it first.
        """
        pickup_station(station)
        asker = screen_or_staff(request, station)
        roster = node.roster
        day = today()
        if body.student_id not in roster.students:
            raise TapError(f"student '{body.student_id}' is not in the roster", 404)
        name = adult_name(body.adult_kind, body.adult_id)
        if name is None:
            raise TapError(f"{body.adult_kind} '{body.adult_id}' is not known today", 404)
        with node.projection.lock:
            seen = node.projection.day(day).students.get(body.student_id)
            if seen is None or seen.state != PRESENT:
                raise TapError(f"{roster.students[body.student_id].name} is not on campus", 409)
            now = node.clock.now()
            waiting = node.writer.pending.get(station)
            if waiting is not None and waiting.open_at(now, reading(node.clock)):
                raise TapError(
                    f"a release of {_student_name(node, waiting.student_id)} is waiting for a "
                    f"staff card here until {_hms(node, waiting.asked_at + MANUAL_WINDOW)}: sign "
                    "it with a staff card, or cancel it first", 409)  # fmt: skip
            asked = ManualRelease(station, body.student_id, body.adult_kind, body.adult_id,
                                  body.reason.strip(), now, asker, reading(node.clock))  # fmt: skip
            node.writer.pending[station] = asked
        message = {"type": "manual_pending", "student_id": body.student_id,
                   "student": roster.students[body.student_id].name, "adult": name,
                   "expires_at": (asked.asked_at + MANUAL_WINDOW).isoformat()}  # fmt: skip
        node.broadcast.publish(message, station=station)
        return json_response({**message, "asked_by": asker,
                      "waiting_for": "a staff card tapped at this pickup point"})  # fmt: skip

    @app.delete("/api/v1/stations/{station}/manual-release", responses=answers, tags=["pickup"])
    def cancel_manual_release(request: Request, station: str) -> Response:
        """Cancel the release waiting here for a staff card (from the screen or staff)."""
        pickup_station(station)
        asker = screen_or_staff(request, station)
        with node.projection.lock:
            waiting = node.writer.pending.get(station)
            if waiting is None or not waiting.open_at(node.clock.now(), reading(node.clock)):
                raise TapError("no release is waiting for a staff card here", 404)
            del node.writer.pending[station]
        message = {"type": "manual_cancelled", "student_id": waiting.student_id,
                   "student": _student_name(node, waiting.student_id)}  # fmt: skip
        node.broadcast.publish(message, station=station)
        return json_response({**message, "cancelled_by": asker})

    @app.post("/api/v1/stations/{station}/code", responses=answers, tags=["pickup"])
    async def enter_code(request: Request, station: str, body: CodeEntry) -> Response:
        """Take a one-time pickup code typed on the pickup screen, as a tap.

        Only from the station's screen. Each code counts as a wrong one until its tap
        says otherwise, so concurrent guesses cannot pass the lockout together.
        """
        pickup_station(station)
        if not display.is_display(request, node.secret, station):
            raise AuthError(display.refusal(station))
        ticket = failures.reserve(station)
        if ticket is None:
            raise TapError("too many wrong codes here: wait 10 minutes, or use 无卡接送", 429)
        tap = Tap(station, CODE_PREFIX + body.code, body.code, node.clock.now(),
                  mono=reading(node.clock))  # fmt: skip
        try:
            result = await node.writer.submit(tap)
        except BaseException:
            failures.release(ticket)  # not saved: no code was tried
            raise
        if result.event.code != "unknown_code":
            failures.release(ticket)
        return json_response(result.to_json())

    @app.post("/api/v1/passes", responses=answers, tags=["pickup"], status_code=201)
    def issue_pass(who: Staff, body: PassIn) -> Response:
        """Issue a pickup pass signed with this hub's key (QR text a kiosk checks offline)."""
        auth.require(who, GRANT_ROLES, full=True)
        if node.settings.upstream and node.settings.role != "hub":
            raise TapError("passes are issued at the campus hub, whose key every kiosk knows", 409)
        if body.student_id not in node.roster.students:
            raise TapError(f"student '{body.student_id}' is not in the roster", 404)
        start = body.start or today()
        end = body.end or start
        if start < today() or end < start or (end - start).days > 180:
            raise TapError(f"from {start} to {end} is not a range from today of at most 181 days")
        pass_id = f"X{secrets.token_hex(6)}"
        text = passes.issue(node.pass_key, {"id": pass_id, "s": body.student_id,
                                            "n": body.name.strip(), "f": start.isoformat(),
                                            "t": end.isoformat()})  # fmt: skip
        data = {"pass_id": pass_id, "student_id": body.student_id, "name": body.name.strip(),
                "from": start.isoformat(), "to": end.isoformat()}  # fmt: skip
        node.writer.record_action(passes.ISSUED, data, who.staff_id, proof=signed(who)).result(
            timeout=30
        )
        return json_response({**data, "text": text}, 201)

    @app.delete("/api/v1/passes/{pass_id}", responses=answers, tags=["pickup"])
    def revoke_pass(who: Staff, pass_id: str) -> Response:
        """Revoke a pass: the revocation travels to every kiosk, which then refuses it."""
        auth.require(who, GRANT_ROLES, full=True)
        if not re.fullmatch(r"X[0-9a-f]{12}", pass_id):
            raise TapError(f"'{pass_id}' is not a pass id (X and 12 hex digits)", 404)
        node.writer.record_action(
            PASS_REVOKED, {"pass_id": pass_id}, who.staff_id, proof=signed(who)
        ).result(30)
        return json_response({"pass_id": pass_id, "revoked_by": who.staff_id})

    @app.put("/api/v1/students/{student_id}/plan", responses=answers, tags=["pickup"])
    def set_plan(who: Staff, student_id: str, body: PlanIn) -> Response:
        """Set a child's dismissal plan for a day; today's closes at the school's cut-off."""
        auth.require(who, GRANT_ROLES, full=True)
        roster = node.roster
        student = roster.students.get(student_id)
        if student is None:
            raise TapError(f"student '{student_id}' is not in the roster", 404)
        day = body.date or today()
        now = node.clock.now()
        cutoff = dt.datetime.combine(today(), roster.calendar.plan_cutoff, roster.calendar.tz)
        if day < today() or (day == today() and now >= cutoff):
            raise TapError(
                f"the plan for {day} can no longer change: today's plans close at "
                f"{roster.calendar.plan_cutoff:%H:%M} (school setting plan_cutoff); "
                "tell the class teacher and the gate instead", 409)  # fmt: skip
        if body.point is not None:
            pickup_station(body.point)
        if body.mode == "alone" and not student.walk_alone:
            raise TapError(f"{student.name} has no written consent to leave alone "
                           "(students.csv walk_alone)", 409)  # fmt: skip
        for text, name in ((body.batch, "batch"), (body.club_until, "club_until")):
            if text is not None:
                try:
                    parse_time(text, name)
                except CalendarError as err:
                    raise TapError(str(err)) from err
        data = {"student_id": student_id, "date": day.isoformat(), "batch": body.batch,
                "point": body.point, "mode": body.mode, "club_until": body.club_until}  # fmt: skip
        node.writer.record_action(PLAN_SET, data, who.staff_id, proof=signed(who)).result(
            timeout=30
        )
        return json_response({**data, "by": who.staff_id})

    @app.get("/api/v1/students/{student_id}/plan", responses=answers, tags=["pickup"])
    def get_plan(who: Staff, student_id: str, date: dt.date | None = None) -> Response:
        """Return a child's dismissal plan for a day (null when none was set)."""
        auth.require(who, GRANT_ROLES | {"guard"})
        if student_id not in node.roster.students:
            raise TapError(f"student '{student_id}' is not in the roster", 404)
        plan = node.projection.book.plans.get((student_id, date or today()))
        return json_response({"plan": plan.to_json() if plan else None})

    @app.post("/api/v1/events/{event_id}/correct", responses=answers, tags=["pickup"])
    async def correct(who: Staff, event_id: str, body: CorrectionIn) -> Response:
        """Undo a wrong sign-in or release of today with a reason; the record stays."""
        auth.require(who, CORRECT_ROLES, full=True)
        future = node.writer.correct(event_id, who.staff_id, body.reason.strip(), proof=signed(who))
        event = await asyncio.wrap_future(future)
        return json_response({"id": event.event_id, **event.data, "by": who.staff_id})


def _student_name(node: Node, student_id: str) -> str:
    student = node.roster.students.get(student_id)
    return student.name if student else student_id


def _hms(node: Node, moment: dt.datetime) -> str:
    return moment.astimezone(node.roster.calendar.tz).strftime("%H:%M:%S")


def _store_photo(node: Node, encoded: str) -> str:
    try:
        data = base64.b64decode(encoded, validate=True)
    except ValueError as err:
        raise TapError("photo: is not base64") from err
    if len(data) > PHOTO_LIMIT:
        raise TapError("photo: make it smaller than 2 MB")
    kind = next((k for magic, k in PHOTO_TYPES.items() if data.startswith(magic)), None)
    if kind is None:
        raise TapError("photo: is not a JPEG, PNG or WebP image")
    name = f"{hashlib.sha256(data).hexdigest()}.{kind}"
    folder = node.ledger.photos
    folder.mkdir(exist_ok=True)
    if not (folder / name).exists():
        write_atomic(folder / name, data)
    return name
