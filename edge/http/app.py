"""The HTTP surface (CONTRACT.md, HTTP): health, simulation, presence, events, pages.

``create_app(node)`` builds the FastAPI app around a Node; nothing lives in module
globals. Every error a client can cause is a 4xx with a sentence in ``detail``; a
tap is answered only after its event is durable (the writer resolves the future after
COMMIT). Large JSON answers are serialized once with ``json.dumps``, not through
FastAPI's encoder, which costs several times more on the 5,000-student picture.
"""

import asyncio
import datetime as dt
import hmac
import html
import logging
import shutil
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import AwareDatetime, BaseModel, Field

from edge import display
from edge.errors import AuthError, ReportError, TapError
from edge.http import pickup
from edge.http.deps import STAFF_ERRORS, Staff, bearer, principal
from edge.http.responses import SYNC_BODY, BodyLimit, Problem, add_error_handlers, json_response
from edge.lockout import Lockout
from edge.node import Node
from edge.projection import picture
from edge.school import auth, passes
from edge.school import roster as roster_mod
from edge.school.events import Event
from edge.school.fold import fold
from edge.store.events import SELECT_COLUMNS
from edge.sync.hub import LedgerStore, clock_steps, corrected_at, quarantined
from edge.sync.server import add_sync_routes
from edge.writer import TapResult, check_moment

log = logging.getLogger(__name__)

PRESENCE_ROLES = frozenset({"duty_leader", "guard", "admin"})
PAY_ROLES = frozenset({"duty_leader", "admin"})  # attendance and workload: fees and pay
RECORD_ROLES = frozenset({"teacher", "duty_leader", "admin"})  # a group's supervision record
ALL_STAFF = frozenset(roster_mod.ROLES)
EVENTS_ROLES = frozenset({"admin"})
# Sign-in codes are six digits, live 60 s and are used once. A caller (an address, an
# IPv6 /64) gets 5 wrong codes per 10 minutes; the node as a whole 30 in any minute, so
# no code meets more than 30 wrong guesses in its life (a chance of 3 in 100,000).
# Wrong codes never void anybody's valid code (SECURITY.md).
SIGNIN_CALLER = (5, 600.0)
SIGNIN_CAMPUS = (30, 60.0)
PIN_FAILURES = (5, 600.0)  # wrong PINs per staff member in 10 minutes


class SimTap(BaseModel):
    """A card presented to a station's simulated reader."""

    station: str = Field(min_length=1, max_length=64, examples=["K-1A"])
    uid: str = Field(
        min_length=1, max_length=512, examples=["04A2B3C4"], description="a card, or a pass's text"
    )
    at: dt.datetime | None = Field(
        default=None, description="the simulated moment; without an offset, school time"
    )


