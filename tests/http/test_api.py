"""The HTTP surface against a real uvicorn server (CONTRACT.md, HTTP)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import httpx
import pytest

from edge.clock import ManualClock
from edge.node import Node
from edge.projection import picture
from edge.school.fold import fold
from tests.roster_files import CARD, TODAY, UNKNOWN
from tests.servers import LiveServer, local


def tap(client: httpx.Client, station: str, who: str, at: str | None = None) -> dict:
    body = {"station": station, "uid": CARD.get(who, who)}
    if at:
        body["at"] = local(at).isoformat()
    reply = client.post("/api/v1/sim/taps", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_healthz_names_the_node(client: httpx.Client) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["role"] == "kiosk"
    assert body["node_id"] == "kiosk-0"
    assert body["readers"]["K1"]["driver"] == "simulated"
    assert body["readers"]["K1"]["connected"] is True


def test_a_tap_is_answered_only_once_its_event_is_durable(
    server: LiveServer, client: httpx.Client
) -> None:
    answer = tap(client, "K1", "S1", "15:40")
    assert answer["outcome"] == "accepted"
    assert answer["message"] == "小明，签到成功：一年级看护组"
    assert answer["subject"] == {
        "kind": "student",
        "id": "S1",
        "name": "小明",
        "class": "一年级1班",
        "grade": 1,
    }
    # A connection of its own, as after a power cut, sees the event already.
    with sqlite3.connect(server.node.settings.database) as db:
        row = db.execute(
            "SELECT kind, subject_id FROM events WHERE id = ?", (answer["event_id"],)
        ).fetchone()
    assert row == ("signed_in", "S1")


def test_staff_tap_answers_with_head_count_and_named_missing(client: httpx.Client) -> None:
    tap(client, "K1", "S1", "15:40")
    answer = tap(client, "K1", "T1", "15:45")
    assert answer["missing"] == [
        {"student_id": "S2", "name": "小红", "class": "一年级1班", "grade": 1, "photo": None},
        {"student_id": "S3", "name": "小刚", "class": "五年级2班", "grade": 5, "photo": None},
    ]
    assert answer["head_count"] == 1
    assert "实到1人，应到4人，未到2人" in answer["message"]


def test_pickup_flow_and_a_loud_refusal(client: httpx.Client) -> None:
    tap(client, "K1", "S1", "15:40")
    opened = tap(client, "P1", "P3", "17:00")
    assert opened["outcome"] == "accepted"
    refused = tap(client, "P1", "S1", "17:00:05")
    assert (refused["outcome"], refused["alert"]) == ("denied", "loud")
    assert "赵先生" in refused["message"]
    assert "小明" in refused["message"]
    tap(client, "P1", "P1", "17:01")
    released = tap(client, "P1", "S1", "17:01:05")
    assert (released["outcome"], released["kind"]) == ("accepted", "released")
    assert released["message_en"] == "小明 released to 王妈妈"


def test_unknown_card_and_debounce(client: httpx.Client) -> None:
    assert tap(client, "K1", UNKNOWN, "16:00")["outcome"] == "denied"
    assert tap(client, "K1", UNKNOWN, "16:00:03")["outcome"] == "ignored"


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ('{"station": "K1"', 422, "not valid JSON"),
        ('{"station": "K1"}', 422, "uid: Field required"),
        ('{"station": "NOPE", "uid": "04A1A1A1"}', 404, "station 'NOPE' is not in the roster"),
        ('{"station": "K1", "uid": "hello"}', 422, "neither hex"),
        ('{"station": "K1", "uid": "04A1A1A1", "at": "yesterday"}', 422, "at:"),
        (
            '{"station": "K1", "uid": "04A1A1A1", "at": "9999-12-31T23:59:59-12:00"}',
            422,
            "not a moment of a school day",
        ),
        ("[1, 2, 3]", 422, "valid dictionary"),
        ('{"station": 5, "uid": ["04"]}', 422, "string"),
        ("", 422, "Field required"),
    ],
)
def test_bad_requests_get_a_4xx_sentence_and_record_nothing(
    server: LiveServer, client: httpx.Client, body: str, status: int, words: str
) -> None:
    before = server.node.ledger.count_events()
    reply = client.post(
        "/api/v1/sim/taps", content=body, headers={"content-type": "application/json"}
    )
    assert reply.status_code == status
    assert words in reply.json()["detail"]
    assert server.node.ledger.count_events() == before


def test_an_oversized_body_is_refused(client: httpx.Client) -> None:
    reply = client.post(
        "/api/v1/sim/taps",
        content=b"{" + b" " * 100_000 + b"}",
        headers={"content-type": "application/json"},
    )
    assert reply.status_code == 413


def test_an_oversized_chunked_body_is_refused_too(server: LiveServer, client: httpx.Client) -> None:
    def chunks():  # no Content-Length: the body arrives in pieces
        yield b'{"station": "K1", "uid": "04A1A1A1", "pad": "'
        for _ in range(20):
            yield b"x" * 8192
        yield b'"}'

    reply = client.post("/api/v1/sim/taps", content=chunks(),
                        headers={"content-type": "application/json"})  # fmt: skip
    assert reply.status_code == 413
    assert "larger than 65536 bytes" in reply.json()["detail"]
    pieces = iter([b'{"station": "K1", ', b'"uid": "04A1A1A1"}'])
    small = client.post("/api/v1/sim/taps", content=pieces,
                        headers={"content-type": "application/json"})  # fmt: skip
    assert small.status_code == 200  # a chunked body under the limit reaches the app whole
    assert server.node.ledger.count_events() == 1


def test_presence_needs_a_token_of_the_right_role(server: LiveServer, client: httpx.Client) -> None:
    assert client.get("/api/v1/presence").status_code == 401
    bad = client.get("/api/v1/presence", headers={"authorization": "Bearer ce1.x.y"})
    assert bad.status_code == 401
    forged = server.token("L1")[:-4] + "AAAA"
    assert (
        client.get("/api/v1/presence", headers={"authorization": f"Bearer {forged}"}).status_code
        == 401
    )
    teacher = {"authorization": f"Bearer {server.token('T1')}"}
    assert client.get("/api/v1/presence", headers=teacher).status_code == 403
    for who in ("L1", "GU", "A1"):
        reply = client.get(
            "/api/v1/presence", headers={"authorization": f"Bearer {server.token(who)}"}
        )
        assert reply.status_code == 200
    events_as_leader = client.get(
        "/api/v1/events", headers={"authorization": f"Bearer {server.token('L1')}"}
    )
    assert events_as_leader.status_code == 403


def test_an_expired_token_is_refused(make_node: Callable[..., Node]) -> None:
    clock = ManualClock(local("15:00"))
    with LiveServer(make_node(clock=clock)) as live, httpx.Client(base_url=live.url) as c:
        token = live.token("L1")
        clock.advance(hours=13)
        reply = c.get("/api/v1/presence", headers={"authorization": f"Bearer {token}"})
        assert reply.status_code == 401
        assert "expired" in reply.json()["detail"]


def test_presence_now_and_as_it_stood(server: LiveServer, client: httpx.Client) -> None:
    tap(client, "K1", "S1", "15:40")
    tap(client, "K1", "T1", "15:45")
    tap(client, "P1", "P1", "17:00")
    tap(client, "P1", "S1", "17:00:30")
    tap(client, "K1", "S2", "17:10")
    headers = {"authorization": f"Bearer {server.token('L1')}"}
    server.node.clock.set(local("18:05"))  # type: ignore[attr-defined]

    now = client.get("/api/v1/presence", params={"date": TODAY.isoformat()}, headers=headers).json()
    by_id = {s["student_id"]: s for s in now["students"]}
    assert by_id["S1"]["state"] == "released"
    assert by_id["S1"]["released_to"] == "P1"
    assert by_id["S2"]["state"] == "present"
    assert by_id["S2"]["custodian_staff_id"] == "T1"
    assert by_id["S2"]["overdue"] is True  # 18:05 is after the November end, 18:00
    assert by_id["S3"]["state"] == "expected"
    assert by_id["S4"]["state"] == "on_leave"
    assert "S5" in by_id  # enrolled on Mondays in G2
    assert now["service_end"] == "2026-11-23T18:00:00+08:00"
    assert now["dismissal"] == [
        {"grades": [1, 2], "times": ["16:00", "17:00", "17:30"]},
        {"grades": [3, 6], "times": ["17:00", "17:30"]},
    ]
    assert now["counts"] == {
        "expected": 2,
        "on_leave": 1,
        "present": 1,
        "released": 1,
        "left_alone": 0,
        "overdue": 1,
    }

    then = client.get(
        "/api/v1/presence", headers=headers, params={"at": local("16:30").isoformat()}
    ).json()
    by_id = {s["student_id"]: s for s in then["students"]}
    assert by_id["S1"]["state"] == "present"
    assert by_id["S1"]["group_id"] == "G1"
    assert by_id["S1"]["custodian_staff_id"] == "T1"
    assert by_id["S2"]["state"] == "expected"
    assert not any(s["overdue"] for s in then["students"])

    bad = client.get("/api/v1/presence", headers=headers, params={"at": "16:30"})
    assert bad.status_code == 422
    for params in ({"at": "0001-01-01T00:00:00+14:00"}, {"date": "9999-12-31"}):
        assert client.get("/api/v1/presence", headers=headers, params=params).status_code == 422


def test_events_page_the_ledger_in_order(server: LiveServer, client: httpx.Client) -> None:
    ids = [
        tap(client, "K1", who, f"15:4{n}")["event_id"]
        for n, who in enumerate(["S1", "S2", "S3", "T1", UNKNOWN])
    ]
    headers = {"authorization": f"Bearer {server.token('A1')}"}
    seen, cursor = [], 0
    while True:
        page = client.get(
            "/api/v1/events", params={"after": cursor, "limit": 2}, headers=headers
        ).json()
        if not page["events"]:
            break
        seen += page["events"]
        cursor = page["next"]
    assert [e["id"] for e in seen] == ids
    assert [e["seq"] for e in seen] == [1, 2, 3, 4, 5]
    assert all({"id", "node_id", "seq", "kind", "at", "station"} <= e.keys() for e in seen)
    assert seen[-1]["kind"] == "unknown_card"
    # Found by schemathesis: a cursor past SQLite's integer range was a 500.
    huge = client.get("/api/v1/events", params={"after": 2**70}, headers=headers)
    assert huge.status_code == 422
    assert "after" in huge.json()["detail"]


def test_the_rebuilt_picture_equals_the_live_one(server: LiveServer, client: httpx.Client) -> None:
    for n, (station, who) in enumerate(
        [
            ("K1", "S1"),
            ("K2", "S2"),
            ("K1", "T1"),
            ("K1", "S2"),
            ("P1", "P1"),
            ("P1", "S1"),
            ("P1", "S3"),
        ]
    ):
        tap(client, station, who, f"16:0{n}")
    node = server.node
    at = local("18:00")
    with node.projection.lock:
        live = picture(node.roster, node.projection.day(TODAY), at)
    rebuilt = picture(node.roster, fold(TODAY, node.ledger.events_of_day(TODAY)), at)
    assert live == rebuilt
    assert live["counts"]["released"] == 1
    assert live["counts"]["left_alone"] == 1


def test_the_simulation_endpoint_exists_only_with_simulate(
    make_node: Callable[..., Node],
) -> None:
    with LiveServer(make_node(simulate=False)) as live, httpx.Client(base_url=live.url) as c:
        assert (
            c.post("/api/v1/sim/taps", json={"station": "K1", "uid": "04A1A1A1"}).status_code == 404
        )
        assert c.get("/kiosk/K1").status_code == 200
        assert c.get("/kiosk/NOPE").status_code == 404


def test_the_ledger_refuses_updates_and_deletes(server: LiveServer, client: httpx.Client) -> None:
    tap(client, "K1", "S1", "15:40")
    with sqlite3.connect(server.node.settings.database) as db:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("UPDATE events SET kind = 'released'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            db.execute("DELETE FROM events")
