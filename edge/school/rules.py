"""The school's rules for a tap: a pure function of (tap, roster, today's state).

``decide`` does no I/O and reads no clock: the tap carries its moment. It follows
CONTRACT.md's table "What a tap does", row by row, in that order:

1. the same card within the debounce window at the same station -> ignored (real
   elapsed time: see ``_debounced``; a wall clock stepped back does not reopen it);
2. an unknown card -> denied (recorded so an admin can enrol it);
3. classroom station: a student signs in (or moves, or re-enters after release with
   a warning); staff take custody of the group with a head count naming the missing;
4. pickup station: a guardian opens a pickup context (replacing any open one); a
   student whom that guardian may collect is released to them; otherwise a
   walk-alone student leaves alone; otherwise the tap is refused, loudly when the
   open context's guardian is barred from that child (pickup.csv allowed = 0).

With ``[patrol]``, a patrolling role's staff card at a classroom records a visit and
keeps custody where it is, until a second tap or the screen confirms (``_patrol``); a
checkpoint tag at any station records a checkpoint visit (``_checkpoint``).

``late_stage`` says how far the late pickups of a day have escalated at a moment.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from edge.clock import within
from edge.school import events as ev
from edge.school.calendar import Calendar
from edge.school.events import Decision, Tap
from edge.school.fold import ON_LEAVE, PRESENT, Context, DayState
from edge.school.passes import CARD_PREFIX as PASS_PREFIX
from edge.school.passes import holds_on
from edge.school.pickup import CODE_PREFIX, ManualRelease, PickupBook
from edge.school.roster import Roster


@dataclass(frozen=True)
class Timing:
    """The windows the rules use; school settings with CONTRACT.md's defaults."""

    debounce: dt.timedelta = dt.timedelta(seconds=10)
    # Without a monotonic reading of both taps, a tap up to this much before the last
    # one (the wall clock stepped back) counts as within the debounce window; a bigger
    # step is a clock that was far ahead, and must not lock a card out for that long.
    step_back: dt.timedelta = dt.timedelta(minutes=5)
    pickup_context: dt.timedelta = dt.timedelta(seconds=120)
    handover: dt.timedelta = dt.timedelta(seconds=60)
    patrol_confirm: dt.timedelta = dt.timedelta(seconds=60)  # a patrol visit's takeover


def decide(
    tap: Tap,
    roster: Roster,
    state: DayState,
    timing: Timing = Timing(),  # noqa: B008
    book: PickupBook | None = None,
    pending: ManualRelease | None = None,
    clock_trusted: bool = True,
) -> Decision:
    """Decide what a tap means, without side effects.

    ``clock_trusted`` False (a Pi not yet set by NTP nor following its hub: it may have
    booted with yesterday's date) refuses the authority that holds only on some days,
    a one-time code, a pass, a delegate's manual release: which day it is cannot be
    told. A guardian's card, which holds every day, works as always.

    ``book`` holds delegates and one-time codes; ``pending`` a manual release asked on
    this station's screen, which a staff card signs.
    """
    previous = state.last_taps.get((tap.station, tap.card))
    confirm = _confirm_id(tap)  # the screen's confirm of a patrol visit: never debounced
    if previous is not None and confirm is None and _debounced(tap, previous, state, timing):
        return Decision(
            ev.IGNORED, ev.DEBOUNCED, "debounced", data={"previous_at": previous.isoformat()}
        )
    book = book or PickupBook()
    if not clock_trusted and tap.card.startswith((CODE_PREFIX, PASS_PREFIX)):
        return _untrusted_clock(None)
    if tap.card.startswith(CODE_PREFIX):
        return _code(tap, roster, state, book)
    if tap.card.startswith(PASS_PREFIX):
        return _pass(tap, roster, state, book)

    holder = roster.cards.get(tap.card)
    if holder is None:
        return Decision(ev.DENIED, ev.UNKNOWN_CARD, "unknown_card", data={"alert": "normal"})
    kind, ident = holder
    if kind == "checkpoint":
        return _checkpoint(tap, roster, state, timing, ident)
    station = roster.stations[tap.station]
    if station.role == "classroom":
        return _at_classroom(tap, roster, state, timing, station.group_id or "", kind, ident)
    if (
        not clock_trusted
        and kind == "staff"
        and pending is not None
        and (pending.adult_kind == "delegate" and pending.station == tap.station)
    ):
        return _untrusted_clock(pending.student_id, manual=True)  # the request is used up
    decision = _at_pickup(tap, roster, state, timing, kind, ident, book, pending)
    if decision.kind in (ev.RELEASED, ev.LEFT_ALONE) and decision.subject_id:
        return _against_plan(decision, tap, roster, state, book)
    return decision


