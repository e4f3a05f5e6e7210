"""The gate register across real processes: a kiosk at the gate and its campus hub.

A visitor registered at the gate's kiosk reaches the hub, where a search by the full
document number finds them (the roster carries the campus's document key) and the duty
leader checks them out; the kiosk learns it. The banned list works on the kiosk from
the roster it pulled, though it holds only the numbers' hashes.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests import roster_files
from tests.http.test_gate import BANNED, BANNED_ID, STAFF, VISITOR_ID
from tests.servers import wait_for
from tests.services import Service, cli, replay_clock

FAST = {"CAMPUS_EDGE_SYNC_SECONDS": "0.2"}
SCHOOL = roster_files.FILES["school.toml"] + '[gate]\ndocument_key = "campus-7f3a9c0d1e2b44"\n'


def test_a_visitor_registered_at_the_gate_is_found_and_checked_out_at_the_hub(
    tmp_path: Path,
) -> None:
    clock = replay_clock("15:00")
    bundle = roster_files.write(tmp_path / "roster", **{
        "staff.csv": STAFF, "visitors_banned.csv": BANNED, "school.toml": SCHOOL})  # fmt: skip
    hub = Service(tmp_path / "hub", "--role", "hub", node_id="hub", env=clock)
    cli(hub.data_dir, "roster", "import", str(bundle), env=clock)
    hub.start()
    token = cli(hub.data_dir, "device", "add", "gate-kiosk", env=clock).stdout.strip()
    kiosk = Service(tmp_path / "kiosk", "--upstream", hub.url, "--device-token", token,
                    node_id="gate-kiosk", env={**FAST, **clock})  # fmt: skip
    kiosk.start()
    try:
        wait_for(lambda: kiosk.health()["roster_version"] == 1, timeout=20)
        at_gate = {"authorization": f"Bearer {kiosk.token('GU')}"}
        body = {
            "name": "王建国",
            "document_no": VISITOR_ID,
            "visiting": "陈老师",
            "purpose": "家长会",
        }
        reply = httpx.post(f"{kiosk.url}/api/v1/visitors", json=body, headers=at_gate)
        assert reply.status_code == 201, reply.text
        vid = reply.json()["visitor_id"]
        banned = {**body, "name": "孙某", "document_no": BANNED_ID}
        alert = httpx.post(f"{kiosk.url}/api/v1/visitors", json=banned, headers=at_gate).json()
        assert alert["alert"]["reason"] == "banned"
        assert alert["alert"]["match"] == "document"

        leader = {"authorization": f"Bearer {hub.token('L1')}"}

        def on_hub() -> list[dict]:
            found = httpx.get(f"{hub.url}/api/v1/visitors", params={"document": VISITOR_ID},
                              headers=leader)  # fmt: skip
            return found.json()["visitors"] if found.status_code == 200 else []

        wait_for(lambda: [v["visitor_id"] for v in on_hub()] == [vid], timeout=20)
        out = httpx.post(f"{hub.url}/api/v1/visitors/{vid}/leave", headers=leader)
        assert out.status_code == 200, out.text

        def inside_on_kiosk() -> list[str]:
            seen = httpx.get(f"{kiosk.url}/api/v1/gate/inside", headers=at_gate).json()
            return [v["name"] for v in seen["inside"]]

        wait_for(lambda: inside_on_kiosk() == ["孙某"], timeout=20)
        for service in (hub, kiosk):
            for path in service.data_dir.glob("campus-edge.db*"):
                text = path.read_bytes().decode("latin-1")
                assert VISITOR_ID not in text
                assert BANNED_ID not in text
    finally:
        kiosk.stop()
        hub.stop()
