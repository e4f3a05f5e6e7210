"""Patrol rounds (巡查) through a live server: a patrolled afternoon, hostile visits.

The roster adds a checkpoint tag and ``[patrol]``: a round every 30 minutes from 16:00
to the service end (18:00), visiting both classrooms and the checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from edge.clock import ManualClock
from edge.node import Node
from tests import roster_files
from tests.roster_files import CARD
from tests.servers import LiveServer, local

TAG = "04CC000001"  # the checkpoint's tag, as a phone's Web NFC reads it: 04:CC:00:00:01
PATROL = """
[patrol]
every_minutes = 30
from = "16:00"
roles = ["duty_leader", "guard"]
places = ["K1", "K2", "CP1"]
"""


def patrol_bundle(folder: Path) -> Path:
    return roster_files.write(
        folder,
        **{
            "school.toml": roster_files.FILES["school.toml"] + PATROL,
            "checkpoints.csv": f"checkpoint_id,name,card_uid,place\nCP1,东楼梯,{TAG},东楼二层\n",
        },
    )


@pytest.fixture
def patrolled(
    tmp_path: Path, make_node: Callable[..., Node]
) -> Iterator[tuple[LiveServer, ManualClock]]:
    clock = ManualClock(local("15:30"))
    node = make_node(clock=clock, roster_dir=patrol_bundle(tmp_path / "patrol"))
    with LiveServer(node) as live:
        yield live, clock


def tap(client: httpx.Client, station: str, who: str, at: str | None = None) -> dict:
    body = {"station": station, "uid": CARD.get(who, who)}
    if at:
        body["at"] = local(at).isoformat()
    reply = client.post("/api/v1/sim/taps", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


def custodian(client: httpx.Client, headers: dict, student: str) -> str | None:
    people = client.get("/api/v1/presence", headers=headers).json()["students"]
    return next(s["custodian_staff_id"] for s in people if s["student_id"] == student)


def bearer(live: LiveServer, staff: str) -> dict[str, str]:
    return {"authorization": f"Bearer {live.token(staff)}"}


def test_a_patrolled_afternoon(patrolled: tuple[LiveServer, ManualClock]) -> None:
    live, clock = patrolled
    leader = bearer(live, "L1")
    with httpx.Client(base_url=live.url, timeout=10) as client:
        tap(client, "K1", "S1", "15:40")
        assert tap(client, "K1", "T1", "15:45")["kind"] == "custody_taken"  # a teacher: as before
        # Round 1 (16:00-16:30): the duty leader visits both rooms and the checkpoint.
        seen = tap(client, "K1", "L1", "16:05")
        assert seen["kind"] == "patrol_visit"
        assert seen["outcome"] == "accepted"
        assert seen["message"].startswith("巡查：刘校长，一年级看护组实到1人")
        assert [m["name"] for m in seen["missing"]] == ["小红", "小刚"]
        assert custodian(client, leader, "S1") == "T1"  # a visit never moves custody
        assert tap(client, "K2", "L1", "16:10")["kind"] == "patrol_visit"
        clock.set(local("16:20"))  # the phone sends it a little later, with its own moment
        sent = {"tag": "04:cc:00:00:01", "at": local("16:15").isoformat()}
        phone = client.post("/api/v1/patrol/visits", headers=leader, json=sent)
        assert phone.status_code == 201, phone.text
        assert phone.json()["checkpoint_id"] == "CP1"
        assert phone.json()["staff_id"] == "L1"
        # Round 2: the guard visits K1 and taps again 30 s later: that takes the group over
        # (within 10 s the second tap is only a debounce).
        assert tap(client, "K1", "GU", "16:40")["kind"] == "patrol_visit"
        assert custodian(client, leader, "S1") == "T1"
        assert tap(client, "K1", "GU", "16:40:05")["outcome"] == "ignored"
        taken = tap(client, "K1", "GU", "16:40:30")
        assert (taken["kind"], taken["code"]) == ("custody_taken", "patrol_custody_taken")
        assert custodian(client, leader, "S1") == "GU"
        # The duty leader visits K2 now, and confirms a takeover on the kiosk's screen.
        clock.set(local("16:45"))
        visit = tap(client, "K2", "L1")
        assert visit["kind"] == "patrol_visit"
        confirm = client.post("/api/v1/stations/K2/patrol-confirm",
                              json={"event_id": visit["event_id"]})  # fmt: skip
        assert confirm.status_code == 200, confirm.text
        assert confirm.json()["code"] == "patrol_custody_taken"
        rooms = client.get("/api/v1/presence", headers=leader).json()
        assert rooms["students"]  # the picture still answers
        again = client.post("/api/v1/stations/K2/patrol-confirm",
                            json={"event_id": visit["event_id"]})  # fmt: skip
        assert again.status_code == 409  # done once: no visit waits any more
        # Round 3 (17:00-17:30) goes by without anyone: at 17:35 it is missed, round 2
        # lacks the checkpoint, round 4 is open.
        clock.set(local("17:35"))
        rounds = client.get("/api/v1/patrol", headers=leader).json()
    states = [(r["due"][11:16], r["state"]) for r in rounds["rounds"]]
    assert states == [("16:30", "done"), ("17:00", "incomplete"), ("17:30", "missed"),
                      ("18:00", "open")]  # fmt: skip
    first = rounds["rounds"][0]
    assert sorted(v.get("station") or v.get("checkpoint_id") for v in first["visits"]) == [
        "CP1", "K1", "K2"]  # fmt: skip
    assert rounds["rounds"][1]["missed"] == ["CP1"]
    assert rounds["rounds"][3]["not_yet"] == ["K1", "K2", "CP1"]
    assert [a["due"][11:16] for a in rounds["alerts"]] == ["17:00", "17:30"]
    assert rounds["alerts"][1]["names"] == ["101教室", "实验室", "东楼梯"]


def test_a_checkpoint_tag_at_a_kiosk_is_signed_by_the_card_before_it(
    patrolled: tuple[LiveServer, ManualClock],
) -> None:
    live, _ = patrolled
    with httpx.Client(base_url=live.url, timeout=10) as client:
        alone = tap(client, "P1", TAG, "16:05")
        assert (alone["kind"], alone["code"]) == ("patrol_visit", "patrol_checkpoint_tag")
        assert tap(client, "P1", "GU", "16:20")["kind"] == "staff_on_duty"
        signed = tap(client, "P1", TAG, "16:20:20")
        assert signed["code"] == "patrol_checkpoint"
        assert signed["subject"]["id"] == "GU"
        assert signed["message"] == "巡查：张保安，东楼梯"


def test_hostile_visits_are_refused_with_a_sentence(
    patrolled: tuple[LiveServer, ManualClock],
) -> None:
    live, _ = patrolled
    guard, teacher = bearer(live, "GU"), bearer(live, "T1")
    post = "/api/v1/patrol/visits"
    with httpx.Client(base_url=live.url, timeout=10) as client:
        refused = {
            "unknown tag": client.post(post, headers=guard, json={"tag": "DEADBEEF"}),
            "a child's card": client.post(post, headers=guard, json={"tag": CARD["S1"]}),
            "control characters": client.post(post, headers=guard, json={"tag": "04CC\x1b[2J"}),
            "huge at": client.post(
                post, headers=guard, json={"tag": TAG, "at": "9999-12-31T23:59:59+08:00"}
            ),
            "a month old": client.post(
                post, headers=guard, json={"tag": TAG, "at": "2026-10-20T16:00:00+08:00"}
            ),
            "naive at": client.post(post, headers=guard, json={"tag": TAG, "at": "2026-11-23"}),
            "extra field": client.post(post, headers=guard, json={"tag": TAG, "staff_id": "L1"}),
            "huge tag": client.post(post, headers=guard, json={"tag": "0" * 100_000}),
            "no token": client.post(post, json={"tag": TAG}),
            "teacher": client.post(post, headers=teacher, json={"tag": TAG}),
            "confirm elsewhere": client.post(
                "/api/v1/stations/K1/patrol-confirm",
                headers={"host": "campus.example"},
                json={"event_id": "x:0:1"},
            ),
            "confirm nothing": client.post(
                "/api/v1/stations/K1/patrol-confirm", json={"event_id": "kiosk-0:ab:1"}
            ),
            "rounds teacher": client.get("/api/v1/patrol", headers=teacher),
            "rounds date": client.get("/api/v1/patrol?date=1999-01-01", headers=guard),
        }
        codes = {name: reply.status_code for name, reply in refused.items()}
        assert codes == {
            "unknown tag": 404, "a child's card": 404, "control characters": 422,
            "huge at": 422, "a month old": 422, "naive at": 422, "extra field": 422,
            "huge tag": 413, "no token": 401, "teacher": 403, "confirm elsewhere": 401,
            "confirm nothing": 409, "rounds teacher": 403, "rounds date": 422,
        }  # fmt: skip
        assert "checkpoint" in refused["unknown tag"].json()["detail"]
        assert "巡查点" in refused["a child's card"].json()["detail"]
        events = client.get("/api/v1/events", headers=bearer(live, "A1")).json()["events"]
    assert not [e for e in events if e["kind"] == "patrol_visit"]  # nothing half-written
    assert client.is_closed


def test_a_visit_sent_twice_is_kept_once(patrolled: tuple[LiveServer, ManualClock]) -> None:
    live, clock = patrolled
    clock.set(local("16:20"))
    body = {"tag": TAG, "at": local("16:12").isoformat(), "visit_id": "phone-0001-abc"}
    with httpx.Client(base_url=live.url, timeout=10) as client:
        first = client.post("/api/v1/patrol/visits", headers=bearer(live, "GU"), json=body)
        second = client.post("/api/v1/patrol/visits", headers=bearer(live, "GU"), json=body)
        rounds = client.get("/api/v1/patrol", headers=bearer(live, "GU")).json()
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["event_id"] == second.json()["event_id"]
    assert len(rounds["rounds"][0]["visits"]) == 1


def test_a_phone_with_a_wrong_date_is_corrected_by_when_it_sent(
    patrolled: tuple[LiveServer, ManualClock],
) -> None:
    live, clock = patrolled
    clock.set(local("16:20"))
    post, guard = "/api/v1/patrol/visits", bearer(live, "GU")
    # The phone thinks it is New Year's Day 2027; it read the tag 6 minutes before sending.
    wrong = {"tag": TAG, "at": "2027-01-01T10:00:00+08:00", "sent_at": "2027-01-01T10:06:00+08:00"}
    backwards = {**wrong, "sent_at": "2027-01-01T09:00:00+08:00"}
    with httpx.Client(base_url=live.url, timeout=10) as client:
        kept = client.post(post, headers=guard, json=wrong)
        refused = client.post(post, headers=guard, json=backwards)
    assert kept.status_code == 201, kept.text
    assert kept.json()["at"] == local("16:14").isoformat()
    assert refused.status_code == 422
    assert "sent_at" in refused.json()["detail"]