def _debounced(tap: Tap, previous: dt.datetime, state: DayState, timing: Timing) -> bool:
    """Tell whether a tap comes within the debounce window of the card's last one there.

    Real elapsed time decides, not the wall clock, which NTP or following the hub may
    step back: two readings of one process's monotonic clock measure it exactly; a last
    tap from before this process began lies at least this process's age back. Only
    without readings does the wall clock decide, a step back (up to
    ``timing.step_back``) counting as within the window.
    """
    window = timing.debounce.total_seconds()
    before = state.last_reading(tap.station, tap.card)
    if tap.mono is not None and before is not None:
        if tap.mono[0] == before[0]:
            return tap.mono[1] - before[1] < window
        if tap.mono[1] >= window:
            return False  # the last tap was before this process began, longer ago than that
    return -timing.step_back <= tap.at - previous < timing.debounce


def _untrusted_clock(student_id: str | None, **extra: object) -> Decision:
    """Refuse authority that holds only on some days: this node cannot tell which day it is."""
    data = {"reason": "clock_untrusted", "alert": "alert", **extra}
    subject = "student" if student_id else None
    return Decision(ev.DENIED, ev.REFUSED, "clock_untrusted", subject, student_id, data)


def _against_plan(
    decision: Decision, tap: Tap, roster: Roster, state: DayState, book: PickupBook
) -> Decision:
    """Warn when a release departs from the child's plan for today (it still goes)."""
    plan = book.plans.get((decision.subject_id or "", state.day))
    if plan is None:
        return decision
    notes = plan.conflicts_with(decision.kind, tap.station, tap.at, roster.calendar.tz)
    if not notes:
        return decision
    data = {**decision.data, "warning": "plan_mismatch", "plan_notes": notes,
            "plan": plan.to_json()}  # fmt: skip
    return Decision(decision.outcome, decision.kind, decision.code, decision.subject_kind,
                    decision.subject_id, data)  # fmt: skip


def _code(tap: Tap, roster: Roster, state: DayState, book: PickupBook) -> Decision:
    """Take a one-time pickup code entered at a station: it opens a context for one child.

    The code's adult must still hold authority for its child now (roster, book), or the
    code is refused, loudly when the roster now bars them.
    """
    code = tap.card.removeprefix(CODE_PREFIX)
    station = roster.stations[tap.station]
    issued = book.codes.get((state.day, code))
    refusal = None
    if station.role != "pickup":
        refusal = "code_at_classroom"
    elif issued is None or issued.student_id not in roster.students:
        refusal = "unknown_code"
    elif code in state.codes_used:
        refusal = "code_used"
    if refusal is not None or issued is None:
        return Decision(ev.DENIED, ev.REFUSED, refusal or "unknown_code", None, None,
                        {"reason": refusal, "alert": "normal"})  # fmt: skip
    lapsed = _authority(issued.adult_kind, issued.adult_id, issued.student_id, roster, state,
                        book)  # fmt: skip
    grant = book.delegates.get(issued.adult_id) if issued.adult_kind == "delegate" else None
    named = {"delegate_name": grant.name} if grant else {}
    if lapsed is not None:
        return _refused(issued.student_id, lapsed, {"via": "code", **named})
    data: dict[str, object] = {
        "students": [_child(roster, state, issued.student_id, book)],
        "only": [issued.student_id],
        "adult_kind": issued.adult_kind,
        "code": code,
        "via": "code",
        **named,
    }
    return Decision(ev.ACCEPTED, ev.PICKUP_OPENED, "pickup_opened", issued.adult_kind,
                    issued.adult_id, data)  # fmt: skip


Lapse = tuple[str, dict[str, object]]  # a refusal code and what the guard is told


