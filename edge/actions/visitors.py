"""The gate register (门卫登记): a visitor in and out, the watchlist, and who is inside.

``register`` and ``leave`` check, then record one staff action through the writer
(TapWriter.write's one path: ``Desk.record``), durable before they answer. ``Gate``
folds a day's gate records (edge.school.gate.Register) from the ledger, worked out
again only when the ledger grew, and answers who is inside at a moment
(``Gate.inside``: visitors and outside instructors, ``overdue`` after the service end).
Nothing here returns a full document number: only ``****`` and its last 4.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
from typing import Any

from edge.actions.delegates import store_photo
from edge.actions.desk import Desk
from edge.errors import TapError
from edge.school import auth, gate
from edge.school import events as ev
from edge.school.roster import Roster
from edge.writer import TapWriter

GATE_ROLES = frozenset({"guard", "duty_leader", "admin"})
SEARCH_DAYS = 90  # how far back a search by document number looks


_GATE_KINDS = (ev.ACTION, ev.STAFF_ON_DUTY)  # what the register folds


def _at_the_gate(event: ev.Event) -> bool:
    """Tell whether an event changes the register (a visitor in or out, a gate tap).

    A reader offline, a delegation or a teacher's duty tap does not: no fold again.
    """
    if event.kind == ev.ACTION:
        return event.code in (gate.VISITOR_IN, gate.VISITOR_OUT)
    return event.kind == ev.STAFF_ON_DUTY and "gate" in event.data


_LOOK_AHEAD = 500  # events since the last fold read one by one; more: fold again


class Gate:
    """A node's gate register: the fold of a day's gate records, kept per ledger growth."""

    def __init__(self, writer: TapWriter) -> None:
        self._writer = writer
        self._lock = threading.Lock()
        self._kept: tuple[tuple[dt.date, int], gate.Register] | None = None

    def day(self, day: dt.date) -> gate.Register:
        """Return the register of ``day`` as the ledger stands now.

        Folded again only when a gate record came since (a tap costs one short read:
        presence asks after every tap).
        """
        ledger = self._writer.ledger
        with self._lock:
            kept = self._kept
            if kept is not None and kept[0][0] == day:
                seen = kept[0][1]
                since = ledger.events_after(seen, _LOOK_AHEAD)
                if len(since) < _LOOK_AHEAD and not any(_at_the_gate(e) for e in since):
                    self._kept = ((day, since[-1].rowid or seen if since else seen), kept[1])
                    return kept[1]
            upto = ledger.last_rowid()
            register = gate.Register()
            for event in ledger.iter_days(day, day, kinds=_GATE_KINDS):
                if event.rowid is None or event.rowid <= upto:
                    register.apply(event)
            self._kept = ((day, upto), register)
            return register

    def inside(self, day: dt.date, now: dt.datetime) -> list[dict[str, Any]]:
        """Return who came in through the gate on ``day`` and has not left, as of ``now``.

        Visitors (``kind`` "visitor") and outside instructors (``kind`` "instructor"), as
        they stood at ``now`` (a moment in the past: incident review); ``overdue`` is
        true once the service has ended: they belong on the roll call.
        """
        roster = self._writer.roster
        end = roster.calendar.service_end_at(day)
        register = self.day(day)
        shown = []
        tz = roster.calendar.tz
        for visit in register.inside(now):
            shown.append({**visit.to_json(tz), "inside": True, "overdue": now >= end})
        for staff_id, since in sorted(register.instructors_inside(now).items()):
            member = roster.staff.get(staff_id)
            shown.append({
                "kind": "instructor", "staff_id": staff_id,
                "name": member.name if member else staff_id,
                "organization": member.organization if member else "",
                "in_at": since.astimezone(tz).isoformat(), "inside": True, "overdue": now >= end,
            })  # fmt: skip
        return shown


def watchlist(roster: Roster) -> list[gate.Watch]:
    """Return who the gate must stop: adults barred from a child, and the banned list."""
    barred: dict[str, list[str]] = {}
    for (student_id, guardian_id), right in roster.pickup.items():
        if not right.allowed:
            barred.setdefault(guardian_id, []).append(student_id)
    found = [
        gate.Watch(roster.guardians[g].name, "barred", guardian_id=g, students=tuple(sorted(s)))
        for g, s in sorted(barred.items()) if g in roster.guardians
    ]  # fmt: skip
    found += [gate.Watch(b.name, "banned", b.document_hash, b.reason) for b in roster.banned]
    return found


def register(
    desk: Desk, who: auth.Principal, name: str, visiting: str, purpose: str,
    document_no: str | None = None, phone: str | None = None, photo: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Record a visitor coming in; return the answer (masked document, the alert if any)."""
    auth.require(who, GATE_ROLES)
    if not gate.name_key(name):
        raise TapError("name: 请填写来访者的姓名 / the visitor's name shows no character", 422)
    roster = desk.roster
    doc_hash = last4 = None
    if document_no:
        try:
            number = gate.normalize_document(document_no)
        except gate.DocumentError as err:
            raise TapError(f"document_no: {err}") from err
        doc_hash = gate.document_hash(gate.document_key(roster.school_toml), number)
        last4 = number[-4:]
    if phone is not None and gate.masked_phone(phone) is None:
        phone = None
    alert = gate.match(watchlist(roster), name, doc_hash)
    kept = store_photo(desk, photo) if photo else None
    visitor_id = f"V{secrets.token_hex(5)}"
    data: dict[str, Any] = {"visitor_id": visitor_id, "name": name.strip(),
                            "visiting": visiting.strip(), "purpose": purpose.strip()}  # fmt: skip
    for field_name, value in (("document_hash", doc_hash), ("last4", last4), ("phone", phone),
                              ("photo", kept)):  # fmt: skip
        if value:
            data[field_name] = value
    if alert is not None:
        data["watch"] = alert
        data["alert"] = "loud"
    desk.record(gate.VISITOR_IN, data, who)
    if alert is not None:
        _tell_duty_leader(desk, data, alert)
    return {"visitor_id": visitor_id, "name": data["name"], "document": gate.masked(last4),
            "visiting": data["visiting"], "purpose": data["purpose"],
            "phone": gate.masked_phone(phone), "alert": alert}  # fmt: skip


