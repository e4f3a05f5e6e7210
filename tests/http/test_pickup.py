"""Pickup as it really happens: delegates, 无卡接送, one-time codes, corrections.

Through the HTTP API and the tap flow of a live node (tests/roster_files.py: S1's
mother P1 also collects her niece S4; S1's father P3 must not collect S1).
"""

from __future__ import annotations

import datetime as dt
import time

import httpx
import pytest

from edge import reports
from edge.node import Node
from edge.school import auth
from edge.writer import TapResult
from tests.roster_files import CARD
from tests.servers import LiveServer, local, wait_for


def tap(client: httpx.Client, station: str, who: str) -> dict:
    reply = client.post("/api/v1/sim/taps", json={"station": station, "uid": CARD[who]})
    assert reply.status_code == 200, reply.text
    return reply.json()


def staff(server: LiveServer, staff_id: str, scope: str = "full") -> dict[str, str]:
    member = server.node.roster.staff[staff_id]
    token = auth.issue(server.node.secret, staff_id, member.role, server.node.clock.now(), 12,
                       scope)  # fmt: skip
    return {"authorization": f"Bearer {token}"}


def state_of(client: httpx.Client, server: LiveServer, sid: str) -> dict:
    picture = client.get("/api/v1/presence", headers=staff(server, "L1")).json()
    return next(s for s in picture["students"] if s["student_id"] == sid)


@pytest.fixture
def client(server: LiveServer) -> httpx.Client:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def test_a_wrong_sign_in_and_a_wrong_release_are_undone_with_a_reason(
    server: LiveServer, client: httpx.Client
) -> None:
    wrong = tap(client, "K2", "S1")  # S1's card at the science club's door by mistake
    assert state_of(client, server, "S1")["group_id"] == "G2"
    teacher = staff(server, "T1")
    fixed = client.post(f"/api/v1/events/{wrong['event_id']}/correct",
                        json={"reason": "刷错了教室"}, headers=teacher)  # fmt: skip
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["corrects"] == wrong["event_id"]
    assert state_of(client, server, "S1")["state"] == "expected"  # as if never signed in
    again = client.post(f"/api/v1/events/{wrong['event_id']}/correct",
                        json={"reason": "再次"}, headers=teacher)  # fmt: skip
    assert again.status_code == 409
    assert "already corrected" in again.json()["detail"]
    # A release to the wrong child: undone, the child is back where they were.
    tap(client, "K1", "S4")
    server.node.clock.advance(seconds=30)  # type: ignore[attr-defined]
    tap(client, "P1", "P1")
    released = tap(client, "P1", "S4")
    assert released["code"] == "released"
    why = {"reason": "孩子还在排队，刷错了"}
    undo = client.post(f"/api/v1/events/{released['event_id']}/correct", json=why,
                       headers=staff(server, "GU"))  # fmt: skip
    assert undo.status_code == 200, undo.text
    back = state_of(client, server, "S4")
    assert (back["state"], back["group_id"]) == ("present", "G1")
    # The records stay, marked, in the child's day; the supervision record follows.
    source = reports.LedgerSource(server.node.ledger)
    now = server.node.clock.now()
    day = reports.make("timeline", source, now=now, student="S4").table("taps").records()
    assert [r["outcome"] for r in day] == ["通过", "通过", "已更正", "通过"]
    assert day[2]["why"] == "由张保安更正：孩子还在排队，刷错了"
    assert "张保安更正了一条记录" in day[3]["message"]
    record = reports.make("supervision", source, now=now, group="G2").table("students")
    assert "S1" not in [r[0] for r in record.rows]  # the wrong sign-in no longer counts
    # What cannot be corrected, and who may not.
    custody = tap(client, "K1", "T1")
    refused = client.post(f"/api/v1/events/{custody['event_id']}/correct",
                          json={"reason": "不对"}, headers=teacher)  # fmt: skip
    assert refused.status_code == 422
    assert "only a sign-in, a release or a walk home" in refused.json()["detail"]
    viewer = client.post(f"/api/v1/events/{wrong['event_id']}/correct",
                         json={"reason": "看看"}, headers=staff(server, "L1", "view"))  # fmt: skip
    assert viewer.status_code == 403
    missing = client.post("/api/v1/events/nope:0:1/correct", json={"reason": "xx"},
                          headers=teacher)  # fmt: skip
    assert missing.status_code == 404
    server.node.clock.set(local("16:00") + dt.timedelta(days=1))  # type: ignore[attr-defined]
    late = client.post(f"/api/v1/events/{custody['event_id']}/correct", json={"reason": "晚了"},
                       headers=staff(server, "T1"))  # fmt: skip
    assert late.status_code == 422


