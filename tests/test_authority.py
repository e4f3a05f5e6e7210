"""A child leaves only with authority that holds at the moment of their tap (issue 14).

Through a live node: a one-time code, a delegate or a pass opens a pickup context for
one child; between that and the child's tap the adult's authority may end (the roster
bars or removes them, the grant or pass is revoked). The release is then refused, with
an alert the guard cannot miss (tests/roster_files.py: P1 is S1's mother, P3 S1's
barred father, P2 S2's father).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edge import roster as roster_mod
from tests import roster_files
from tests.conftest import LiveServer
from tests.test_pickup import staff, state_of, tap

BARRED_P1 = roster_files.FILES["pickup.csv"].replace("S1,P1,母亲,1", "S1,P1,母亲,0")
WITHOUT_P1 = {
    "guardians.csv": roster_files.FILES["guardians.csv"].replace(
        "P1,王妈妈,13800000001,0723140494\n", ""
    ),
    "pickup.csv": roster_files.FILES["pickup.csv"]
    .replace("S1,P1,母亲,1\n", "")
    .replace("S4,P1,姨妈,1\n", ""),
}


@pytest.fixture
def live(server: LiveServer) -> Iterator[tuple[LiveServer, httpx.Client]]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield server, client


def reimport(server: LiveServer, folder: Path, **files: str) -> None:
    """Swap the roster in, as `campus-edge roster import` does from another process."""
    version = server.node.ledger.roster_version() + 1
    bundle = roster_files.write(folder, **files)
    server.node.ledger.save_roster(roster_mod.load(bundle, version=version), "test")


def issue_code(server: LiveServer, client: httpx.Client, sid: str, kind: str, adult: str) -> str:
    body = {"student_id": sid, "adult_kind": kind, "adult_id": adult}
    issued = client.post("/api/v1/pickup-codes", headers=staff(server, "A1"), json=body)
    assert issued.status_code == 201, issued.text
    return str(issued.json()["code"])


def enter(client: httpx.Client, code: str) -> dict:
    reply = client.post("/api/v1/stations/P1/code", json={"code": code})
    assert reply.status_code == 200, reply.text
    return reply.json()


@pytest.mark.parametrize(
    ("files", "refusal", "alert"),
    [
        ({"pickup.csv": BARRED_P1}, "barred_guardian", "loud"),
        (WITHOUT_P1, "unauthorized_pickup", "alert"),
    ],
    ids=["barred", "removed"],
)
def test_a_code_opened_before_the_roster_barred_its_adult_releases_no_one(
    live: tuple[LiveServer, httpx.Client], tmp_path: Path, files: dict, refusal: str, alert: str
) -> None:
    server, client = live
    tap(client, "K1", "S1")
    code = issue_code(server, client, "S1", "guardian", "P1")
    assert enter(client, code)["code"] == "pickup_opened"
    reimport(server, tmp_path / "v2", **files)  # the court order arrives meanwhile
    refused = tap(client, "P1", "S1")
    assert (refused["outcome"], refused["code"], refused.get("alert")) == ("denied", refusal, alert)
    assert state_of(client, server, "S1")["state"] == "present"


@pytest.mark.parametrize(
    ("files", "refusal", "alert"),
    [
        ({"pickup.csv": BARRED_P1}, "barred_guardian", "loud"),
        (WITHOUT_P1, "unauthorized_pickup", "alert"),
    ],
    ids=["barred", "removed"],
)
def test_a_code_whose_adult_lost_authority_is_refused_when_entered(
    live: tuple[LiveServer, httpx.Client], tmp_path: Path, files: dict, refusal: str, alert: str
) -> None:
    server, client = live
    tap(client, "K1", "S1")
    code = issue_code(server, client, "S1", "guardian", "P1")
    reimport(server, tmp_path / "v2", **files)
    entered = enter(client, code)
    assert (entered["outcome"], entered["code"], entered.get("alert")) == ("denied", refusal, alert)
    assert "S1" in str(entered["subject"])  # the guard is told which child
    assert tap(client, "P1", "S1")["code"] == "needs_guardian"  # no context was opened


def test_a_delegate_revoked_after_their_code_was_entered_releases_no_one(
    live: tuple[LiveServer, httpx.Client],
) -> None:
    server, client = live
    tap(client, "K1", "S2")
    grant = client.post("/api/v1/delegates", headers=staff(server, "T1"), json={
        "student_id": "S2", "name": "张阿姨", "phone": "139 0000 1111"})  # fmt: skip
    grant_id = grant.json()["grant_id"]
    code = issue_code(server, client, "S2", "delegate", grant_id)
    assert enter(client, code)["code"] == "pickup_opened"
    revoked = client.delete(f"/api/v1/delegates/{grant_id}", headers=staff(server, "A1"))
    assert revoked.status_code == 200
    refused = tap(client, "P1", "S2")
    assert (refused["outcome"], refused["code"], refused.get("alert")) == (
        "denied", "delegate_expired", "alert")  # fmt: skip
    assert state_of(client, server, "S2")["state"] == "present"


def test_a_pass_revoked_after_it_was_scanned_releases_no_one(
    live: tuple[LiveServer, httpx.Client],
) -> None:
    server, client = live
    tap(client, "K1", "S1")
    issued = client.post("/api/v1/passes", headers=staff(server, "A1"), json={
        "student_id": "S1", "name": "外婆", "to": "2026-11-30"}).json()  # fmt: skip
    writer = server.node.writer
    opened = writer.submit_nowait(writer.make_tap("P1", issued["text"])).result(timeout=10)
    assert opened.event.code == "pickup_opened"
    gone = client.delete(f"/api/v1/passes/{issued['pass_id']}", headers=staff(server, "T1"))
    assert gone.status_code == 200
    refused = tap(client, "P1", "S1")
    assert (refused["outcome"], refused["code"], refused.get("alert")) == (
        "denied", "invalid_pass", "alert")  # fmt: skip
    assert "已撤销" in refused["message"]
    assert state_of(client, server, "S1")["state"] == "present"
