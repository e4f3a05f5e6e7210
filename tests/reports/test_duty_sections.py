"""The duty log's sections fed by other parts: readers offline, the gate register."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from edge import reports
from edge.actions.readers import ReaderWatch
from edge.clock import ManualClock
from edge.errors import TapError
from edge.node import Node
from edge.reports.duty import duty as duty_log
from edge.school import auth, proof, schema
from tests.roster_files import CARD, TODAY
from tests.servers import LiveServer, local

TAG = "04CC000001"


def log(node: Node, over: bool = True) -> reports.Report:
    return duty_log(reports.LedgerSource(node.ledger, node.roster), TODAY, over=over)


def test_a_reader_offline_and_back_is_recorded_and_in_the_log(
    make_node: Callable[..., Node],
) -> None:
    node = make_node(readers=["K2=serial:/dev/campus-edge-no-such-port:rdm6300"])
    watch = ReaderWatch(node.writer, node.readers)
    watch.check()
    assert log(node).table("readers").rows == []  # one look is not news yet
    watch.check()
    node.readers["K2"].health.connected = True  # the port came back (as its driver says)
    watch.check()
    watch.check()
    watch.check()
    rows = log(node).table("readers").records()
    assert [(r["station"], r["state"]) for r in rows] == [
        ("实验室", "离线 offline"),
        ("实验室", "恢复 online"),
    ]
    assert "cannot open /dev/campus-edge-no-such-port" in rows[0]["detail"]
    assert all(r["station"] != "101教室" for r in rows)  # K1's simulated reader stayed up


def test_visitors_in_and_out_and_one_never_out_is_an_open_item(
    make_node: Callable[..., Node],
) -> None:
    node = make_node()
    empty = log(node)
    assert empty.table("visitors").empty == "未启用 not enabled"
    inside = {"visitor_id": "V00000000a1", "name": "钱先生", "last4": "1234",
              "visiting": "陈老师", "purpose": "送教材"}  # fmt: skip
    node.writer.record_action("visitor_in", inside, "GU", "gate").result(timeout=5)
    node.writer.record_action("visitor_out", {"visitor_id": "V00000000a1"}, "GU", "gate").result(
        timeout=5
    )
    watched = {"visitor_id": "V00000000b2", "name": "赵先生", "visiting": "一年级",
               "purpose": "接孩子", "watch": {"reason": "barred"}, "alert": "loud"}  # fmt: skip
    node.writer.record_action("visitor_in", watched, "GU", "gate").result(timeout=5)
    made = log(node)
    visitors = made.table("visitors").records()
    assert [(v["name"], v["document"], v["in"], v["out"]) for v in visitors] == [
        ("钱先生", "****1234", "15:30", "15:30"),
        ("赵先生", "", "15:30", ""),
    ]
    alerts = made.table("alerts").records()
    assert [(a["adult"], a["detail"]) for a in alerts] == [("赵先生", "被禁止接送学生的家长")]
    items = [(i["kind"], i["who"]) for i in made.table("open_items").records()]
    assert ("访客未登记离开", "赵先生") in items
    assert ("访客未登记离开", "钱先生") not in items
    today = log(node, over=False)  # while the day goes on, nobody is an open item yet
    assert today.table("open_items").rows == []


def test_patrol_rounds_done_and_missed_are_in_the_log(
    tmp_path: Path, make_node: Callable[..., Node]
) -> None:
    from tests.http.test_patrol import patrol_bundle

    clock = ManualClock(local("15:30"))
    node = make_node(clock=clock, roster_dir=patrol_bundle(tmp_path / "patrol"))
    for station, card, at in (("K1", CARD["L1"], "16:10"), ("K2", CARD["L1"], "16:12"),
                              ("K2", CARD["L1"], "16:12:30"), ("P1", TAG, "16:15")):  # fmt: skip
        clock.set(local(at))
        node.writer.submit_nowait(node.writer.make_tap(station, card)).result(5)
    clock.set(local("17:05"))  # the 16:30 round done; 17:00 missed; the rest to come
    made = duty_log(reports.LedgerSource(node.ledger, node.roster), TODAY, over=False,
                        now=clock.now())  # fmt: skip
    rows = made.table("rounds").records()
    assert [(r["due"], r["state"]) for r in rows[:3]] == [
        ("16:30", "已完成"),
        ("17:00", "漏巡"),
        ("17:30", "进行中"),
    ]
    assert rows[0]["by"] == "刘校长"
    assert "东楼梯" in rows[1]["not_visited"]
    visits = made.table("patrol").records()
    assert [v["where"] for v in visits] == ["101教室", "实验室", "东楼梯"]
    # Only the second tap at K2 within the minute took the group over: one handover.
    handovers = made.table("handovers").records()
    assert [(h["group"], h["to"], h["how"]) for h in handovers] == [
        ("科学社", "刘校长", "巡查后确认接管")
    ]
    items = [(i["kind"], i["who"]) for i in made.table("open_items").records()]
    assert ("漏巡", "17:00 的巡查") in items


def test_a_hub_refuses_a_sign_off_without_proof_and_an_overlong_note(
    server: LiveServer, client: httpx.Client
) -> None:
    node = server.node
    node.ledger.set_pin("L1", auth.hash_pin("2468"))
    headers = {"Authorization": f"Bearer {server.token('L1')}"}
    noted = client.post("/api/v1/duty/notes", headers=headers, json={"text": "东门秩序正常"})
    assert noted.status_code == 201
    code = node.signin_codes.issue("L1")
    signed = client.post("/api/v1/duty/signoff", headers=headers,
                         json={"code": code, "pin": "2468"})  # fmt: skip
    assert signed.status_code == 201, signed.text
    made = {e.event_id: e for e in node.ledger.events_after(0, 1000)}
    signoff, note = made[signed.json()["id"]], made[noted.json()["id"]]
    key = proof.public_text(proof.load_key(node.settings.data_dir))
    assert schema.problems([signoff], node.clock.now(), lambda _: (True, key)) == []
    # Someone with a kiosk's device token forges a sign-off without a staff proof, or
    # stretches a note past what the API takes: the receiver refuses each.
    bare = dataclasses.replace(signoff, data={k: v for k, v in signoff.data.items()
                                              if k != "proof"})  # fmt: skip
    assert "proof" in schema.problems([bare], node.clock.now(), lambda _: (True, key))[0]
    long = dataclasses.replace(note, data={**note.data, "text": "长" * 501})
    assert "data.text" in schema.problems([long], node.clock.now())[0]


def test_a_visitor_entry_with_a_malformed_watch_is_refused_and_breaks_no_log(
    make_node: Callable[..., Node],
) -> None:
    # A stolen kiosk pushes a visitor entry whose ``watch`` is not a watchlist match: a
    # receiver refuses it, and one already in a ledger (a file copied in) breaks no log.
    node = make_node()
    entry = {"visitor_id": "V00000000c3", "name": "孙先生", "visiting": "陈老师",
             "purpose": "送教材", "watch": [1]}  # fmt: skip
    refused = node.writer.record_action("visitor_in", entry, "GU", "gate")
    with pytest.raises(TapError, match="watch"):
        refused.result(timeout=5)
    made = next(iter(node.ledger.events_after(0, 10)), None)
    assert made is None  # nothing written
    good = node.writer.record_action("visitor_in", {**entry, "watch": None}, "GU", "gate")
    event = good.result(timeout=5)
    bad = dataclasses.replace(event, data={**event.data, "watch": [1]})
    assert schema.event_problem(bad, bad.at) == "data.watch is not a watchlist match"
    node.ledger.write(lambda conn: conn.execute("DROP TRIGGER events_append_only_update"))
    node.ledger.write(lambda conn: conn.execute(
        "UPDATE events SET data = json_set(data, '$.watch', json('[1]')) WHERE id = ?",
        (event.event_id,)))  # fmt: skip
    node.projection.forget()
    visitors = log(node).table("visitors").records()
    assert [v["name"] for v in visitors] == ["孙先生"]