def test_a_delegate_is_found_without_a_card_and_released_with_a_staff_signature(
    server: LiveServer, client: httpx.Client
) -> None:
    tap(client, "K1", "S2")
    grant = client.post("/api/v1/delegates", headers=staff(server, "T1"), json={
        "student_id": "S2", "name": "张阿姨", "phone": "139 0000 1111"})  # fmt: skip
    assert grant.status_code == 201, grant.text
    grant_id = grant.json()["grant_id"]
    found = client.get("/api/v1/stations/P1/adults", params={"q": "1111"}).json()["adults"]
    assert [(a["adult_kind"], a["name"]) for a in found] == [("delegate", "张阿姨")]
    assert found[0]["valid"] == ["2026-11-23", "2026-11-23"]
    assert found[0]["children"][0]["name"] == "小红"
    assert "13900001111" not in str(found).replace(" ", "")  # the screen never shows a phone
    assert "phone" not in found[0]
    asked = client.post("/api/v1/stations/P1/manual-release", json={
        "student_id": "S2", "adult_kind": "delegate", "adult_id": grant_id,
        "reason": "奶奶委托邻居来接"})  # fmt: skip
    assert asked.status_code == 200, asked.text
    assert asked.json()["adult"] == "张阿姨"
    assert state_of(client, server, "S2")["state"] == "present"  # nothing until signed
    signed = tap(client, "P1", "GU")  # the guard's own card is the signature
    assert signed["code"] == "released_manually"
    assert signed["message"] == "小红，无卡接送：由张阿姨（临时委托）接走（张保安确认）"
    assert state_of(client, server, "S2")["state"] == "released"
    assert tap(client, "P1", "L1")["code"] == "staff_on_duty"  # the request was used up
    # A delegation ends by itself: tomorrow it is not there.
    server.node.clock.set(local("16:00") + dt.timedelta(days=1))  # type: ignore[attr-defined]
    assert client.get("/api/v1/stations/P1/adults", params={"q": "1111"}).json()["adults"] == []
    server.node.clock.set(local("16:10"))  # type: ignore[attr-defined]
    # Revoked: it is gone from the screen and cannot be asked for.
    gone = client.delete(f"/api/v1/delegates/{grant_id}", headers=staff(server, "A1"))
    assert gone.status_code == 200
    assert client.get("/api/v1/stations/P1/adults", params={"q": "张阿姨"}).json()["adults"] == []
    again = {"student_id": "S2", "adult_kind": "delegate", "adult_id": grant_id, "reason": "再来"}
    refused = client.post("/api/v1/stations/P1/manual-release", json=again)
    assert refused.status_code == 404


def test_a_manual_release_waits_60_seconds_and_still_obeys_the_roster(
    server: LiveServer, client: httpx.Client
) -> None:
    tap(client, "K1", "S1")
    found = client.get("/api/v1/stations/P1/adults", params={"q": "赵先生"}).json()["adults"]
    assert found[0]["children"][0]["allowed"] is False  # the guard sees the restriction
    ask = {"student_id": "S1", "adult_kind": "guardian", "adult_id": "P1", "reason": "忘带卡"}
    assert client.post("/api/v1/stations/P1/manual-release", json=ask).status_code == 200
    server.node.clock.advance(seconds=61)  # type: ignore[attr-defined]
    assert tap(client, "P1", "GU")["code"] == "staff_on_duty"  # too late: not signed
    assert state_of(client, server, "S1")["state"] == "present"
    barred = {**ask, "adult_id": "P3", "reason": "说是爸爸"}
    assert client.post("/api/v1/stations/P1/manual-release", json=barred).status_code == 200
    server.node.clock.advance(seconds=15)  # type: ignore[attr-defined]
    alarm = tap(client, "P1", "GU")
    assert (alarm["outcome"], alarm["code"], alarm["alert"]) == (
        "denied",
        "barred_guardian",
        "loud",
    )
    assert state_of(client, server, "S1")["state"] == "present"
    classroom = client.post("/api/v1/stations/K1/manual-release", json=ask)
    assert classroom.status_code == 409
    short = client.get("/api/v1/stations/P1/adults", params={"q": "12"})
    assert short.status_code == 422
    assert "last 4 digits" in short.json()["detail"]


