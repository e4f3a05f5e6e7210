"""A patrol round walked across two kiosks that cannot see each other merges on the hub.

Real processes: a hub with the patrol roster, two kiosks syncing to it. The duty
leader visits K1 at kiosk A and K2 at kiosk B; the guard's phone sends the checkpoint's
visit to kiosk B, made earlier offline. The hub's round holds all three.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.http.test_patrol import TAG, patrol_bundle
from tests.roster_files import CARD
from tests.servers import local, wait_for
from tests.services import Service, cli, replay_clock

FAST = {"CAMPUS_EDGE_SYNC_SECONDS": "0.2"}


def test_visits_made_on_two_kiosks_make_one_round_on_the_hub(tmp_path: Path) -> None:
    clock = replay_clock("16:25")
    bundle = patrol_bundle(tmp_path / "roster")
    cli(tmp_path / "hub", "roster", "import", str(bundle), env=clock)
    hub = Service(tmp_path / "hub", "--role", "hub", node_id=None, env=clock)
    hub.start()
    kiosks: list[Service] = []
    try:
        for name in ("kiosk-a", "kiosk-b"):
            token = cli(hub.data_dir, "device", "add", name, env=clock).stdout.strip()
            kiosk = Service(tmp_path / name, "--upstream", hub.url, "--device-token", token,
                            node_id=None, env={**FAST, **clock})  # fmt: skip
            kiosk.start()
            kiosks.append(kiosk)
        wait_for(lambda: all(k.health()["roster_version"] == 1 for k in kiosks), 20)
        a, b = kiosks
        for kiosk, station, moment in ((a, "K1", "16:05"), (b, "K2", "16:10")):
            body = {"station": station, "uid": CARD["L1"], "at": local(moment).isoformat()}
            answer = httpx.post(f"{kiosk.url}/api/v1/sim/taps", json=body, timeout=10).json()
            assert answer["kind"] == "patrol_visit"
        phone = httpx.post(
            f"{b.url}/api/v1/patrol/visits",
            headers={"authorization": f"Bearer {b.token('GU')}"},
            json={"tag": TAG, "at": local("16:15").isoformat(), "visit_id": "gu-phone-0001"},
            timeout=10,
        )
        assert phone.status_code == 201, phone.text
        leader = {"authorization": f"Bearer {hub.token('L1')}"}

        def first_round() -> dict:
            got = httpx.get(f"{hub.url}/api/v1/patrol", headers=leader, timeout=10).json()
            return dict(got["rounds"][0])

        wait_for(lambda: first_round()["state"] == "done", 20)
        found = first_round()
        assert {
            (v.get("station") or v["checkpoint_id"], v["node_id"]) for v in found["visits"]
        } == {
            ("K1", "kiosk-a"),
            ("K2", "kiosk-b"),
            ("CP1", "kiosk-b"),
        }
        assert {v["staff_id"] for v in found["visits"]} == {"L1", "GU"}
    finally:
        for node in [*kiosks, hub]:
            node.stop()
