"""`campus-edge demo`: a demo clock that runs fast, and an afternoon that plays by itself."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner, Result

from edge.cli import afternoon, demo
from edge.cli.app import app
from edge.clock import ScaledClock
from edge.school import roster as roster_mod
from edge.store.ledger import Ledger
from tests.demo_process import DemoProcess

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY, SATURDAY = dt.date(2026, 11, 23), dt.date(2026, 11, 28)


class RealTime:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


def test_the_demo_clock_starts_where_told_and_runs_speed_times_real_time() -> None:
    real = RealTime()
    start = dt.datetime(2026, 11, 28, 15, 30, tzinfo=SHANGHAI)
    clock = ScaledClock(start, 30, slow_after=start + dt.timedelta(hours=3), real=real)
    assert clock.now() == start
    real.seconds += 60  # a real minute is half an hour of the demo
    assert clock.now().astimezone(SHANGHAI).strftime("%H:%M") == "16:00"
    assert clock.monotonic()[1] == pytest.approx(1800)  # windows (120 s contexts) scale too
    assert clock.real_seconds_until(start + dt.timedelta(hours=1)) == pytest.approx(60)
    assert clock.real_seconds_until(start) == 0
    real.seconds += 300  # 18:30: from here on, real speed (tokens stay valid, no tomorrow)
    assert clock.now().astimezone(SHANGHAI).strftime("%H:%M") == "18:30"
    real.seconds += 60
    assert clock.now().astimezone(SHANGHAI).strftime("%H:%M") == "18:31"
    assert clock.real_seconds_until(start + dt.timedelta(hours=3, minutes=11)) == pytest.approx(600)
    clock.restart()  # the node is up: the afternoon begins
    assert clock.now() == start


def test_the_demo_clock_refuses_a_naive_start_or_a_wild_speed() -> None:
    with pytest.raises(ValueError, match="time zone"):
        ScaledClock(dt.datetime(2026, 11, 28, 15, 30), 30)  # noqa: DTZ001 - the case refused
    with pytest.raises(ValueError, match="speed"):
        ScaledClock(dt.datetime(2026, 11, 28, 15, 30, tzinfo=SHANGHAI), 0)


def campus(tmp_path: Path, day: dt.date, students: int = 80) -> roster_mod.Roster:
    bundle = demo.write_bundle(tmp_path / "roster", students=students, today=day)
    return roster_mod.load(bundle, version=1)


@pytest.mark.parametrize("day", [MONDAY, SATURDAY])
def test_a_generated_afternoon_has_every_scene_inside_its_window(tmp_path: Path, day) -> None:
    roster = campus(tmp_path, day)
    steps = afternoon.plan(roster, day, seed=5)
    assert steps == afternoon.plan(roster, day, seed=5)  # deterministic for a seed
    assert steps != afternoon.plan(roster, day, seed=6)
    assert steps == sorted(steps, key=lambda s: s.at)
    first, last = steps[0].at.astimezone(SHANGHAI), steps[-1].at.astimezone(SHANGHAI)
    end = roster.calendar.service_end_at(day)  # a Saturday is a make-up day (调休)
    assert first.strftime("%H:%M") == "15:30"
    assert first < end < last
    assert last <= dt.datetime.combine(day, dt.time(18, 30), tzinfo=SHANGHAI)
    stations = Counter(s.station for s in steps)
    assert stations["P-EAST"] > 5
    assert stations["P-WEST"] > 5
    notes = " ".join(s.note for s in steps)
    for scene in ("交接班", "无权接", "忘带接送卡", "超时来接", "放学批次", "服务结束"):
        assert scene in notes
    assert any(s.manual for s in steps)
    assert any(s.kind == afternoon.ESCALATE for s in steps)
    walkers = {r["card_uid"] for r in roster.tables["students"] if r["walk_alone"] == "1"}
    assert any(s.card in walkers and s.station.startswith("P-") for s in steps)


def test_a_demo_started_late_leaves_out_what_has_passed(tmp_path: Path) -> None:
    roster = campus(tmp_path, MONDAY)
    begin = dt.datetime.combine(MONDAY, dt.time(16, 45), tzinfo=SHANGHAI)
    steps = afternoon.plan(roster, MONDAY, seed=5, begin=begin)
    assert min(s.at for s in steps) >= begin
    assert any(s.station.startswith("K-") for s in steps)  # the children still come in


def demo_command(*args: str) -> Result:
    return CliRunner().invoke(app, ["demo", *args])


def test_the_demo_says_what_is_wrong_with_its_options(tmp_path: Path) -> None:
    made = demo_command("--start", "25:00", "--data-dir", str(tmp_path))
    assert made.exit_code == 1
    assert "--start 25:00" in made.output
    made = demo_command("--speed", "0", "--data-dir", str(tmp_path))
    assert made.exit_code == 1
    assert "--speed" in made.output
    school = tmp_path / "school"  # a real campus's directory: the demo must not wipe it
    ledger = Ledger(school / "campus-edge.db", "gate-1")
    ledger.save_roster(campus(tmp_path, MONDAY, 30), "roster")
    made = demo_command("--data-dir", str(school))
    assert made.exit_code == 1
    assert "not a demo" in made.output
    assert ledger.roster_version() == 1


def test_the_demo_plays_its_afternoon_on_its_clock_through_the_api(tmp_path: Path) -> None:
    shown = DemoProcess(tmp_path / "demo", "--speed", "900", "--students", "80")
    try:
        printed = shown.output()
        for page in ("/dashboard ", "/kiosk/K-", "/kiosk/P-EAST", "/dashboard/rollcall"):
            assert page in printed
        assert "900x real time" in printed
        assert "Ctrl+C" in printed
        now = shown.now()  # the node's answers are in the demo's afternoon, today
        assert now.date() == demo.demo_day()
        assert dt.time(15, 30) <= now.time() < dt.time(17)
        end = dt.datetime.fromisoformat(shown.get("/api/v1/presence").json()["service_end"])
        assert end.strftime("%H:%M") in ("17:45", "18:00")  # inside the played window
        shown.wait_until("18:30")
        events = shown.events()
    finally:
        shown.stop()
    kinds = Counter((e["kind"], e["code"]) for e in events)
    assert kinds["signed_in", "signed_in"] > 60
    handovers = [e for e in events if e["code"] == "custody_taken"
                 and e["data"].get("previous_custodian")]  # fmt: skip
    assert len(handovers) == 1
    assert handovers[0]["at"] > f"{now.date()}T08:25"
    released = {e["station"] for e in events if e["kind"] == "released"}
    assert released == {"P-EAST", "P-WEST"}
    refused = [e for e in events if e["code"] == "barred_guardian"]
    assert refused
    assert refused[0]["data"]["alert"] == "loud"
    assert kinds["released", "released_manually"] == 1  # the forgotten card
    late = [e for e in events if e["code"] == "late_custody"]
    assert late
    assert all(e["data"]["escalated"] for e in late)
    held = {sid for e in late for sid in e["data"]["present"]}
    after = late[0]["seq"]
    collected = {e["subject_id"] for e in events if e["kind"] == "released" and e["seq"] > after}
    assert held
    assert held <= collected
