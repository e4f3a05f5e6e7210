"""The afternoon as a curve (GET /api/v1/presence/curve): the dashboard's chart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx

from edge.clock import ManualClock
from edge.node import Node
from edge.school import auth
from tests.roster_files import CARD
from tests.servers import LiveServer, local


def tap(client: httpx.Client, station: str, who: str, at: str) -> None:
    body = {"station": station, "uid": CARD.get(who, who), "at": local(at).isoformat()}
    reply = client.post("/api/v1/sim/taps", json=body)
    assert reply.status_code == 200, reply.text


def by_time(answer: dict) -> dict[str, dict]:
    return {p["at"][11:16]: p for p in answer["points"]}


def test_the_curve_counts_the_afternoon_step_by_step_and_ends_as_presence_does(
    make_node: Callable[..., Node],
) -> None:
    clock = ManualClock(local("15:30"))
    with LiveServer(make_node(clock=clock)) as server, httpx.Client(base_url=server.url) as client:
        leader = {"authorization": f"Bearer {server.token('L1')}"}
        tap(client, "K1", "S1", "15:31")
        tap(client, "K1", "S2", "15:42")
        tap(client, "K2", "S5", "15:43")
        tap(client, "P1", "P1", "16:03")
        tap(client, "P1", "S1", "16:04")  # released to 王妈妈
        tap(client, "P1", "S3", "16:06")  # not signed in, walks alone
        clock.set(local("18:07"))
        answer = client.get("/api/v1/presence/curve", headers=leader).json()
        presence = client.get("/api/v1/presence", headers=leader).json()

    points = by_time(answer)
    assert answer["date"] == "2026-11-23"
    assert answer["service_end"].startswith("2026-11-23T18:00:00+08:00")
    assert answer["end"].startswith("2026-11-23T19:00")
    assert answer["step_minutes"] == 5
    assert answer["dismissal"][0] == {"grades": [1, 2], "times": ["16:00", "17:00", "17:30"]}
    first = points["15:30"]
    assert (first["expected"], first["on_leave"], first["present"], first["signed_in"]) == (
        4,
        1,
        0,
        0,
    )
    assert (points["15:35"]["present"], points["15:35"]["expected"]) == (1, 3)
    assert points["15:45"]["present"] == 3
    at_1605 = points["16:05"]
    assert (at_1605["present"], at_1605["released"], at_1605["signed_in"]) == (2, 1, 3)
    assert points["16:10"]["left_alone"] == 1
    assert points["16:10"]["expected"] == 0
    assert points["17:55"]["overdue"] == 0
    assert points["18:00"]["overdue"] == 2  # S2 and S5 are still here at the service end
    last = answer["points"][-1]
    assert last["at"].startswith("2026-11-23T18:07")  # the last point is now
    assert all(p["at"] <= last["at"] for p in answer["points"])
    assert {k: last[k] for k in presence["counts"]} == presence["counts"]
    assert answer["cursor"] == presence.get("cursor", answer["cursor"]) > 0


def test_the_curve_moves_with_new_events_and_folds_again_only_when_it_must(
    server: LiveServer, client: httpx.Client
) -> None:
    node = server.node
    curves = node.curves
    now = local("16:30")

    def present() -> int:
        return curves.answer(node.roster, now.date(), now)["points"][-1]["present"]

    tap(client, "K1", "S1", "15:31")
    assert present() == 1
    assert curves.folds == 1
    tap(client, "K1", "S2", "15:32")
    tap(client, "P1", "P1", "15:40")
    tap(client, "P1", "S1", "15:41")
    assert present() == 1  # S2 came, S1 went home: moved forward, not folded again
    assert curves.folds == 1
    tap(client, "K1", "S3", "15:35")  # stamped earlier, made later: the node's HLC orders it
    assert present() == 2
    assert curves.folds == 1
    signed = next(e for e in node.ledger.student_day("S2", now.date()) if e.kind == "signed_in")
    admin = auth.issue(node.secret, "A1", "admin", node.clock.now(), 12)
    undone = client.post(
        f"/api/v1/events/{signed.event_id}/correct",
        headers={"authorization": f"Bearer {admin}"},
        json={"reason": "刷错了"},
    )
    assert undone.status_code == 200, undone.text
    assert present() == 1  # a correction: the day is folded again without the undone tap
    assert curves.folds == 2
    fixed = _fresh_fold(node, now)
    assert curves.answer(node.roster, now.date(), now)["points"] == fixed
    friday = dt.date(2026, 11, 20)
    for day in (friday, now.date(), friday, now.date()):  # a few days are kept
        curves.answer(node.roster, day, now)
    assert curves.folds == 3


def _fresh_fold(node: Node, now: dt.datetime) -> list[dict]:
    from edge.school.curve import curve

    folded = curve(node.roster, now.date(), node.ledger.iter_day(now.date()))
    return folded.to_json(now, node.roster.calendar.tz)["points"]


def test_the_curve_refuses_strangers_wrong_roles_and_bad_dates(
    server: LiveServer, client: httpx.Client
) -> None:
    assert client.get("/api/v1/presence/curve").status_code == 401
    teacher = {"authorization": f"Bearer {server.token('T1')}"}
    assert client.get("/api/v1/presence/curve", headers=teacher).status_code == 403
    guard = {"authorization": f"Bearer {server.token('GU')}"}
    for bad in ("1999-01-01", "2026-13-01", "x" * 300, "2026-11-23\n"):
        reply = client.get("/api/v1/presence/curve", params={"date": bad}, headers=guard)
        assert reply.status_code == 422, bad
        assert reply.json()["detail"]
    future = client.get("/api/v1/presence/curve", params={"date": "2026-12-01"}, headers=guard)
    assert future.status_code == 200
    assert future.json()["points"] == []
    past = client.get("/api/v1/presence/curve", params={"date": "2026-11-20"}, headers=guard)
    assert past.json()["points"][-1]["at"].startswith("2026-11-20T19:00")
