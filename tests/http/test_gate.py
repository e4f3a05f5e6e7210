"""The gate register (门卫登记) through a live node: visitors, the watchlist, instructors.

The roster is tests/roster_files.py's, plus an outside instructor X1 (科学社's coach,
contract to 2026-11-30) and a banned list. P3 (赵先生) must not collect S1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from edge.node import Node
from edge.school import auth, gate
from tests import roster_files
from tests.servers import LiveServer, local

X1_CARD = "04112233445601"


def resident_id(first17: str) -> str:
    """Return an 18-character resident ID with its right check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


VISITOR_ID = resident_id("11010519800101123")
BANNED_ID = resident_id("44030119750505567")

STAFF = roster_files.FILES["staff.csv"].replace(
    "staff_id,name,role,card_uid\n",
    "staff_id,name,role,card_uid,external,organization,valid_from,valid_to\n",
).replace("\n", ",,,,\n").replace("valid_to,,,,\n", "valid_to\n") + (
    f"X1,黄教练,teacher,{X1_CARD},1,星火科技,2026-09-01,2026-11-30\n"
)
BANNED = f"name,document_no,reason\n钱某,{BANNED_ID},曾在校门口滋事\n"


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return roster_files.write(
        tmp_path / "roster", **{"staff.csv": STAFF, "visitors_banned.csv": BANNED}
    )


@pytest.fixture
def server(make_node: Callable[..., Node]) -> Iterator[LiveServer]:
    with LiveServer(make_node()) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def as_staff(server: LiveServer, staff_id: str) -> dict[str, str]:
    member = server.node.roster.staff[staff_id]
    token = auth.issue(server.node.secret, staff_id, member.role, server.node.clock.now(), 12)
    return {"authorization": f"Bearer {token}"}


def visitor(**changes: object) -> dict[str, object]:
    return {"name": "王建国", "document_no": VISITOR_ID, "phone": "13912345678",
            "visiting": "一年级1班 陈老师", "purpose": "家长会", **changes}  # fmt: skip


def stored_text(server: LiveServer) -> str:
    """Return the node's database files (WAL included) as text, to search for a number."""
    path = server.node.ledger.path
    files = [path, *path.parent.glob(path.name + "-*")]
    return "".join(f.read_bytes().decode("latin-1") for f in files if f.is_file())


def events(server: LiveServer) -> list[dict]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        reply = c.get("/api/v1/events", params={"limit": 1000}, headers=as_staff(server, "A1"))
    assert reply.status_code == 200, reply.text
    return reply.json()["events"]


def test_a_visitor_is_registered_masked_listed_inside_and_checked_out(server, client) -> None:
    guard = as_staff(server, "GU")
    reply = client.post("/api/v1/visitors", json=visitor(), headers=guard)
    assert reply.status_code == 201, reply.text
    answer = reply.json()
    assert answer["document"] == "****" + VISITOR_ID[-4:]
    assert answer["alert"] is None
    assert answer["phone"] == "139****5678"
    vid = answer["visitor_id"]

    inside = client.get("/api/v1/visitors", params={"inside": "true"}, headers=guard).json()
    assert [v["visitor_id"] for v in inside["visitors"]] == [vid]
    assert client.get("/api/v1/gate/inside", headers=guard).json()["visitors_inside"] == 1

    server.node.clock.set(local("16:00"))
    assert client.post(f"/api/v1/visitors/{vid}/leave", headers=guard).status_code == 200
    # Incident review: who was inside at a past moment.
    was = server.node.gate.inside(roster_files.TODAY, local("15:45"))
    assert [v["visitor_id"] for v in was] == [vid]
    assert server.node.gate.inside(roster_files.TODAY, local("16:05")) == []
    again = client.post(f"/api/v1/visitors/{vid}/leave", headers=guard)
    assert again.status_code == 409
    assert "已登记离开" in again.json()["detail"]
    inside = client.get("/api/v1/visitors", params={"inside": "true"}, headers=guard).json()
    assert inside["visitors"] == []
    day = client.get("/api/v1/visitors", headers=guard).json()["visitors"]
    assert day[0]["out_at"] is not None
    assert day[0]["checked_out_by"] == "GU"

    # In the ledger as two actions, each signed for the guard, neither holding the number.
    kinds = [(e["kind"], e["code"]) for e in events(server)]
    assert ("action", "visitor_in") in kinds
    assert ("action", "visitor_out") in kinds
    assert "visitor_out" in stored_text(server)  # the search reads what was written
    assert VISITOR_ID not in stored_text(server)