def _authority(
    adult_kind: str,
    adult_id: str,
    sid: str,
    roster: Roster,
    state: DayState,
    book: PickupBook,
    valid: tuple[str, str] | None = None,
) -> Lapse | None:
    """Return why an adult may not collect a child now (None: they may).

    Checked against what is in force at this moment: the roster's pickup row (a
    guardian), the book (a delegate's grant stands today, for this child, not revoked),
    the revoked passes and the pass's own dates (a pass).
    """
    if adult_kind == "pass":
        details: dict[str, object] = {"pass_id": adult_id}
        if adult_id in book.revoked_passes:
            return "invalid_pass", details | {"reason": "pass_revoked"}
        dates = {"f": valid[0], "t": valid[1]} if valid else {}
        if not holds_on(dates, state.day):
            return "invalid_pass", details | {"reason": "pass_expired"}
        return None
    if adult_kind == "delegate":
        grant = book.delegate(adult_id, state.day)
        if grant is None or grant.student_id != sid:
            return "delegate_expired", {"delegate_id": adult_id}
        return None
    right = roster.pickup.get((sid, adult_id))
    if adult_id not in roster.guardians or right is None:
        return "unauthorized_pickup", {"guardian_id": adult_id}
    if not right.allowed:
        return "barred_guardian", {"guardian_id": adult_id}
    return None


def _refused(sid: str, lapse: Lapse, extra: dict[str, object]) -> Decision:
    """Refuse a child's release for a lapsed authority: an alert, loud for a barred adult."""
    code, details = lapse
    data = {"reason": code, **extra, **details,
            "alert": "loud" if code == "barred_guardian" else "alert"}  # fmt: skip
    return Decision(ev.DENIED, ev.REFUSED, code, "student", sid, data)


def _pass(tap: Tap, roster: Roster, state: DayState, book: PickupBook) -> Decision:
    """Take a signed pass scanned at a station: it opens a context for its one child."""
    payload = tap.credential or {"error": "malformed"}
    refusal = payload.get("error")
    sid = str(payload.get("s", ""))
    if refusal is None:
        if roster.stations[tap.station].role != "pickup":
            refusal = "pass_at_classroom"
        elif payload.get("id") in book.revoked_passes:
            refusal = "pass_revoked"
        elif not holds_on(payload, state.day):
            refusal = "pass_expired"
        elif sid not in roster.students:
            refusal = "malformed"
    if refusal is not None:
        return Decision(ev.DENIED, ev.REFUSED, "invalid_pass", None, None,
                        {"reason": refusal, "alert": "alert", "pass_id": payload.get("id"),
                         "student_id": sid or None})  # fmt: skip
    data: dict[str, object] = {
        "students": [_child(roster, state, sid, book)],
        "only": [sid],
        "adult_kind": "pass",
        "delegate_name": payload.get("n"),
        "pass_id": payload.get("id"),
        "valid": [payload.get("f"), payload.get("t")],
        "via": "pass",
    }
    return Decision(ev.ACCEPTED, ev.PICKUP_OPENED, "pickup_opened", "pass", str(payload["id"]),
                    data)  # fmt: skip


def _child(
    roster: Roster, state: DayState, sid: str, book: PickupBook | None = None
) -> dict[str, object]:
    child: dict[str, object] = {
        "student_id": sid,
        "state": state.state_of(roster, sid) or "not_enrolled_today",
        "group_id": _group_of(state, sid),
    }
    plan = book.plans.get((sid, state.day)) if book is not None else None
    if plan is not None:
        child["plan"] = plan.to_json()  # the guard sees today's plan beside the child
    return child