def _tell_duty_leader(desk: Desk, data: dict[str, Any], alert: dict[str, Any]) -> None:
    """Raise the loud alert on every dashboard, as a barred adult's tap at pickup does."""
    why_zh = "被禁止接送学生的家长" if alert["reason"] == "barred" else "学校禁止入校名单"
    why_en = "an adult barred from a child" if alert["reason"] == "barred" else "the banned list"
    desk.publish({
        "type": "tap", "outcome": "denied", "kind": "visitor", "code": "visitor_watchlist",
        "alert": "loud", "station": "gate", "at": desk.now().isoformat(),
        "message": f"警告！来访登记：{data['name']} 在{why_zh}中，请立即报告值班领导",
        "message_en": f"ALERT! Visitor {data['name']} is on {why_en}: tell the duty leader now",
        "visitor_id": data["visitor_id"],
    })  # fmt: skip


def leave(desk: Desk, who: auth.Principal, visitor_id: str, day: dt.date | None = None,
          gate_book: Gate | None = None) -> dict[str, Any]:  # fmt: skip
    """Record a visitor leaving; 404 for an unknown visitor, 409 for one already gone."""
    auth.require(who, GATE_ROLES)
    book = gate_book or Gate(desk.writer)
    visit = _find(book, visitor_id, day or desk.today())
    if visit is None:
        raise TapError(f"visitor '{visitor_id[:20]}' is not in the register (来访记录不存在)", 404)
    if visit.left_at is not None:
        raise TapError(f"visitor '{visitor_id}' already left at {visit.left_at.isoformat()} "
                       "(已登记离开)", 409)  # fmt: skip
    desk.record(gate.VISITOR_OUT, {"visitor_id": visitor_id}, who)
    return {"visitor_id": visitor_id, "left": True, "by": who.staff_id}


def _find(book: Gate, visitor_id: str, today: dt.date) -> gate.Visit | None:
    """Return a visit of today or the two days before (a visitor who stayed past midnight)."""
    for back in range(3):
        visit = book.day(today - dt.timedelta(days=back)).visits.get(visitor_id)
        if visit is not None:
            return visit
    return None


def listing(
    desk: Desk, who: auth.Principal, book: Gate, day: dt.date, inside_only: bool = False
) -> list[dict[str, Any]]:
    """List a day's visitors (only those still inside, if asked), earliest first."""
    auth.require(who, GATE_ROLES)
    visits = book.day(day).visits.values()
    calendar = desk.roster.calendar
    until = calendar.service_end_at(day).isoformat()  # a slip holds until then
    shown = [{**v.to_json(calendar.tz), "valid_until": until}
             for v in sorted(visits, key=lambda v: v.at)]  # fmt: skip
    return [v for v in shown if v["inside"]] if inside_only else shown


def search(desk: Desk, who: auth.Principal, document_no: str) -> list[dict[str, Any]]:
    """Find the visits of the last SEARCH_DAYS days made with this full document number."""
    auth.require(who, GATE_ROLES)
    try:
        number = gate.normalize_document(document_no)
    except gate.DocumentError as err:
        raise TapError(f"document: {err}") from err
    wanted = gate.document_hash(gate.document_key(desk.roster.school_toml), number)
    today = desk.today()
    register = gate.Register()
    start = today - dt.timedelta(days=SEARCH_DAYS)
    for event in desk.writer.ledger.iter_days(start, today, kinds=(ev.ACTION,)):
        register.apply(event)
    found = [v for v in register.visits.values() if v.document_hash == wanted]
    tz = desk.roster.calendar.tz
    return [v.to_json(tz) for v in sorted(found, key=lambda v: v.at, reverse=True)]
