"""Leave on a day a student is not enrolled lists and counts them nowhere (CONTRACT.md).

"Students not enrolled that day and never seen are absent from the list": a leave
record does not put a child who had no after-school service that day on the presence
list, in its counts, on the dashboard's roll call, at a head count or on a guardian's
pickup list. Once such a child is seen, they are listed like anyone seen.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import httpx

from edge import reports
from edge.clock import ManualClock
from edge.node import Node
from edge.school.events import Event
from tests import roster_files
from tests.roster_files import CARD, FILES, TODAY
from tests.servers import LiveServer, local

TUESDAY = TODAY + dt.timedelta(days=1)

# S5 is enrolled on Mondays only (G2). Leave is recorded for S5 on Monday (enrolled)
# and on Tuesday (not enrolled); S2 (enrolled every weekday) has leave on Tuesday too;
# P2 collects S2 and S5.
LEAVE = FILES["leave.csv"] + (
    f"S5,{TODAY.isoformat()},事假\nS5,{TUESDAY.isoformat()},事假\nS2,{TUESDAY.isoformat()},病假\n"
)
PICKUP = FILES["pickup.csv"] + "S5,P2,父亲,1\n"


def _node(make_node: Callable[..., Node], tmp_path: Path, at: dt.datetime) -> Node:
    folder = roster_files.write(
        tmp_path / "leave-roster", **{"leave.csv": LEAVE, "pickup.csv": PICKUP}
    )
    return make_node(roster_dir=folder, clock=ManualClock(at))


def _presence(live: LiveServer, client: httpx.Client, day: dt.date) -> dict:
    headers = {"authorization": f"Bearer {live.token('L1')}"}
    reply = client.get("/api/v1/presence", params={"date": day.isoformat()}, headers=headers)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _tap_on_tuesday(node: Node, station: str, who: str, hhmm: str, kind: str) -> list[Event]:
    """Tap ``who``'s card at ``station`` through the API; return Tuesday's ``kind`` events."""
    with LiveServer(node) as live, httpx.Client(base_url=live.url) as client:
        body = {"station": station, "uid": CARD[who], "at": local(hhmm, TUESDAY).isoformat()}
        answer = client.post("/api/v1/sim/taps", json=body).json()
        assert answer["outcome"] == "accepted"
    return [e for e in node.ledger.events_of_day(TUESDAY) if e.kind == kind]


def test_leave_on_a_day_not_enrolled_is_neither_listed_nor_counted(
    make_node: Callable[..., Node], tmp_path: Path
) -> None:
    node = _node(make_node, tmp_path, local("16:00", TUESDAY))
    with LiveServer(node) as live, httpx.Client(base_url=live.url) as client:
        tuesday = _presence(live, client, TUESDAY)
        listed = {s["student_id"]: s["state"] for s in tuesday["students"]}
        assert "S5" not in listed  # not enrolled on Tuesdays, never seen: absent from the list
        assert listed["S2"] == "on_leave"  # enrolled on Tuesdays: on leave
        assert tuesday["counts"]["on_leave"] == 1
        assert sum(tuesday["counts"][k] for k in ("expected", "on_leave")) == len(listed)

        monday = _presence(live, client, TODAY)
        listed = {s["student_id"]: s["state"] for s in monday["students"]}
        assert listed["S5"] == "on_leave"  # enrolled on Mondays: leave counts
        assert monday["counts"]["on_leave"] == 2  # S4 and S5


def test_a_child_on_leave_on_a_day_not_enrolled_is_listed_once_seen(
    make_node: Callable[..., Node], tmp_path: Path
) -> None:
    node = _node(make_node, tmp_path, local("16:00", TUESDAY))
    (signed,) = _tap_on_tuesday(node, "K2", "S5", "16:01", "signed_in")
    # The staff at the door still learn that the family said the child would be away.
    assert signed.code == "signed_in_on_leave"
    with LiveServer(node) as live, httpx.Client(base_url=live.url) as client:
        listed = {s["student_id"]: s["state"] for s in _presence(live, client, TUESDAY)["students"]}
        assert listed["S5"] == "present"


def test_a_guardian_sees_no_leave_for_a_child_without_service_that_day(
    make_node: Callable[..., Node], tmp_path: Path
) -> None:
    node = _node(make_node, tmp_path, local("16:00", TUESDAY))
    (opened,) = _tap_on_tuesday(node, "P1", "P2", "17:00", "pickup_opened")
    states = {c["student_id"]: c["state"] for c in opened.data["students"]}
    assert states == {"S2": "on_leave", "S5": "not_enrolled_today"}


def test_the_attendance_report_counts_leave_only_on_days_enrolled(
    make_node: Callable[..., Node], tmp_path: Path
) -> None:
    node = _node(make_node, tmp_path, local("16:00", TUESDAY))
    source = reports.LedgerSource(node.ledger)
    report = reports.attendance(source, reports.Period(TODAY, TUESDAY, "w"), TUESDAY)
    rows = {r["student_id"]: r for r in report.table("students").records()}
    assert (rows["S5"]["enrolled"], rows["S5"]["on_leave"]) == (1, 1)
    assert (rows["S2"]["enrolled"], rows["S2"]["on_leave"]) == (2, 1)