class SignIn(BaseModel):
    """The code a kiosk showed after a staff card tap."""

    code: str = Field(pattern=r"^[0-9]{6}$", examples=["042917"])
    pin: str | None = Field(
        default=None,
        pattern=r"^[0-9]{4,8}$",
        description="the staff member's PIN: without it the token allows viewing only",
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


def _disk(node: Node) -> dict[str, Any]:
    free_mb = shutil.disk_usage(node.settings.data_dir).free // (1024 * 1024)
    return {"free_mb": free_mb, "low": free_mb < 2 * node.settings.min_free_mb}


def create_app(node: Node) -> FastAPI:
    """Build the HTTP app around a node."""
    app = FastAPI(
        title="campus-edge",
        version="0.1.0",
        description="After-school custody chain at the gate: taps, presence, events.",
    )
    app.state.node = node
    responses = STAFF_ERRORS

    add_error_handlers(app)

    @app.get("/healthz")
    async def healthz() -> Response:
        """Tell whether the node runs, what it is, and how its readers are (503: writer dead)."""
        roster = node.roster
        dead = node.writer.dead  # taps are not recorded: 503, status writer_dead, why
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
                "sync": node.sync.status.to_json(node.clock.now(), behind) if node.sync else None,
                "disk": _disk(node),
                "readers": {s: r.health.to_json() for s, r in node.readers.items()},
            },
            503 if dead else 200,
        )

    if node.settings.simulate:

        @app.post(
            "/api/v1/sim/taps",
            response_model=TapAnswer,
            responses={404: {"model": Problem}, 422: {"model": Problem}, 503: {"model": Problem}},
        )
        async def sim_tap(request: Request, body: SimTap, lang: str = "zh") -> Response:
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
                    raise TapError(
                        f"station '{body.station}' is not in the roster (stations.csv)", 404
                    )
                raise TapError(
                    f"station '{body.station}' has a real reader, not a simulated one", 409
                )
            result = await asyncio.wrap_future(reader.present(body.uid, body.at))
            return json_response(result.to_json("en" if lang == "en" else "zh"))

    behind = dt.timedelta(minutes=node.settings.behind_minutes)
    store = LedgerStore(node.writer, node.settings.role, passes.public_text(node.pass_key))
    add_sync_routes(app, store, node.clock, node.peers)

    @app.get("/metrics", responses=responses, response_class=Response)
    def metrics(
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
            who = node.staff_of(given)
            auth.require(who, EVENTS_ROLES, full=True)
        return Response(
            node.metrics.render(node), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    @app.get("/api/v1/sync/status", responses=responses, tags=["sync"])
    def sync_status(who: Staff) -> Response:
        """Tell how this node and the kiosks syncing with it stand (dashboard alerts).

        ``upstream``: this node's own sync (null without ``--upstream``); ``devices``:
        every registered kiosk, ``behind`` when not heard from for ``behind_minutes``
        or when its last batch was refused; ``quarantined``: refused batches kept aside.
        """
        auth.require(who, PRESENCE_ROLES)
        now = node.clock.now()
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

    @app.get("/api/v1/presence", responses=responses)
    def presence(
        who: Staff,
        date: Annotated[dt.date | None, Query(description="school day, YYYY-MM-DD")] = None,
        at: Annotated[
            AwareDatetime | None, Query(description="the picture as it stood then")
        ] = None,
    ) -> Response:
        """Return who is on campus, where and with whom: now, or as it stood at ``at``."""
        auth.require(who, PRESENCE_ROLES)
        roster = node.roster
        calendar = roster.calendar
        if at is not None:
            check_moment(at, "at")
        if date is not None and not 2000 <= date.year <= 2100:
            raise TapError(f"date: {date} is not a school day (2000-2100)")
        if date is None:
            date = calendar.day_of(at or node.clock.now())
        if at is None:
            with node.projection.lock:
                state = node.projection.day(date)
                facts = node.projection.facts(roster, date)
                return json_response(picture(roster, state, node.clock.now(), facts))
        state = fold(date, node.ledger.iter_day(date, until=at), presorted=True)
        return json_response(picture(roster, state, at))  # fresh facts: keep the live cache live

    @app.get("/api/v1/events", responses=responses)
    def events(
        who: Staff,
        after: Annotated[
            int, Query(ge=0, le=2**63 - 1, description="cursor: 'next' of the last page")
        ] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        """Page through the ledger in ledger order."""
        auth.require(who, EVENTS_ROLES, full=True)
        page = node.ledger.events_after(after, limit)
        cursor = page[-1].rowid if page else after
        steps = clock_steps(node)
        shown = []
        for event in page:
            entry = event.to_json()
            corrected = corrected_at(event, steps)
            if corrected is not None:
                entry["at_corrected"] = corrected.isoformat()
            shown.append(entry)
        return json_response({"events": shown, "next": cursor})

    @app.get("/api/v1/stations/{station}", responses={404: {"model": Problem}})
    async def station_status(request: Request, station: str) -> Response:
        """Tell a kiosk screen what its station is and whether its reader works.

        No token: what the idle screen shows anyone (places, the head count, the
        custodian). Today's dismissal plans (``group.plans``) only to the station's
        own screen (display channel) or with a staff token.
        """
        roster = node.roster
        place = roster.stations.get(station)
        if place is None:
            raise TapError(f"station '{station}' is not in the roster (stations.csv)", 404)
        group = roster.groups.get(place.group_id or "")
        reader = node.readers.get(station)
        room: dict[str, Any] | None = None
        if group is not None:
            day = roster.calendar.day_of(node.clock.now())
            with node.projection.lock:
                state = node.projection.day(day)
                present = len(state.present_in(group.group_id))
                held = state.custodians.get(group.group_id)
            custodian = roster.staff.get(held[0]) if held else None
            book = node.projection.book
            plans = [
                {**plan.to_json(), "name": roster.students[sid].name}
                for sid in roster.expected_in_group(group.group_id, day)
                if (plan := book.plans.get((sid, day))) is not None and sid in roster.students
            ]
            room = {
                "group_id": group.group_id,
                "name": group.name,
                "room": group.room,
                "present": present,
                "expected": len(roster.expected_in_group(group.group_id, day)),
                "custodian": {"staff_id": custodian.staff_id, "name": custodian.name}
                if custodian
                else None,
            }
            if display.is_display(request, node.secret, station) or node.staff_if_any(
                request.headers.get("authorization", "")
            ):
                room["plans"] = plans
        return json_response(
            {
                "station_id": place.station_id,
                "name": place.name,
                "role": place.role,
                "group": room,
                "reader": {
                    "driver": reader.health.driver,
                    "connected": reader.health.connected,
                    "last_error": reader.health.last_error,
                }
                if reader
                else None,
                "simulate": node.settings.simulate,
            }
        )

    @app.get("/api/v1/stations/{station}/stream", responses={404: {"model": Problem}})
    async def station_stream(request: Request, station: str) -> StreamingResponse:
        """Stream a station's durable taps to its screen (Server-Sent Events).

        Only on the station's display channel (this machine, or ``X-Display-Key``):
        it carries staff sign-in codes. Events: ``hello``; ``tap`` (the answer a
        simulated tap gets, plus a one-time ``signin_code`` for a staff card);
        ``changed`` (groups whose head count moved); ``called``, ``manual_pending``,
        ``manual_cancelled``, ``fault``.
        """
        if station not in node.roster.stations:
            raise TapError(f"station '{station}' is not in the roster (stations.csv)", 404)
        if not display.is_display(request, node.secret, station):
            raise AuthError(display.refusal(station))
        subscriber = node.broadcast.subscribe(station)
        return StreamingResponse(
            node.broadcast.stream(subscriber, {"station": station}),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.get("/api/v1/stream", responses=responses)
    async def dashboard_stream(
        token: Annotated[str, Query(description="a staff token (EventSource sends no headers)")],
    ) -> StreamingResponse:
        """Stream every station's durable taps to the dashboard (Server-Sent Events)."""
        who = node.staff_of(token)
        auth.require(who, PRESENCE_ROLES)
        subscriber = node.broadcast.subscribe(None)
        return StreamingResponse(
            node.broadcast.stream(subscriber, {"staff_id": who.staff_id}),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    signin_callers = Lockout(*SIGNIN_CALLER)
    signin_campus = Lockout(*SIGNIN_CAMPUS)
    pin_failures = Lockout(*PIN_FAILURES)  # per staff member: a card is no secret

    @app.post(
        "/api/v1/signin",
        responses={401: {"model": Problem}, 422: {"model": Problem}, 429: {"model": Problem}},
    )
    def signin(request: Request, body: SignIn) -> Response:
        """Trade the code a kiosk showed after a staff card tap for a staff token.

        Wrong codes lock out their caller (5 per 10 minutes) and, past 30 a minute on
        the campus, pause sign-in by code for that minute; no valid code is voided. A
        wrong PIN counts as a wrong code for its caller, and five wrong PINs for one
        staff member lock their PIN for 10 minutes (a card can be copied; its PIN is
        what stands between a copy and a grant).
        """
        mine = signin_callers.reserve(display.caller_key(request))
        if mine is None:
            raise AuthError(
                "too many wrong codes from this device: wait 10 minutes, then tap your "
                "staff card again",
                429,
            )
        campus = signin_campus.reserve("campus")
        if campus is None:
            signin_callers.release(mine)
            raise AuthError(
                "too many wrong codes on this campus in the last minute: wait a minute and "
                "try your code again (tap your card again if it has expired)",
                429,
            )
        staff_id = node.redeem_signin_code(body.code)
        member = node.roster.staff.get(staff_id or "")
        if member is None:
            raise AuthError("that code is wrong or has expired: tap your staff card again")
        signin_campus.release(campus)  # the code was right: the campus count is not touched
        scope = "view"
        if body.pin is not None:
            stored = node.ledger.pin_hash(member.staff_id)
            if stored is None:
                signin_callers.release(mine)
                raise AuthError(
                    "no PIN is set for you: ask the admin (campus-edge pin --staff "
                    f"{member.staff_id}), or sign in without one to view"
                )
            attempt = pin_failures.reserve(member.staff_id)
            if attempt is None:
                raise AuthError(
                    "too many wrong PINs for you: wait 10 minutes, or sign in without the "
                    "PIN to view; tell the admin if it was not you",
                    429,
                )
            if not auth.check_pin(stored, body.pin):
                raise AuthError("that PIN is wrong: tap your staff card again")
            pin_failures.release(attempt)
            scope = "full"
        signin_callers.release(mine)
        token = auth.issue(
            node.secret, member.staff_id, member.role, node.clock.now(),
            node.settings.token_hours, scope,
        )  # fmt: skip
        node.writer.record_action(
            "staff_signed_in",
            {"via": "kiosk code", "role": member.role, "scope": scope},
            member.staff_id,
        ).result(timeout=30)  # recorded before the token is handed over
        return json_response(
            {"token": token, "staff_id": member.staff_id, "name": member.name,
             "role": member.role, "scope": scope}
        )  # fmt: skip

    conflicts_seen: dict[tuple[dt.date, int], list[dict[str, Any]]] = {}

    @app.get("/api/v1/conflicts", responses=responses)
    def conflicts(
        who: Staff,
        date: Annotated[dt.date | None, Query(description="school day, YYYY-MM-DD")] = None,
    ) -> Response:
        """List what kiosks did that cannot both be right (found after sync), for review.

        ``unreadable`` lists the events of the day (and pickup actions) the fold could
        not apply and skipped, with why: a person must look at them.
        """
        from edge.school import conflicts as conflicts_mod

        auth.require(who, PRESENCE_ROLES)
        roster = node.roster
        day = date or roster.calendar.day_of(node.clock.now())
        if not 2000 <= day.year <= 2100:
            raise TapError(f"date: {day} is not a school day (2000-2100)")
        # Every open dashboard asks every 15 s; the day is scanned again only when the
        # ledger has grown since (a hub's day is 40,000 events).
        key = (day, node.ledger.last_rowid())
        if key not in conflicts_seen:
            conflicts_seen.clear()
            conflicts_seen[key] = conflicts_mod.find(node.ledger.iter_day(day))
        found = [dict(item) for item in conflicts_seen[key]]
        for item in found:
            student = roster.students.get(item["subject_id"])
            item["name"] = student.name if student else item["subject_id"]
        unreadable = [{"id": event_id, "reason": why}
                      for event_id, why in node.projection.skipped(day)]  # fmt: skip
        return json_response(
            {"date": day.isoformat(), "conflicts": found, "unreadable": unreadable}
        )

    @app.get(
        "/api/v1/students/{student_id}/timeline", responses={**responses, 404: {"model": Problem}}
    )
    def timeline(
        who: Staff,
        student_id: str,
        date: Annotated[dt.date | None, Query(description="school day, YYYY-MM-DD")] = None,
    ) -> Response:
        """Return one child's day: every tap of theirs, where, what was decided and why."""
        auth.require(who, PRESENCE_ROLES)
        roster = node.roster
        if student_id not in roster.students:
            raise TapError(f"student '{student_id}' is not in the roster", 404)
        day = date or roster.calendar.day_of(node.clock.now())
        rows = (
            node.ledger.reader()
            .execute(
                f"SELECT {SELECT_COLUMNS} FROM events WHERE subject_id = ? AND day = ? "  # noqa: S608
                "ORDER BY hlc, node_id, epoch, seq",
                (student_id, day.isoformat()),
            )
            .fetchall()
        )
        entries = []
        steps = clock_steps(node)
        for row in rows:
            event = Event.from_row(row)
            answer = TapResult(event, roster).to_json()
            station = roster.stations.get(event.station)
            corrected = corrected_at(event, steps)
            entries.append(
                {
                    "at": answer["at"],
                    "at_corrected": corrected.astimezone(roster.calendar.tz).isoformat()
                    if corrected
                    else None,
                    "clock_synced": event.clock_synced,
                    "station": event.station,
                    "station_name": station.name if station else event.station,
                    "kind": event.kind,
                    "outcome": event.outcome,
                    "message": answer["message"],
                    "message_en": answer["message_en"],
                    "data": event.data,
                }
            )
        student = roster.students[student_id]
        return json_response(
            {
                "student_id": student_id,
                "name": student.name,
                "class": student.class_name,
                "date": day.isoformat(),
                "events": entries,
            }
        )

    add_report_routes(app, node, principal, responses)
    pickup.add_to(app)

    @app.get("/dashboard/rollcall", response_class=HTMLResponse, include_in_schema=False)
    def rollcall_page() -> Response:
        """Serve the emergency roll call (printable, one A4 page per group)."""
        return HTMLResponse(_page("rollcall.html"))

    @app.get("/ui/{name}", include_in_schema=False)
    def ui_file(name: str) -> Response:
        """Serve the pages' shared scripts and styles."""
        types = {".js": "text/javascript", ".css": "text/css"}
        kind = types.get(Path(name).suffix)
        if kind is None or "/" in name or name.startswith("."):
            return JSONResponse({"detail": f"no such file: {name}"}, 404)
        try:
            return Response(_page(name), media_type=f"{kind}; charset=utf-8")
        except FileNotFoundError:
            return JSONResponse({"detail": f"no such file: {name}"}, 404)

    @app.get("/photos/{name}", include_in_schema=False)
    def photo(name: str) -> Response:
        """Serve a roster photo by its content-addressed name (unguessable, immutable)."""
        if not roster_mod.PHOTO_NAME.match(name) or not (node.ledger.photos / name).is_file():
            return JSONResponse({"detail": "no such photo"}, 404)
        types = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
        kind = types[name.rsplit(".", 1)[1]]
        return Response(
            (node.ledger.photos / name).read_bytes(),
            media_type=kind,
            headers={"Cache-Control": "max-age=86400, immutable"},
        )

    @app.get("/kiosk/{station}", response_class=HTMLResponse, include_in_schema=False)
    def kiosk_page(station: str) -> Response:
        """Serve a station's tap screen."""
        if station not in node.roster.stations:
            return HTMLResponse(
                f"<h1>站点 “{html.escape(station)}” 不在名单中 / station not in the roster</h1>",
                404,
            )
        return HTMLResponse(_page("kiosk.html"))

    @app.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
    def dashboard_page() -> Response:
        """Serve the duty leader's dashboard."""
        return HTMLResponse(_page("dashboard.html"))

    app.add_middleware(
        BodyLimit, limit=node.settings.max_body_bytes, paths={"/api/v1/sync/events": SYNC_BODY}
    )
    return app


def _page(name: str) -> str:
    return resources.files("kiosk_ui").joinpath(name).read_text(encoding="utf-8")


Format = Annotated[
    str, Query(pattern="^(json|csv|xlsx|html)$", description="json, csv, xlsx or html")
]
Lang = Annotated[str, Query(pattern="^(zh|en)$", description="headers in zh or en")]
TableName = Annotated[str | None, Query(description="csv: which table (default: the first)")]
Month = Annotated[str | None, Query(description="a month, YYYY-MM (default: this month)")]
TermName = Annotated[str | None, Query(description="a term named in school.toml")]
Day = Annotated[dt.date | None, Query(description="YYYY-MM-DD")]


def add_report_routes(
    app: FastAPI,
    node: Node,
    principal: Callable[..., auth.Principal],
    responses: dict[int | str, dict[str, Any]],
) -> None:
    """Serve the reports of edge.reports as JSON, CSV, Excel or a printable page."""
    from edge import reports
    from edge.reports import files as report_files

    Staff = Annotated[auth.Principal, Depends(principal)]
    files: dict[str, Any] = {
        kind: {} for kind in ("text/csv", "text/html", report_files.MEDIA_TYPES["xlsx"])
    }
    answers: dict[int | str, dict[str, Any]] = {
        **responses,
        200: {"description": "the report, as format= asks", "content": files},
        404: {"model": Problem},
    }

    def answer(who: auth.Principal, name: str, fmt: str, lang: str, table: str | None,
               **asked: Any) -> Response:  # fmt: skip
        if asked.get("date") is not None and not 2000 <= asked["date"].year <= 2100:
            raise ReportError(f"date: {asked['date']} is not a school day (2000-2100)")
        source = reports.LedgerSource(node.ledger, node.roster)
        made = reports.make(name, source, now=node.clock.now(), **asked)
        if fmt == "json":
            return json_response(made.to_json())
        shown = {k: str(v) for k, v in asked.items() if v is not None}
        node.writer.record_action(
            "report_exported", {"report": name, "format": fmt, **shown}, who.staff_id
        ).result(timeout=30)  # who took personal data away, recorded before it leaves
        stem = "-".join([name, *(str(v) for v in shown.values())])
        if fmt == "csv":
            body = report_files.to_csv(made.table(table) if table else made.tables[0], lang)
        elif fmt == "xlsx":
            body = report_files.to_xlsx(made, lang)
        else:
            return HTMLResponse(report_files.to_html(made, lang))
        from urllib.parse import quote

        filename = quote(f"{stem}.{fmt}")
        return Response(
            body,
            media_type=report_files.MEDIA_TYPES[fmt],
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
        )

    def pay_report(name: str, summary: str) -> None:
        # Attendance and workload take the same period and need a PIN sign-in.
        def by_period(
            who: Staff,
            month: Month = None,
            term: TermName = None,
            start: Annotated[Day, Query(alias="from")] = None,
            end: Annotated[Day, Query(alias="to")] = None,
            format: Format = "json",  # noqa: A002 - the query parameter's name
            table: TableName = None,
            lang: Lang = "zh",
        ) -> Response:
            auth.require(who, PAY_ROLES, full=True)
            return answer(who, name, format, lang, table, month=month, term=term,
                          start=start, end=end)  # fmt: skip

        app.get(
            f"/api/v1/reports/{name}", responses=answers, tags=["reports"], name=name,
            summary=summary, description=summary,
        )(by_period)  # fmt: skip

    pay_report("attendance", "Student attendance per student and group, by month, term or dates")
    pay_report("workload", "Staff sessions (on time, late, complete, absent) and pay units")

    @app.get("/api/v1/reports/supervision", responses=answers, tags=["reports"])
    def supervision(
        who: Staff,
        group: Annotated[str, Query(description="the group_id")],
        date: Day = None,
        format: Format = "json",  # noqa: A002
        table: TableName = None,
        lang: Lang = "zh",
    ) -> Response:
        """Return the daily supervision record (看管记录) of one group."""
        auth.require(who, RECORD_ROLES)
        return answer(who, "supervision", format, lang, table, group=group, date=date)

    @app.get("/api/v1/reports/timeline", responses=answers, tags=["reports"])
    def timeline(
        who: Staff,
        student: Annotated[str, Query(description="the student_id")],
        date: Day = None,
        format: Format = "json",  # noqa: A002
        table: TableName = None,
        lang: Lang = "zh",
    ) -> Response:
        """One child's day: every tap, what was decided and why, and the chain of custody."""
        auth.require(who, PRESENCE_ROLES)
        return answer(who, "timeline", format, lang, table, student=student, date=date)

    @app.get("/api/v1/reports/parents", responses=answers, tags=["reports"])
    def parents(
        who: Staff,
        month: Month = None,
        format: Format = "json",  # noqa: A002
        lang: Lang = "zh",
    ) -> Response:
        """Return the month's attendance summary for parents, per group, nobody named."""
        auth.require(who, ALL_STAFF)
        return answer(who, "parents", format, lang, None, month=month)