def test_a_one_time_code_opens_a_pickup_for_one_child_once(
    server: LiveServer, client: httpx.Client
) -> None:
    tap(client, "K1", "S1")
    tap(client, "K1", "S4")
    issued = client.post("/api/v1/pickup-codes", headers=staff(server, "A1"), json={
        "student_id": "S1", "adult_kind": "guardian", "adult_id": "P1"})  # fmt: skip
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]
    assert len(code) == 8
    opened = client.post("/api/v1/stations/P1/code", json={"code": code}).json()
    assert (opened["code"], [c["student_id"] for c in opened["students"]]) == (
        "pickup_opened", ["S1"])  # fmt: skip
    assert tap(client, "P1", "S4")["code"] == "unauthorized_pickup"  # the code is for S1 only
    assert tap(client, "P1", "S1")["code"] == "released"
    server.node.clock.advance(seconds=11)  # type: ignore[attr-defined]  # past the debounce
    used = client.post("/api/v1/stations/P1/code", json={"code": code}).json()
    assert (used["outcome"], used["code"]) == ("denied", "code_used")
    barred = client.post("/api/v1/pickup-codes", headers=staff(server, "A1"), json={
        "student_id": "S1", "adult_kind": "guardian", "adult_id": "P3"})  # fmt: skip
    assert barred.status_code == 409
    for _ in range(5):
        server.node.clock.advance(seconds=11)  # type: ignore[attr-defined]
        wrong = client.post("/api/v1/stations/P1/code", json={"code": "00000000"}).json()
        assert wrong["code"] == "unknown_code"
    locked = client.post("/api/v1/stations/P1/code", json={"code": code})
    assert locked.status_code == 429
    assert client.post("/api/v1/stations/P1/code", json={"code": "12ab"}).status_code == 422


def test_two_party_handover_needs_both_cards_within_60_seconds(make_node, tmp_path) -> None:
    from tests import roster_files

    school = roster_files.FILES["school.toml"] + "[service]\ntwo_party_handover = true\n"
    node = make_node(roster_dir=roster_files.write(tmp_path / "two", **{"school.toml": school}))
    with LiveServer(node) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        for who in ("S1", "S2", "T1"):
            tap(client, "K1", who)
        assert state_of(client, server, "S1")["custodian_staff_id"] == "T1"
        server.node.clock.set(local("16:00"))  # type: ignore[attr-defined]
        offered = tap(client, "K1", "T1")  # T1 counts the group and hands it over
        assert (offered["code"], offered["head_count"]) == ("handover_offered", 2)
        assert "请接班老师60秒内刷卡" in offered["message"]
        assert state_of(client, server, "S1")["custodian_staff_id"] == "T1"  # still T1's
        server.node.clock.set(local("16:00:40"))  # type: ignore[attr-defined]
        taken = tap(client, "K1", "L1")
        assert taken["code"] == "handover_acknowledged"
        assert taken["message"] == "刘校长接过一年级看护组（陈老师交出）：实到2人，双方已确认"
        assert state_of(client, server, "S1")["custodian_staff_id"] == "L1"
        events = server.node.ledger.events_after(0, 100)
        assert events[-1].data["acknowledged_by"] == ["T1", "L1"]
        # An offer lapses after 60 s: a later taker is recorded, with a warning.
        server.node.clock.set(local("16:30"))  # type: ignore[attr-defined]
        assert tap(client, "K1", "L1")["code"] == "handover_offered"
        server.node.clock.set(local("16:31:05"))  # type: ignore[attr-defined]
        late = tap(client, "K1", "T2")
        assert (late["code"], late["warning"]) == (
            "handover_unacknowledged",
            "handover_unacknowledged",
        )
        assert state_of(client, server, "S1")["custodian_staff_id"] == "T2"


def test_late_pickups_escalate_by_the_clock(make_node, monkeypatch) -> None:
    monkeypatch.setattr(Node, "ESCALATE_EVERY", 0.1)  # the node's own loop, as on a hub
    node = make_node(escalate=True)
    with LiveServer(node) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        _late_pickups(server, client)


