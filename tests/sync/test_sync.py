"""Sync between real processes: a hub and kiosks on loopback, through a fault proxy.

The kiosks start with empty data directories and a device token; they pull the
roster from the hub, push their taps up and pull the others' down. Faults come from
tests/fault_proxy.py (drops, lost answers, duplicates, delays, stale batches replayed),
the hub is SIGKILLed and restarted, a kiosk is SIGKILLed while pushing a backlog.
Afterwards every node's live picture must match the generated script (the oracle of
test_e2e) and the hub must hold each event exactly once, chains intact.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edge.school import roster as roster_mod
from tests import roster_files
from tests.fault_proxy import FAULTS, FaultProxy
from tests.ops.test_e2e import generate
from tests.roster_files import CARD, TODAY
from tests.servers import local, wait_for
from tests.services import Service, cli, imported_campus, replay_clock

FAST = {"CAMPUS_EDGE_SYNC_SECONDS": "0.2"}


class Campus:
    """A hub, a fault proxy in front of it, and two kiosks syncing through the proxy."""

    def __init__(self, root: Path) -> None:
        clock = replay_clock()  # set up in the morning of the afternoon it replays
        self.bundle = imported_campus(root / "hub", students=150, seed=21, env=clock)
        self.roster = roster_mod.load(self.bundle, version=1)
        self.hub = Service(root / "hub" / "data", "--role", "hub", node_id=None, env=clock)
        self.hub.start()
        self.proxy = FaultProxy(self.hub.url).__enter__()
        self.kiosks = {}
        for name in ("kiosk-a", "kiosk-b"):
            token = cli(self.hub.data_dir, "device", "add", name, env=clock).stdout.strip()
            self.kiosks[name] = Service(
                root / name, "--upstream", self.proxy.url, "--device-token", token,
                node_id=None, env={**FAST, **clock},
            )  # fmt: skip
        for kiosk in self.kiosks.values():
            kiosk.start()

    def nodes(self) -> list[Service]:
        return [self.hub, *self.kiosks.values()]

    def stop(self) -> None:
        for node in self.nodes():
            node.stop()
        self.proxy.__exit__()


@pytest.fixture(scope="module")
def campus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campus]:
    campus = Campus(tmp_path_factory.mktemp("sync"))
    yield campus
    campus.stop()


def events_in(service: Service) -> list[tuple[str, str, str]]:
    with sqlite3.connect(f"file:{service.data_dir / 'campus-edge.db'}?mode=ro", uri=True) as db:
        return list(db.execute("SELECT id, hash, kind FROM events"))


def tap(service: Service, station: str, uid: str, at: dt.datetime | None = None) -> dict:
    body = {"station": station, "uid": uid, **({"at": at.isoformat()} if at else {})}
    reply = httpx.post(f"{service.url}/api/v1/sim/taps", json=body, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def pictures(campus: Campus) -> dict[str, dict[str, dict]]:
    found = {}
    for node in campus.nodes():
        headers = {"authorization": f"Bearer {node.token('T001')}"}
        got = httpx.get(f"{node.url}/api/v1/presence", params={"date": TODAY.isoformat()},
                        headers=headers, timeout=10).json()  # fmt: skip
        found[node.data_dir.name if node is not campus.hub else "hub"] = {
            s["student_id"]: s for s in got["students"]
        }
    return found


def converged(campus: Campus) -> bool:
    hub_events = set(events_in(campus.hub))
    for kiosk in campus.kiosks.values():
        sync = kiosk.health()["sync"]
        if sync["waiting"] or sync["last_error"] or set(events_in(kiosk)) != hub_events:
            return False
    return True


def test_a_campus_converges_through_faults_kills_and_restarts(campus: Campus) -> None:
    wait_for(lambda: all(k.health()["roster_version"] == 1 for k in campus.kiosks.values()))
    a, b = campus.kiosks["kiosk-a"], campus.kiosks["kiosk-b"]
    assert a.health()["node_id"] == "kiosk-a"  # named by its device token
    script = generate(campus.roster, seed=4)
    pickups = {s for s, p in campus.roster.stations.items() if p.role == "pickup"}
    rng = random.Random(9)

    def run(taps: list[tuple[dt.datetime, str, str]]) -> None:
        for at, station, uid in taps:
            assert tap(b if station in pickups else a, station, uid, at)["outcome"] == "accepted"

    taps = script.taps
    cut = [len(taps) * n // 5 for n in range(6)]
    campus.proxy.faults = True
    run(taps[cut[0] : cut[1]])
    campus.hub.kill()  # the hub dies; the kiosks go on alone
    run(taps[cut[1] : cut[2]])
    campus.hub.start()
    campus.proxy.down = True  # the LAN is down: kiosk A builds a backlog
    run(taps[cut[2] : cut[3]])
    campus.proxy.down = False
    time.sleep(rng.uniform(0.2, 0.6))
    a.kill()  # killed while it pushes its backlog
    a.start()
    run(taps[cut[3] : cut[5]])
    time.sleep(2)
    campus.proxy.faults = False
    wait_for(lambda: converged(campus), timeout=90)

    assert all(campus.proxy.seen[f] > 0 for f in FAULTS), campus.proxy.seen
    hub_ids = [event_id for event_id, _, kind in events_in(campus.hub) if kind != "action"]
    assert len(hub_ids) == len(set(hub_ids)) == len(taps)  # each tap once, none lost
    want = script.expected(campus.roster, local("18:30"))
    for node, seen in pictures(campus).items():
        assert set(seen) == set(want), node
        for sid, fact in want.items():
            for key, value in fact.items():
                if key != "overdue":
                    assert seen[sid][key] == value, (node, sid, key, seen[sid])
    verified = cli(campus.hub.data_dir, "verify", check=False)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_guardian_at_the_gate_calls_the_child_in_the_classroom(campus: Campus) -> None:
    a, b = campus.kiosks["kiosk-a"], campus.kiosks["kiosk-b"]
    roster = campus.roster
    at = local("16:20")
    sid, student = next(
        (s, st) for s, st in roster.students.items()
        if st.card and roster.expected_groups(s, TODAY) and not roster.on_leave(s, TODAY)
        and not st.walk_alone and roster.expected_groups(s, TODAY)[0] in
        {p.group_id for p in roster.stations.values()}
    )  # fmt: skip
    group = roster.expected_groups(sid, TODAY)[0]
    room = next(s for s, p in roster.stations.items() if p.group_id == group)
    guardian = next(g for (s, g), right in roster.pickup.items() if s == sid and right.allowed)
    messages: list[dict] = []

    def listen() -> None:
        with httpx.stream("GET", f"{a.url}/api/v1/stations/{room}/stream", timeout=20) as reply:
            name = ""
            for line in reply.iter_lines():
                if line.startswith("event:"):
                    name = line[6:].strip()
                elif line.startswith("data:"):
                    messages.append({**json.loads(line[5:]), "type": name})
                    if name == "called":
                        return

    # Tomorrow's afternoon, so today's script does not stand in the way.
    tomorrow = TODAY + dt.timedelta(days=1)
    at = dt.datetime.combine(tomorrow, at.timetz())
    tap(a, room, student.card or "", at)
    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    wait_for(lambda: any(m.get("type") == "hello" for m in messages), timeout=10)
    wait_for(lambda: converged(campus), timeout=30)  # kiosk B knows where the child is
    started = time.monotonic()
    tap(b, "P-EAST", roster.guardians[guardian].card or "", at + dt.timedelta(minutes=5))
    listener.join(timeout=15)
    called = [m for m in messages if m.get("type") == "called"]
    assert called, messages
    assert called[0]["student_id"] == sid
    assert called[0]["guardian"] == roster.guardians[guardian].name
    assert called[0]["pickup_station"] == roster.stations["P-EAST"].name
    assert time.monotonic() - started < 5  # "within seconds while the LAN works"


@pytest.mark.parametrize("offset", [3600, -86400], ids=["an-hour-fast", "a-day-behind"])
def test_a_kiosk_with_a_wrong_clock_follows_the_hub(tmp_path: Path, offset: int) -> None:
    bundle = roster_files.write(tmp_path / "roster")
    cli(tmp_path / "hub", "roster", "import", str(bundle))
    cli(tmp_path / "kiosk", "roster", "import", str(bundle))  # it has no network yet
    hub = Service(tmp_path / "hub", "--role", "hub", node_id="hub")
    hub.start()
    token = cli(hub.data_dir, "device", "add", "kiosk-c").stdout.strip()
    wrong = {**FAST, "CAMPUS_EDGE_CLOCK_TRUSTED": "false",
             "CAMPUS_EDGE_SIM_CLOCK_OFFSET_SECONDS": str(offset)}  # fmt: skip
    with FaultProxy(hub.url) as proxy:
        proxy.down = True
        kiosk = Service(tmp_path / "kiosk", "--upstream", proxy.url, "--device-token", token,
                        node_id="kiosk-c", env=wrong)  # fmt: skip
        kiosk.start()
        try:
            early_real = dt.datetime.now(dt.UTC)
            early = tap(kiosk, "K1", CARD["S1"])
            assert abs((dt.datetime.fromisoformat(early["at"]) - early_real).total_seconds()
                       - offset) < 5  # fmt: skip
            assert kiosk.health()["clock_synced"] is False
            proxy.down = False
            wait_for(lambda: (kiosk.health()["sync"] or {}).get("last_success") is not None)
            step = kiosk.health()["sync"]["clock_step_seconds"]
            assert abs(step + offset) < 5  # it stepped its clock onto the hub's
            assert kiosk.health()["clock_synced"] is True
            late = tap(kiosk, "K1", CARD["S2"])
            now = dt.datetime.now(dt.UTC)
            assert abs((dt.datetime.fromisoformat(late["at"]) - now).total_seconds()) < 5
            headers = {"authorization": f"Bearer {hub.token('A1')}"}

            def on_hub(actions: bool = False) -> list[dict]:
                page = httpx.get(f"{hub.url}/api/v1/events", headers=headers, timeout=5)
                return [e for e in page.json()["events"] if e["node_id"] == "kiosk-c"
                        and (e["kind"] == "action") == actions]  # fmt: skip

            wait_for(lambda: len(on_hub()) == 2)
            first, second = on_hub()
            (stepped,) = on_hub(actions=True)  # the kiosk recorded how far it stepped
            assert stepped["code"] == "clock_stepped"
            assert abs(stepped["data"]["step_seconds"] + offset) < 5
            assert first["clock_synced"] is False  # marked: made on the wrong clock
            corrected = dt.datetime.fromisoformat(first["at_corrected"])
            assert abs((corrected - early_real).total_seconds()) < 5  # the hub corrects it
            assert second["clock_synced"] is True
            assert "at_corrected" not in second
            # The sign-in made on the wrong clock counts where it happened: today, at
            # its real moment, on the hub and on the kiosk itself once it has synced.
            for node in (hub, kiosk):
                wait_for(lambda node=node: presence_of(node, "S1").get("state") == "present")
                since = dt.datetime.fromisoformat(presence_of(node, "S1")["since"])
                assert abs((since - early_real).total_seconds()) < 5, node.data_dir
                # The dashboard's chart counts it where presence does.
                headers = {"authorization": f"Bearer {node.token('A1')}"}
                chart = httpx.get(f"{node.url}/api/v1/presence/curve", headers=headers,
                                  timeout=5).json()  # fmt: skip
                now = httpx.get(f"{node.url}/api/v1/presence", headers=headers, timeout=5).json()
                assert chart["points"][-1]["present"] == now["counts"]["present"] >= 1
        finally:
            kiosk.stop()
            hub.stop()


def presence_of(node: Service, student_id: str) -> dict:
    """Return a child's entry in a node's presence answer for its today ({} if absent)."""
    headers = {"authorization": f"Bearer {node.token('A1')}"}
    answer = httpx.get(f"{node.url}/api/v1/presence", headers=headers, timeout=5).json()
    return next((s for s in answer["students"] if s["student_id"] == student_id), {})


def test_delegations_and_passes_reach_the_kiosk_and_work_there_with_the_hub_stopped(
    tmp_path: Path,
) -> None:
    bundle = imported_campus(tmp_path / "hub", students=60, seed=9)
    roster = roster_mod.load(bundle, version=1)
    hub = Service(tmp_path / "hub" / "data", "--role", "hub", node_id=None)
    hub.start()
    token = cli(hub.data_dir, "device", "add", "kiosk-a").stdout.strip()
    kiosk = Service(tmp_path / "kiosk-a", "--upstream", hub.url, "--device-token", token,
                    node_id=None, env=FAST)  # fmt: skip
    kiosk.start()
    try:
        wait_for(lambda: kiosk.health()["roster_version"] == 1, timeout=20)
        rooms = {p.group_id: s for s, p in roster.stations.items() if p.group_id}
        sid, student = next((s, st) for s, st in roster.students.items()
                            if st.card and roster.enrollments[s][0][0] in rooms)  # fmt: skip
        room = rooms[roster.enrollments[sid][0][0]]
        signed_in = httpx.post(f"{kiosk.url}/api/v1/sim/taps",
                               json={"station": room, "uid": student.card})  # fmt: skip
        assert signed_in.json()["code"] == "signed_in", signed_in.text
        admin = next(s for s, m in roster.staff.items() if m.role == "admin")
        headers = {"authorization": f"Bearer {hub.token(admin)}"}
        grants = {}
        face = base64.b64encode(roster_files.png(200, 120, 80)).decode()
        for name, phone in (("邻居张阿姨", "13900002222"), ("表哥小李", "13900003333")):
            reply = httpx.post(f"{hub.url}/api/v1/delegates", headers=headers,
                               json={"student_id": sid, "name": name, "phone": phone,
                                     "photo": face})  # fmt: skip
            assert reply.status_code == 201, reply.text
            grants[name] = reply.json()["grant_id"]
        revoked = httpx.delete(f"{hub.url}/api/v1/delegates/{grants['表哥小李']}", headers=headers)
        assert revoked.status_code == 200

        def on_kiosk(q: str) -> list[str]:
            found = httpx.get(f"{kiosk.url}/api/v1/stations/P-EAST/adults", params={"q": q})
            return [a["name"] for a in found.json()["adults"]]

        # A pass for another child, and one revoked at once.
        other, second = next(
            (s, st) for s, st in roster.students.items()
            if st.card and s != sid and roster.enrollments[s][0][0] in rooms
        )  # fmt: skip
        other_room = rooms[roster.enrollments[other][0][0]]
        httpx.post(f"{kiosk.url}/api/v1/sim/taps", json={"station": other_room, "uid": second.card})
        passes = [httpx.post(f"{hub.url}/api/v1/passes", headers=headers,
                             json={"student_id": other, "name": name}).json()
                  for name in ("外婆", "陌生人")]  # fmt: skip
        assert httpx.delete(f"{hub.url}/api/v1/passes/{passes[1]['pass_id']}",
                            headers=headers).status_code == 200  # fmt: skip

        def revoked_on_kiosk() -> bool:
            with sqlite3.connect(kiosk.data_dir / "campus-edge.db") as db:
                return bool(db.execute("SELECT count(*) FROM events WHERE code = 'pass_revoked'")
                            .fetchone()[0])  # fmt: skip

        # Both grants and the revocations come down; a revocation wins over its grant.
        wait_for(lambda: on_kiosk("2222") == ["邻居张阿姨"] and on_kiosk("3333") == []
                 and revoked_on_kiosk(), timeout=20)  # fmt: skip
        photo = httpx.get(f"{kiosk.url}/api/v1/stations/P-EAST/adults",
                          params={"q": "2222"}).json()["adults"][0]["photo"]  # fmt: skip
        wait_for(lambda: httpx.get(f"{kiosk.url}{photo}").status_code == 200, timeout=20)
        hub.stop()  # the LAN is gone: the kiosk works on what it knows
        ask = {"student_id": sid, "adult_kind": "delegate", "adult_id": grants["邻居张阿姨"],
               "reason": "奶奶委托"}  # fmt: skip
        asked = httpx.post(f"{kiosk.url}/api/v1/stations/P-EAST/manual-release", json=ask)
        assert asked.status_code == 200, asked.text
        guard = next(m for m in roster.staff.values() if m.role == "guard")
        signed = httpx.post(f"{kiosk.url}/api/v1/sim/taps",
                            json={"station": "P-EAST", "uid": guard.card}).json()  # fmt: skip
        assert signed["code"] == "released_manually", signed
        assert "邻居张阿姨（临时委托）" in signed["message"]

        # The hub's pass, checked with the key the kiosk kept from the hub's hello.
        def scan(text: str) -> dict:
            reply = httpx.post(f"{kiosk.url}/api/v1/sim/taps",
                               json={"station": "P-EAST", "uid": text})  # fmt: skip
            return reply.json()

        refused = scan(passes[1]["text"])
        assert (refused["code"], refused["outcome"]) == ("invalid_pass", "denied")
        assert "(revoked)" in refused["message_en"]
        opened = scan(passes[0]["text"])
        assert (opened["code"], opened["subject"]["name"]) == ("pickup_opened", "外婆")
        out = httpx.post(f"{kiosk.url}/api/v1/sim/taps",
                         json={"station": "P-EAST", "uid": second.card}).json()  # fmt: skip
        assert (out["code"], out["message"]) == (
            "released",
            f"{second.name}，已由外婆（临时委托）接走",
        )
    finally:
        kiosk.stop()
        hub.stop()