def _at_classroom(
    tap: Tap, roster: Roster, state: DayState, timing: Timing, group_id: str, kind: str, ident: str
) -> Decision:
    if kind == "student":
        before = state.students.get(ident)
        data: dict[str, object] = {"group_id": group_id}
        code = "signed_in"
        if before is not None and before.state == PRESENT:
            if before.group_id == group_id:
                code = "already_here"
            else:
                data["from_group"] = before.group_id
                code = "moved"
        elif before is not None:
            # Released or gone home, and back at a classroom door: signed in again, but a
            # staff member must know the school's record said the child had left.
            data["reentry"] = True
            data["previous_state"] = before.state
            data["warning"] = "reentry"
            code = "reentry"
        elif roster.leave_recorded(ident, state.day):  # even on a day not enrolled
            data["warning"] = "on_leave"
            code = "signed_in_on_leave"
        return Decision(ev.ACCEPTED, ev.SIGNED_IN, code, "student", ident, data)

    if kind == "staff":
        present = sorted(state.present_in(group_id))
        expected = roster.expected_in_group(group_id, state.day)
        missing = sorted(
            sid
            for sid in expected
            if sid not in state.students and not roster.on_leave(sid, state.day)
        )
        on_leave = sorted(sid for sid in expected if state.state_of(roster, sid) == ON_LEAVE)
        previous = state.custodians.get(group_id)
        data = {
            "group_id": group_id,
            "head_count": len(present),
            "present": present,
            "expected": len(expected),
            "missing": missing,
            "on_leave": on_leave,
            "previous_custodian": previous[0] if previous else None,
        }
        plan = roster.calendar.patrol
        if plan is not None and roster.staff[ident].role in plan.roles:
            return _patrol(tap, state, timing, ident, data)
        if roster.calendar.two_party_handover and previous is not None:
            return _two_party(tap, state, timing, group_id, ident, previous[0], data)
        return Decision(ev.ACCEPTED, ev.CUSTODY_TAKEN, "custody_taken", "staff", ident, data)

    return Decision(
        ev.DENIED,
        ev.REFUSED,
        "guardian_at_classroom",
        "guardian",
        ident,
        {"reason": "guardian_at_classroom", "alert": "normal"},
    )


def _confirm_id(tap: Tap) -> str | None:
    """Return the patrol visit a screen's confirm names (None: a card's own tap)."""
    if tap.credential is None or tap.card.startswith(PASS_PREFIX):
        return None
    return str(tap.credential.get("patrol_confirm") or "") or None


def _patrol(
    tap: Tap, state: DayState, timing: Timing, ident: str, data: dict[str, object]
) -> Decision:
    """Record a patrol tap at a classroom as a visit (count as it stands); custody stays.

    The same card again 10-60 s after the visit (before 10 s it is debounced), or the
    screen's confirm of that visit within 60 s, takes the group over.
    """
    asked = _confirm_id(tap)
    visit = state.patrol_staff.get(tap.station)
    if visit is not None and visit[0] == ident and asked in (None, visit[2]):
        if within(timing.patrol_confirm, visit[1], state.reading_of(visit[2]), tap.at, tap.mono):
            data |= {"confirms": visit[2], "confirmed": "screen" if asked else "tap"}
            return Decision(ev.ACCEPTED, ev.CUSTODY_TAKEN, "patrol_custody_taken", "staff",
                            ident, data)  # fmt: skip
    if asked is not None:
        return Decision(ev.DENIED, ev.REFUSED, "patrol_confirm_expired", "staff", ident,
                        {"group_id": data["group_id"], "reason": "patrol_confirm_expired",
                         "alert": "normal"})  # fmt: skip
    data |= {"station_id": tap.station, "custodian": data.pop("previous_custodian")}
    return Decision(ev.ACCEPTED, ev.PATROL_VISIT, "patrol_visit", "staff", ident, data)


def _checkpoint(tap: Tap, roster: Roster, state: DayState, timing: Timing, ident: str) -> Decision:
    """Record a checkpoint tag read at a station, by whom tapped a patrol card there just before.

    The staff member whose card (a [patrol] role) tapped at this station within the
    last 60 s is its patroller; otherwise the visit is recorded with the tag alone.
    """
    data: dict[str, object] = {"checkpoint_id": ident, "station_id": tap.station, "via": "kiosk"}
    last, plan = state.patrol_staff.get(tap.station), roster.calendar.patrol
    staff = roster.staff.get(last[0]) if last is not None else None
    if (
        last is not None and staff is not None and plan is not None and staff.role in plan.roles
        and within(timing.patrol_confirm, last[1], state.reading_of(last[2]), tap.at, tap.mono)
    ):  # fmt: skip
        return Decision(ev.ACCEPTED, ev.PATROL_VISIT, "patrol_checkpoint", "staff", last[0], data)
    return Decision(ev.ACCEPTED, ev.PATROL_VISIT, "patrol_checkpoint_tag", None, None, data)