def test_a_visitor_who_never_leaves_is_on_the_roll_call_after_the_service_end(
    server, client
) -> None:
    guard = as_staff(server, "GU")
    vid = client.post("/api/v1/visitors", json=visitor(), headers=guard).json()["visitor_id"]
    before = client.get("/api/v1/gate/inside", headers=guard).json()["inside"]
    assert before[0]["visitor_id"] == vid
    assert before[0]["overdue"] is False
    server.node.clock.set(local("18:20"))  # the service ended at 18:00 in November
    after = client.get("/api/v1/gate/inside", headers=guard).json()
    assert after["visitors_inside"] == 1
    assert after["inside"][0]["overdue"] is True
    assert server.node.gate.inside(roster_files.TODAY, local("18:20"))[0]["visitor_id"] == vid
    page = client.get("/dashboard/rollcall")
    assert page.status_code == 200
    assert "/api/v1/gate/inside" in page.text


@pytest.mark.parametrize(
    ("changes", "reason", "by"),
    [
        ({"name": "钱某", "document_no": BANNED_ID}, "banned", "document"),
        ({"name": "张三", "document_no": BANNED_ID}, "banned", "document"),  # another name
        ({"name": "赵先生", "document_no": None}, "barred", "name"),  # P3, barred from S1
        ({"name": "钱 某", "document_no": None}, "banned", "name"),
        ({"name": "钱\u200b某", "document_no": None}, "banned", "name"),  # a zero-width space
    ],
)
def test_the_watchlist_raises_the_loud_alert(server, client, changes, reason, by) -> None:
    guard = as_staff(server, "GU")
    body = {k: v for k, v in visitor(**changes).items() if v is not None}
    reply = client.post("/api/v1/visitors", json=body, headers=guard)
    assert reply.status_code == 201, reply.text
    alert = reply.json()["alert"]
    assert alert["reason"] == reason
    assert alert["match"] == by
    assert alert["alert"] == "loud"
    if reason == "barred":
        assert alert["students"] == ["S1"]
    recorded = [e for e in events(server) if e["code"] == "visitor_in"][-1]
    assert recorded["data"]["alert"] == "loud"
    assert recorded["data"]["watch"]["reason"] == reason
    listed = client.get("/api/v1/gate/inside", headers=guard).json()["inside"]
    assert listed[0]["alert"]["reason"] == reason


def test_a_watchlist_match_reaches_the_dashboards_stream_loudly(server, client) -> None:
    leader = as_staff(server, "L1")["authorization"].removeprefix("Bearer ")
    seen: list[str] = []
    with client.stream("GET", "/api/v1/stream", params={"token": leader}) as stream:
        lines = stream.iter_lines()
        assert next(lines).startswith("retry")
        body = visitor(name="赵先生", document_no=None)
        del body["document_no"]
        reply = client.post("/api/v1/visitors", json=body, headers=as_staff(server, "GU"))
        assert reply.status_code == 201
        for line in lines:
            seen.append(line)
            if "visitor_watchlist" in line:
                break
    alert = seen[-1]
    assert '"alert":"loud"' in alert
    assert "赵先生" in alert
    assert "值班领导" in alert


def test_no_answer_carries_a_full_document_number_and_a_search_finds_it(server, client) -> None:
    guard = as_staff(server, "GU")
    spaced = " ".join(VISITOR_ID[i : i + 4] for i in range(0, 18, 4)).lower()
    vid = client.post("/api/v1/visitors", json=visitor(document_no=spaced), headers=guard)
    vid = vid.json()["visitor_id"]
    client.post("/api/v1/visitors", json=visitor(name="钱某", document_no=BANNED_ID), headers=guard)
    answers = [
        client.get("/api/v1/visitors", headers=guard).text,
        client.get("/api/v1/visitors", params={"inside": "true"}, headers=guard).text,
        client.get("/api/v1/gate/inside", headers=guard).text,
        client.get("/api/v1/events", params={"limit": 1000}, headers=as_staff(server, "A1")).text,
    ]
    found = client.get("/api/v1/visitors", params={"document": VISITOR_ID}, headers=guard)
    answers.append(found.text)
    for text in answers:
        assert VISITOR_ID not in text
        assert BANNED_ID not in text
        assert VISITOR_ID[:14] not in text
    assert [v["visitor_id"] for v in found.json()["visitors"]] == [vid]
    nobody = client.get("/api/v1/visitors", params={"document": BANNED_ID[:-1] + "0"},
                        headers=guard)  # fmt: skip
    assert nobody.status_code in (200, 422)
    if nobody.status_code == 200:
        assert nobody.json()["visitors"] == []
    # The banned list reached the store only as its keyed hash.
    assert BANNED_ID not in stored_text(server)


def test_the_register_is_for_guard_duty_leader_and_admin_only(server, client) -> None:
    assert client.get("/api/v1/visitors").status_code == 401
    assert client.post("/api/v1/visitors", json=visitor()).status_code == 401
    teacher = as_staff(server, "T1")
    for reply in (
        client.get("/api/v1/visitors", headers=teacher),
        client.get("/api/v1/gate/inside", headers=teacher),
        client.post("/api/v1/visitors", json=visitor(), headers=teacher),
    ):
        assert reply.status_code == 403, reply.text
    for who in ("GU", "L1", "A1"):
        assert client.get("/api/v1/visitors", headers=as_staff(server, who)).status_code == 200
    assert not [e for e in events(server) if e["code"] == "visitor_in"]