def _late_pickups(server: LiveServer, client: httpx.Client) -> None:
    for who in ("S1", "S2", "T1"):
        tap(client, "K1", who)
    leader = staff(server, "L1")
    picture = client.get("/api/v1/presence", headers=leader).json()
    assert picture["late"]["stage"] == 0
    assert picture["late"]["call_from"].endswith("18:15:00+08:00")
    server.node.clock.set(local("18:05"))  # type: ignore[attr-defined]
    picture = client.get("/api/v1/presence", headers=leader).json()
    assert (picture["late"]["stage"], picture["late"]["calls"]) == (1, [])  # the list, no phones
    assert picture["counts"]["overdue"] == 2
    server.node.clock.set(local("18:16"))  # type: ignore[attr-defined]
    calls = client.get("/api/v1/presence", headers=leader).json()["late"]["calls"]
    assert [c["student_id"] for c in calls] == ["S1", "S2"]
    assert calls[0]["guardians"] == [{"name": "王妈妈", "phone": "13800000001", "relation": "母亲"}]
    assert server.node.writer.escalate().result(timeout=10) == []  # not yet
    time.sleep(0.3)  # the loop has looked several times meanwhile
    assert state_of(client, server, "S1")["custodian_staff_id"] == "T1"
    server.node.clock.set(local("18:31"))  # type: ignore[attr-defined]
    wait_for(lambda: state_of(client, server, "S1")["custodian_staff_id"] == "GU", timeout=10)
    passed = [e for e in server.node.ledger.events_after(0, 1000) if e.code == "late_custody"]
    assert [(e.subject_id, e.data["head_count"]) for e in passed] == [("GU", 2)]
    result = TapResult(passed[0], server.node.roster).to_json()
    assert result["message"] == "超时未接：一年级看护组的2名学生已交由张保安看护"
    assert server.node.writer.escalate().result(timeout=10) == []  # once
    record = reports.make("supervision", reports.LedgerSource(server.node.ledger),
                          now=server.node.clock.now(), group="G1").table("custody")  # fmt: skip
    assert record.rows[-1][2:5] == ["张保安", "陈老师", 2]


def test_two_kiosks_releasing_the_same_child_are_flagged_not_merged(make_node) -> None:
    a, b = make_node(node_id="kiosk-a"), make_node(node_id="kiosk-b")
    with LiveServer(a) as server_a, LiveServer(b) as server_b:
        with httpx.Client(base_url=server_a.url) as ca, httpx.Client(base_url=server_b.url) as cb:
            for client_, when, station, who in (
                (ca, "16:00", "K1", "S1"), (ca, "16:30", "P1", "P1"), (ca, "16:30:05", "P1", "S1"),
                (cb, "16:31", "P1", "P1"), (cb, "16:31:05", "P1", "S1"),  # the LAN was down
                (cb, "16:40", "K1", "S2"), (cb, "16:45", "P1", "P2"), (cb, "16:45:05", "P1", "S2"),
                (ca, "16:45:20", "K1", "S2"),
            ):  # fmt: skip
                body = {"station": station, "uid": CARD[who], "at": local(when).isoformat()}
                reply = client_.post("/api/v1/sim/taps", json=body)
                assert reply.status_code == 200
        leader = staff(server_a, "L1")
        with httpx.Client(base_url=server_a.url) as ca:
            alone = ca.get("/api/v1/conflicts", headers=leader).json()["conflicts"]
            assert alone == []  # kiosk A alone saw nothing wrong
            b_events = b.ledger.events_after(0, 100)
            a.writer.ingest(b_events, None).result(timeout=10)  # the LAN is back
            found = ca.get("/api/v1/conflicts", headers=leader).json()["conflicts"]
    assert [(c["kind"], c["subject_id"]) for c in found] == [
        ("released_twice", "S1"),
        ("same_moment", "S2"),
    ]
    assert {e["node_id"] for e in found[0]["events"]} == {"kiosk-a", "kiosk-b"}
    assert found[0]["name"] == "小明"


def test_todays_plan_is_shown_changes_until_the_cut_off_and_warns_when_departed_from(
    server: LiveServer, client: httpx.Client
) -> None:
    server.node.clock.set(local("13:00"))  # type: ignore[attr-defined]  # before the cut-off
    teacher = staff(server, "T1")  # signed in then (a token from later is refused now)
    plan = {"batch": "17:00", "point": "P1", "mode": "guardian", "club_until": None}
    set_ = client.put("/api/v1/students/S1/plan", json=plan, headers=teacher)
    assert set_.status_code == 200, set_.text
    for who in ("S1", "S4"):
        tap(client, "K1", who)
    room = client.get("/api/v1/stations/K1").json()["group"]["plans"]
    assert [(p["name"], p["batch"], p["point"]) for p in room] == [("小明", "17:00", "P1")]
    server.node.clock.set(local("16:30"))  # type: ignore[attr-defined]
    opened = tap(client, "P1", "P1")
    children = {c["student_id"]: c for c in opened["students"]}
    assert children["S1"]["plan"]["batch"] == "17:00"  # the guard sees it beside the child
    assert children["S4"]["plan"] is None
    early = tap(client, "P1", "S1")  # before the 17:00 batch: released, with a warning
    assert (early["code"], early["warning"], early["plan_notes"]) == (
        "released", "plan_mismatch", ["before_batch"])  # fmt: skip
    assert tap(client, "P1", "S4").get("warning") is None  # no plan, nothing to depart from
    # Changes close at the cut-off (14:00 by default); tomorrow's may still change.
    late = client.put("/api/v1/students/S4/plan", json=plan, headers=teacher)
    assert late.status_code == 409
    assert "today's plans close at 14:00" in late.json()["detail"]
    tomorrow = (local("16:30") + dt.timedelta(days=1)).date().isoformat()
    ahead = client.put("/api/v1/students/S4/plan", json={**plan, "date": tomorrow},
                       headers=teacher)  # fmt: skip
    assert ahead.status_code == 200
    assert client.get("/api/v1/students/S4/plan", params={"date": tomorrow},
                      headers=teacher).json()["plan"]["batch"] == "17:00"  # fmt: skip
    alone = client.put("/api/v1/students/S1/plan", headers=teacher,
                       json={**plan, "mode": "alone", "date": tomorrow})  # fmt: skip
    assert alone.status_code == 409
    assert "no written consent to leave alone" in alone.json()["detail"]
    elsewhere = client.put("/api/v1/students/S4/plan", headers=teacher,
                           json={**plan, "point": "K1", "date": tomorrow})  # fmt: skip
    assert elsewhere.status_code == 409
    bad = client.put("/api/v1/students/S4/plan", headers=teacher,
                     json={**plan, "batch": "25:00", "date": tomorrow})  # fmt: skip
    assert bad.status_code == 422