def _two_party(
    tap: Tap,
    state: DayState,
    timing: Timing,
    group_id: str,
    ident: str,
    holder: str,
    data: dict[str, object],
) -> Decision:
    """Hand a group over in two taps: the one who has it, then the one who takes it."""
    offer = state.offers.get(group_id)
    if offer is not None:
        began = state.reading_of(offer[2])
        if not within(timing.handover, offer[1], began, tap.at, tap.mono):
            offer = None  # real time decides: a clock stepped back reopens no offer
    if ident == holder:
        # The handing staff member counts the group and offers it for 60 s.
        return Decision(ev.ACCEPTED, ev.HANDOVER_OFFERED, "handover_offered", "staff", ident, data)
    if offer is not None:
        data |= {"handed_by": offer[0], "acknowledged_by": [offer[0], ident]}
        return Decision(ev.ACCEPTED, ev.CUSTODY_TAKEN, "handover_acknowledged", "staff", ident,
                        data)  # fmt: skip
    # Taken without the holder's tap (they are not there): allowed, and said loudly.
    data |= {"warning": "handover_unacknowledged"}
    return Decision(ev.ACCEPTED, ev.CUSTODY_TAKEN, "handover_unacknowledged", "staff", ident, data)


def _at_pickup(
    tap: Tap,
    roster: Roster,
    state: DayState,
    timing: Timing,
    kind: str,
    ident: str,
    book: PickupBook,
    pending: ManualRelease | None,
) -> Decision:
    if kind == "guardian":
        children = [
            _child(roster, state, sid, book)
            for sid, right in roster.children_of(ident)
            if right.allowed
        ]
        replaced = _open_context(state, tap, timing)
        data: dict[str, object] = {"students": children}
        if replaced:
            data["replaced_guardian"] = replaced.adult_id
        return Decision(ev.ACCEPTED, ev.PICKUP_OPENED, "pickup_opened", "guardian", ident, data)

    if kind == "staff":
        if (
            pending is not None
            and pending.station == tap.station
            and pending.open_at(tap.at, tap.mono)
        ):
            return _manual_release(roster, state, book, pending, ident)
        return Decision(ev.ACCEPTED, ev.STAFF_ON_DUTY, "staff_on_duty", "staff", ident, {})

    context = _open_context(state, tap, timing)
    if context is not None and context.only is not None:
        return _one_child(tap, roster, state, book, context, ident)
    guardian = context.adult_id if context else None
    right = roster.pickup.get((ident, guardian)) if guardian else None
    if right is not None and right.allowed:
        return Decision(
            ev.ACCEPTED,
            ev.RELEASED,
            "released",
            "student",
            ident,
            {
                "guardian_id": guardian,
                "relation": right.relation,
                "from_group": _group_of(state, ident),
            },
        )
    barred = right is not None and not right.allowed
    if roster.students[ident].walk_alone and not barred:
        return _alone(state, ident)
    if guardian is None:
        return Decision(
            ev.DENIED,
            ev.REFUSED,
            "needs_guardian",
            "student",
            ident,
            {"reason": "needs_guardian", "alert": "normal"},
        )
    return Decision(
        ev.DENIED,
        ev.REFUSED,
        "barred_guardian" if barred else "unauthorized_pickup",
        "student",
        ident,
        {
            "reason": "barred_guardian" if barred else "unauthorized_pickup",
            "guardian_id": guardian,
            "alert": "loud" if barred else "alert",
        },
    )


def _alone(state: DayState, ident: str) -> Decision:
    return Decision(ev.ACCEPTED, ev.LEFT_ALONE, "left_alone", "student", ident,
                    {"from_group": _group_of(state, ident)})  # fmt: skip