@pytest.mark.parametrize(
    ("changes", "status", "says"),
    [
        ({"name": "王\x1b[31m建国"}, 422, "control character"),
        ({"name": "长" * 10_000}, 422, "name"),
        ({"document_no": "11010519800101123X"[:-1] + "5"}, 422, "校验位"),
        ({"document_no": "12"}, 422, "证件号"),
        ({"document_no": "ABC\u202e123456"}, 422, "control character"),
        ({"phone": "call me"}, 422, "phone"),
        ({"visiting": ""}, 422, "visiting"),
        ({"extra": "x"}, 422, "extra"),
    ],
)
def test_hostile_input_gets_a_sentence_and_writes_nothing(
    server, client, changes, status, says
) -> None:
    before = len(events(server))
    reply = client.post("/api/v1/visitors", json=visitor(**changes), headers=as_staff(server, "GU"))
    assert reply.status_code == status, reply.text
    assert says in reply.text
    assert len(events(server)) == before


def test_an_unknown_visitor_cannot_be_checked_out(server, client) -> None:
    guard = as_staff(server, "GU")
    before = len(events(server))
    assert client.post("/api/v1/visitors/Vffffffffff/leave", headers=guard).status_code == 404
    assert client.post("/api/v1/visitors/..%2Fx/leave", headers=guard).status_code in (404, 422)
    assert client.get("/api/v1/visitors", params={"date": "1999-01-01"},
                      headers=guard).status_code == 422  # fmt: skip
    assert client.get("/api/v1/visitors", params={"document": "x" * 41},
                      headers=guard).status_code == 422  # fmt: skip
    assert len(events(server)) == before


def tap(client: httpx.Client, station: str, uid: str, at: dt.datetime) -> dict:
    reply = client.post("/api/v1/sim/taps", json={"station": station, "uid": uid,
                                                  "at": at.isoformat()})  # fmt: skip
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_an_instructor_card_records_in_and_out_at_the_gate_within_the_contract(
    server, client
) -> None:
    arrived = tap(client, "P1", X1_CARD, local("15:40"))
    assert arrived["outcome"] == "accepted"
    assert arrived["code"] == "instructor_in"
    guard = as_staff(server, "GU")
    server.node.clock.set(local("15:41"))
    inside = client.get("/api/v1/gate/inside", headers=guard).json()["inside"]
    assert [(v["kind"], v["staff_id"], v["organization"]) for v in inside] == [
        ("instructor", "X1", "星火科技")
    ]
    # At the club's door the instructor takes custody like any supervisor.
    assert tap(client, "K2", X1_CARD, local("15:45"))["code"] == "custody_taken"
    left = tap(client, "P1", X1_CARD, local("17:10"))
    assert left["code"] == "instructor_out"
    server.node.clock.set(local("17:11"))
    assert client.get("/api/v1/gate/inside", headers=guard).json()["inside"] == []
    # An instructor at the gate does not become the pickup point's duty teacher.
    picture = server.node.projection.day(roster_files.TODAY)
    assert picture.on_duty is None or picture.on_duty[0] != "X1"


def test_an_instructor_card_is_refused_after_the_contract_ends(make_node, bundle) -> None:
    from edge.clock import ManualClock

    december = dt.date(2026, 12, 1)
    node = make_node(clock=ManualClock(local("15:30", december)))
    with LiveServer(node) as live, httpx.Client(base_url=live.url, timeout=10) as c:
        for station in ("P1", "K2"):
            refused = tap(c, station, X1_CARD, local("15:40", december))
            assert refused["outcome"] == "denied"
            assert refused["code"] == "contract_ended"
            assert "外聘人员合同已到期" in refused["message"]
            assert "2026-11-30" in refused["message"]
        inside = c.get("/api/v1/gate/inside", headers=as_staff(live, "GU")).json()
        assert inside["inside"] == []


def test_document_numbers_are_checked_and_compared_whole() -> None:
    assert gate.normalize_document(" 1101-0519 8001 0112 3" + VISITOR_ID[-1].lower()) == VISITOR_ID
    with pytest.raises(gate.DocumentError):
        gate.normalize_document(VISITOR_ID[:-1] + ("0" if VISITOR_ID[-1] != "0" else "1"))
    assert gate.normalize_document("E12345678") == "E12345678"  # a passport
    key = gate.document_key('[gate]\ndocument_key = "0123456789abcdef0123"\n')
    assert key != gate.DEFAULT_KEY
    assert gate.document_hash(key, VISITOR_ID) != gate.document_hash(gate.DEFAULT_KEY, VISITOR_ID)
