"""A generated afternoon for a demo campus, through a real `campus-edge serve` process.

The expected picture comes from the generated script itself (who signed in where,
who took custody, who left with whom), not from the projection code under test.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from edge.school import roster as roster_mod
from edge.store.ledger import Ledger
from tests.roster_files import TODAY
from tests.servers import local
from tests.services import Service, imported_campus


@pytest.fixture(scope="module")
def campus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, roster_mod.Roster]]:
    root = tmp_path_factory.mktemp("campus")
    bundle = imported_campus(root, students=300, seed=7)
    service = Service(root / "data")
    service.start()
    yield service, roster_mod.load(bundle, version=1)
    service.stop()


@dataclass
class Script:
    """A generated afternoon and, for any moment, what the picture must be."""

    taps: list[tuple[dt.datetime, str, str]] = field(default_factory=list)
    facts: list[tuple[dt.datetime, str, dict]] = field(default_factory=list)
    custody: list[tuple[dt.datetime, str, str]] = field(default_factory=list)

    def expected(self, roster: roster_mod.Roster, at: dt.datetime) -> dict[str, dict]:
        picture: dict[str, dict] = {}
        for sid in roster.students:
            if roster.on_leave(sid, TODAY):
                picture[sid] = {"state": "on_leave"}
            elif roster.expected_groups(sid, TODAY):
                picture[sid] = {"state": "expected"}
        for moment, sid, fact in sorted(self.facts, key=lambda f: f[0]):
            if moment <= at:
                picture[sid] = fact
        custodians = {g: s for m, g, s in sorted(self.custody) if m <= at}
        end = roster.calendar.service_end_at(TODAY)
        for fact in picture.values():
            if fact["state"] == "present":
                fact["custodian_staff_id"] = custodians.get(fact["group_id"])
                fact["overdue"] = at >= end
        return picture


def generate(roster: roster_mod.Roster, seed: int = 11) -> Script:
    rng = random.Random(seed)
    script = Script()
    classroom = {s.group_id: s.station_id for s in roster.stations.values() if s.group_id}
    pickups = [s.station_id for s in roster.stations.values() if s.role == "pickup"]
    card = {
        **{s.student_id: s.card for s in roster.students.values()},
        **{g.guardian_id: g.card for g in roster.guardians.values()},
    }
    staff_card = {s.staff_id: s.card for s in roster.staff.values()}
    present: dict[str, str] = {}
    for sid in roster.students:
        groups = roster.expected_groups(sid, TODAY)
        if not groups or roster.on_leave(sid, TODAY) or rng.random() < 0.05:
            continue  # on leave, not enrolled today, or absent: stays expected
        basic = next(g for g in groups if roster.groups[g].kind == "basic")
        at = local("15:30") + dt.timedelta(seconds=rng.randrange(0, 900))
        script.taps.append((at, classroom[basic], card[sid] or ""))
        script.facts.append((at, sid, {"state": "present", "group_id": basic}))
        present[sid] = basic
        club = next((g for g in groups if roster.groups[g].kind == "club"), None)
        if club:
            moved = local("16:00") + dt.timedelta(seconds=rng.randrange(0, 600))
            script.taps.append((moved, classroom[club], card[sid] or ""))
            script.facts.append((moved, sid, {"state": "present", "group_id": club}))
    for n, group in enumerate(sorted(classroom)):
        at = local("15:50") + dt.timedelta(seconds=n)
        owner = roster.groups[group].staff_id or ""
        script.taps.append((at, classroom[group], staff_card[owner] or ""))
        script.custody.append((at, group, owner))
    # Releases in dismissal batches, one family at a time per pickup point.
    slot = dict.fromkeys(pickups, local("16:30"))
    context: dict[str, tuple[str, dt.datetime]] = {}
    for sid in sorted(present):
        student = roster.students[sid]
        if rng.random() < 0.04:
            continue  # nobody comes: overdue after the service end
        station = rng.choice(pickups)
        batch = rng.choice(roster.calendar.dismissal_times(student.grade))
        start = max(slot[station], dt.datetime.combine(TODAY, batch, tzinfo=local("0:0").tzinfo))
        open_for = context.get(station)
        right = roster.pickup.get((sid, open_for[0])) if open_for else None
        if (
            student.walk_alone
            and right is not None
            and right.allowed
            and open_for
            and (start - open_for[1] < dt.timedelta(seconds=120))
        ):
            # A sibling's guardian is still at the desk: the table's first pickup row wins.
            script.taps.append((start, station, card[sid] or ""))
            script.facts.append((start, sid, {"state": "released", "released_to": open_for[0]}))
        elif student.walk_alone:
            script.taps.append((start, station, card[sid] or ""))
            script.facts.append((start, sid, {"state": "left_alone"}))
        else:
            guardian = next(
                g for s, g in roster.pickup if s == sid and roster.pickup[(s, g)].allowed
            )
            context[station] = (guardian, start)
            script.taps.append((start, station, card[guardian] or ""))
            script.taps.append((start + dt.timedelta(seconds=3), station, card[sid] or ""))
            script.facts.append(
                (
                    start + dt.timedelta(seconds=3),
                    sid,
                    {"state": "released", "released_to": guardian},
                )
            )
        slot[station] = start + dt.timedelta(seconds=11)  # past the 10 s debounce
    script.taps.sort()
    return script


def test_a_generated_afternoon_gives_the_right_picture_at_every_moment(campus) -> None:
    service, roster = campus
    script = generate(roster)
    assert len(script.taps) > 500
    with httpx.Client(base_url=service.url, timeout=10) as client:
        for at, station, uid in script.taps:
            reply = client.post(
                "/api/v1/sim/taps", json={"station": station, "uid": uid, "at": at.isoformat()}
            )
            assert reply.status_code == 200, reply.text
            assert reply.json()["outcome"] == "accepted", (station, uid, reply.json())
        headers = {"authorization": f"Bearer {service.token('T001')}"}
        for moment in ("15:35", "15:55", "16:05", "16:45", "17:15", "17:45", "18:30"):
            at = local(moment)
            got = client.get(
                "/api/v1/presence",
                headers=headers,
                params={"date": TODAY.isoformat(), "at": at.isoformat()},
            ).json()
            want = script.expected(roster, at)
            seen = {s["student_id"]: s for s in got["students"]}
            assert set(seen) == set(want), moment
            for sid, fact in want.items():
                for key, value in fact.items():
                    assert seen[sid][key] == value, (moment, sid, key, seen[sid])
            states = [f["state"] for f in want.values()]
            assert got["counts"]["present"] == states.count("present"), moment
        final = client.get(
            "/api/v1/presence", headers=headers, params={"date": TODAY.isoformat()}
        ).json()
        assert final["counts"]["released"] > 100
        assert final["counts"]["left_alone"] > 5


@dataclass
class KillReport:
    """What a run of the kill harness saw."""

    kills: int
    acknowledged: list[str]
    stored: list[str]
    integrity: str
    chain_problems: list[str]
    events: list

    @property
    def lost(self) -> set[str]:
        return set(self.acknowledged) - set(self.stored)


def kill_harness(root: Path, kills: int, tappers: int = 3) -> KillReport:
    """Tap from several clients, SIGKILL the service at a random moment, restart; repeat."""
    bundle = imported_campus(root, students=120, seed=3)
    roster = roster_mod.load(bundle, version=1)
    cards = [s.card for s in roster.students.values()]
    service = Service(root / "data")
    acked: list[str] = []
    moment = [local("15:30")]

    def tapper(worker: int) -> None:
        with httpx.Client(base_url=service.url, timeout=5) as client:
            for n in range(100_000):
                uid = cards[(worker * 37 + n) % len(cards)]
                station = "K-1A" if worker % 2 else "P-EAST"
                moment[0] += dt.timedelta(seconds=1)
                body = {"station": station, "uid": uid, "at": moment[0].isoformat()}
                try:
                    reply = client.post("/api/v1/sim/taps", json=body)
                except httpx.TransportError:
                    return  # killed mid-request: not acknowledged, may or may not be stored
                if reply.status_code == 200:
                    acked.append(reply.json()["event_id"])

    try:
        for _ in range(kills):
            service.start()
            with ThreadPoolExecutor(tappers) as pool:
                futures = [pool.submit(tapper, w) for w in range(tappers)]
                time.sleep(random.uniform(0.1, 0.6))
                service.kill()
                for f in futures:
                    f.result()
    finally:
        service.stop()
    ledger = Ledger(root / "data" / "campus-edge.db", "gate-1")
    with sqlite3.connect(root / "data" / "campus-edge.db") as db:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        stored = [r[0] for r in db.execute("SELECT id FROM events")]
    _, problems = ledger.verify()
    return KillReport(kills, acked, stored, integrity, problems, ledger.events_of_day(TODAY))


def test_acknowledged_taps_survive_sigkill_once_each(tmp_path: Path) -> None:
    report = kill_harness(tmp_path, kills=int(os.environ.get("CAMPUS_EDGE_KILLS", "30")))
    assert report.integrity == "ok"
    assert len(report.stored) == len(set(report.stored))  # each event once
    assert not report.lost, f"{len(report.lost)} acknowledged taps lost"
    assert len(report.acknowledged) > 100
    assert report.chain_problems == []
    # One database, one epoch: after each restart seq goes on where it stopped.
    seqs = sorted(e.seq for e in report.events if e.node_id == "gate-1")  # not the import
    assert seqs == list(range(1, len(seqs) + 1))
    # After the last restart, taps applied in place give the same picture as a fold of
    # the whole ledger (the projection rebuilt equals the live one).
    service = Service(tmp_path / "data")
    service.start()
    try:
        headers = {"authorization": f"Bearer {service.token('T001')}"}
        roster = roster_mod.load(tmp_path / "roster", version=1)
        with httpx.Client(base_url=service.url, timeout=10, headers=headers) as client:
            for n, student in enumerate(list(roster.students.values())[:20]):
                at = local("17:00") + dt.timedelta(seconds=11 * n)
                body = {"station": "P-EAST" if n % 2 else "K-1A", "uid": student.card or "",
                        "at": at.isoformat()}  # fmt: skip
                assert client.post("/api/v1/sim/taps", json=body).status_code == 200
            day = {"date": TODAY.isoformat()}
            live = client.get("/api/v1/presence", params=day).json()["students"]
            rebuilt = client.get(
                "/api/v1/presence", params={**day, "at": local("23:59").isoformat()}
            ).json()["students"]
    finally:
        service.stop()
    keys = ("student_id", "state", "group_id", "custodian_staff_id", "released_to", "since")
    assert [[s[k] for k in keys] for s in live] == [[s[k] for k in keys] for s in rebuilt]