def _one_child(
    tap: Tap, roster: Roster, state: DayState, book: PickupBook, context: Context, ident: str
) -> Decision:
    """Decide a child's tap while a code or pass context for one child is open.

    Its child is released to its adult only if that adult's authority still holds
    now; another child leaves alone if walk-alone and the adult is not barred from
    them, and is otherwise refused with an unauthorized-pickup alert.
    """
    via = "pass" if context.adult_kind == "pass" else "code"
    who: dict[str, object]
    if context.adult_kind == "guardian":
        who = {"guardian_id": context.adult_id}
    elif context.adult_kind == "pass":
        who = {"pass_id": context.adult_id, "delegate_name": context.adult_name}
    else:
        who = {"delegate_id": context.adult_id, "delegate_name": context.adult_name}
    if context.only is None or ident not in context.only:
        right = roster.pickup.get((ident, context.adult_id))
        barred = context.adult_kind == "guardian" and right is not None and not right.allowed
        if roster.students[ident].walk_alone and not barred:
            return _alone(state, ident)
        code = "barred_guardian" if barred else "unauthorized_pickup"
        return Decision(ev.DENIED, ev.REFUSED, code, "student", ident,
                        {"reason": code, **who, "via": via, "only": sorted(context.only or ()),
                         "alert": "loud" if barred else "alert"})  # fmt: skip
    if context.code is not None:
        first = state.codes_used.get(context.code)
        if (first is not None and first != (context.station or tap.station, context.at)) or (
            book.codes.get((state.day, context.code)) is None
        ):
            return _refused(ident, ("code_used", {}), {"via": via, **who})
    lapse = _authority(context.adult_kind, context.adult_id, ident, roster, state, book,
                       context.valid)  # fmt: skip
    if lapse is not None:
        return _refused(ident, lapse, {"via": via, **who})
    released = {"from_group": _group_of(state, ident), "via": via, **who}
    if context.adult_kind == "delegate":
        grant = book.delegate(context.adult_id, state.day)
        released["delegate_name"] = grant.name if grant else context.adult_name
    elif context.adult_kind == "guardian":
        right = roster.pickup.get((ident, context.adult_id))
        released["relation"] = right.relation if right else None
    return Decision(ev.ACCEPTED, ev.RELEASED, "released", "student", ident, released)


def _open_context(state: DayState, tap: Tap, timing: Timing) -> Context | None:
    """Return the pickup context open at the tap's station, if it is still open.

    It closes ``pickup_context`` after it opened in real time: a wall clock stepped
    back (a Pi that booted hours fast and then followed its hub) brings no context
    back to life when the clock reaches the moment it claimed again.
    """
    context = state.contexts.get(tap.station)
    if context is None:
        return None
    began = state.reading_of(context.event_id)
    return context if within(timing.pickup_context, context.at, began, tap.at, tap.mono) else None


def _manual_release(
    roster: Roster, state: DayState, book: PickupBook, pending: ManualRelease, staff: str
) -> Decision:
    """Release without a card (无卡接送), signed by the staff card that just tapped."""
    sid = pending.student_id
    data: dict[str, object] = {
        "manual": True, "signed_by": staff, "reason": pending.reason,
        "from_group": _group_of(state, sid),
    }  # fmt: skip
    if pending.asked_by:
        data["asked_by"] = pending.asked_by
    lapse = _authority(pending.adult_kind, pending.adult_id, sid, roster, state, book)
    if lapse is not None:
        return _refused(sid, lapse, data)
    if pending.adult_kind == "delegate":
        grant = book.delegate(pending.adult_id, state.day)
        data |= {"delegate_id": pending.adult_id, "delegate_name": grant.name if grant else None}
    else:
        right = roster.pickup.get((sid, pending.adult_id))
        data |= {"guardian_id": pending.adult_id, "relation": right.relation if right else None}
    if state.students.get(sid) is None or state.students[sid].state != PRESENT:
        return _refused(sid, ("not_present", {}), data)
    return Decision(ev.ACCEPTED, ev.RELEASED, "released_manually", "student", sid, data)


def _group_of(state: DayState, student_id: str) -> str | None:
    presence = state.students.get(student_id)
    return presence.group_id if presence is not None and presence.state == PRESENT else None


def late_stage(calendar: Calendar, service_end: dt.datetime, moment: dt.datetime) -> int:
    """Return how far late pickups have escalated at a moment (DOMAIN.md, the afternoon).

    0 before the service end; 1 from it (the duty leader gets the list); 2 from
    ``late_call`` after it (the list shows guardians' phones to call); 3 from
    ``late_custody`` after it (the children still here pass to the gate guard).
    """
    if moment < service_end:
        return 0
    if moment < service_end + calendar.late_call:
        return 1
    if moment < service_end + calendar.late_custody:
        return 2
    return 3