def test_a_signed_pass_scanned_by_a_qr_wedge_opens_a_pickup_and_can_be_revoked(
    server: LiveServer, client: httpx.Client
) -> None:
    from edge.devices.wedge import LETTERS, KeyAssembler

    tap(client, "K1", "S1")
    issued = client.post("/api/v1/passes", headers=staff(server, "A1"), json={
        "student_id": "S1", "name": "外婆", "to": "2026-11-30"})  # fmt: skip
    assert issued.status_code == 201, issued.text
    text = issued.json()["text"]
    assert text.startswith("CE1.")
    assert set(text[4:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567.")  # QR alphanumeric, typable
    # The USB QR scanner types it like a wedge card reader: a recorded key stream.
    codes = {ch: code for code, ch in LETTERS.items()} | {
        str(d): code for d, code in zip(range(1, 10), range(2, 11), strict=True)}  # fmt: skip
    keys, t = [], 0.0
    for ch in text:
        keys += [(1, 42, 1, t), (1, codes[ch], 1, t), (1, codes[ch], 0, t), (1, 42, 0, t)] if (
            ch.isalpha()) else [(1, codes[ch], 1, t), (1, codes[ch], 0, t)]  # fmt: skip
        t += 0.002
    (scanned,) = KeyAssembler().feed_all([*keys, (1, 28, 1, t), (1, 28, 0, t)])
    assert scanned == text
    writer = server.node.writer
    opened = writer.submit_nowait(writer.make_tap("P1", scanned)).result(timeout=10).to_json()
    assert (opened["code"], opened["subject"]["name"]) == ("pickup_opened", "外婆")
    assert [c["student_id"] for c in opened["students"]] == ["S1"]
    released = tap(client, "P1", "S1")
    assert released["code"] == "released"
    assert released["message"] == "小明，已由外婆（临时委托）接走"
    # Forged or changed: refused, and recorded.
    body, signature = text[4:].split(".")
    forged = "CE1." + body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + signature
    server.node.clock.advance(seconds=11)  # type: ignore[attr-defined]
    refused = writer.submit_nowait(writer.make_tap("P1", forged)).result(timeout=10).to_json()
    assert (refused["outcome"], refused["code"]) == ("denied", "invalid_pass")
    # Revoked: the next scan is refused.
    pass_id = issued.json()["pass_id"]
    assert (
        client.delete(f"/api/v1/passes/{pass_id}", headers=staff(server, "T1")).status_code == 200
    )
    server.node.clock.advance(seconds=11)  # type: ignore[attr-defined]
    again = writer.submit_nowait(writer.make_tap("P1", text)).result(timeout=10)
    assert (again.event.code, again.event.data["reason"]) == ("invalid_pass", "pass_revoked")
    assert again.to_json()["message"] == "通行证无效（已撤销），请人工核实"
    # Expired: a pass for today only, scanned tomorrow.
    short = client.post("/api/v1/passes", headers=staff(server, "A1"), json={
        "student_id": "S2", "name": "舅舅"}).json()["text"]  # fmt: skip
    server.node.clock.set(local("16:00") + dt.timedelta(days=1))  # type: ignore[attr-defined]
    late = writer.submit_nowait(writer.make_tap("P1", short)).result(timeout=10)
    assert late.event.data["reason"] == "pass_expired"
