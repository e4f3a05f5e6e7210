"""The ledger proves itself: hash chains that show tampering, and a usable backup."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from edge.errors import StorageError
from edge.node import Node
from edge.store.ledger import Ledger
from tests import roster_files
from tests.roster_files import CARD, UNKNOWN
from tests.servers import local
from tests.services import Service
from tests.services import cli as run_cli


def afternoon(node: Node) -> None:
    clock = node.clock
    for station, who in [("K1", "S1"), ("K1", "S2"), ("K1", "T1"), ("P1", "P1"), ("P1", "S1"),
                         ("P1", "S3"), ("K2", UNKNOWN), ("P1", "S2")]:  # fmt: skip
        clock.advance(seconds=30)  # type: ignore[attr-defined]
        node.simulated(station).present(CARD.get(who, who)).result(timeout=5)  # type: ignore[union-attr]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "edge", *args], capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip


def tamper(db: Path, *statements: str) -> None:
    # What someone with the SD card and sqlite3 could do: drop the guards, edit rows.
    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER events_append_only_update")
        conn.execute("DROP TRIGGER events_append_only_delete")
        for statement in statements:
            conn.execute(statement)


def test_every_event_names_its_predecessor_and_the_chain_verifies(
    make_node: Callable[..., Node],
) -> None:
    node = make_node()
    afternoon(node)
    events = node.ledger.events_after(0, 100)
    assert events[0].prev_hash == ""
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_hash == before.stored_hash
    assert node.ledger.verify() == (8, [])
    result = cli("verify", "--data-dir", str(node.settings.data_dir))
    assert result.returncode == 0
    assert "intact: 8 events" in result.stdout


def test_the_chain_goes_on_across_a_restart(make_node: Callable[..., Node], tmp_path: Path) -> None:
    node = make_node(data_dir=tmp_path / "k")
    afternoon(node)
    node.stop()
    again = make_node(data_dir=tmp_path / "k", node_id=node.ledger.node_id)
    again.clock.set(node.clock.now())  # type: ignore[attr-defined]
    afternoon(again)
    assert again.ledger.verify() == (16, [])


def test_a_changed_a_removed_and_an_inserted_event_are_each_found(
    make_node: Callable[..., Node], tmp_path: Path
) -> None:
    node = make_node(data_dir=tmp_path / "k")
    afternoon(node)
    node.stop()
    db = node.settings.database
    data_dir = str(node.settings.data_dir)

    # Someone changes who collected the child.
    tamper(db, "UPDATE events SET data = replace(data, 'P1', 'P2') WHERE kind = 'released'")
    result = cli("verify", "--data-dir", data_dir)
    assert result.returncode == 1
    assert "seq 5" not in result.stderr
    assert ":5 (released" in result.stderr
    assert "content was changed after it was written" in result.stderr

    ledger = Ledger(db, "x")
    with sqlite3.connect(db) as conn:  # put it back, then remove a refusal instead
        conn.execute("UPDATE events SET data = replace(data, 'P2', 'P1') WHERE kind = 'released'")
        conn.execute("DELETE FROM events WHERE seq = 8")
        conn.execute("DELETE FROM events WHERE seq = 7")
    assert ledger.verify() == (6, [])  # the tail cut off is invisible to the chain alone...
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM events WHERE seq = 3")
    checked, problems = ledger.verify()
    assert len(problems) == 1
    assert "seq 4 follows 2; events 3..3 are missing" in problems[0]


def test_backup_is_a_complete_checked_copy(make_node: Callable[..., Node], tmp_path: Path) -> None:
    node = make_node()
    afternoon(node)
    target = tmp_path / "usb" / "campus-edge-2026-11-23.db"
    result = cli("backup", str(target), "--data-dir", str(node.settings.data_dir))
    assert result.returncode == 0, result.stderr
    copy = Ledger(target, "restored")
    assert copy.count_events() == 8
    assert copy.verify() == (8, [])
    assert copy.load_roster().students.keys() == node.roster.students.keys()
    again = cli("backup", str(target), "--data-dir", str(node.settings.data_dir))
    assert again.returncode == 1
    assert "exists already" in again.stderr


def test_a_database_keeps_the_node_id_its_events_carry(
    make_node: Callable[..., Node], tmp_path: Path
) -> None:
    fresh = make_node(data_dir=tmp_path / "k", node_id="gate-east")
    assert fresh.ledger.node_id == "gate-east"
    afternoon(fresh)
    fresh.stop()
    with pytest.raises(StorageError, match="already holds events of node 'gate-east'"):
        make_node(data_dir=tmp_path / "k", node_id="gate-west")


def test_operator_actions_are_events_in_the_chain_beside_a_running_service(
    tmp_path: Path,
) -> None:
    data = tmp_path / "kiosk"
    bundle = roster_files.write(tmp_path / "roster")
    run_cli(data, "roster", "import", str(bundle))
    service = Service(data)
    service.start()
    try:
        for n, who in enumerate(("S1", "S2")):
            body = {"station": "K1", "uid": CARD[who], "at": local(f"15:3{n}").isoformat()}
            assert httpx.post(f"{service.url}/api/v1/sim/taps", json=body).status_code == 200
        run_cli(data, "device", "add", "kiosk-7")  # while the service writes the same chain
        run_cli(data, "token", "--staff", "A1")
        body = {"station": "K1", "uid": CARD["S3"], "at": local("15:40").isoformat()}
        assert httpx.post(f"{service.url}/api/v1/sim/taps", json=body).status_code == 200
    finally:
        service.stop()
    ledger = Ledger(data / "campus-edge.db", "gate-1")
    events = ledger.events_after(0, 100)
    actions = [(e.code, e.data.get("via"), e.subject_id) for e in events if e.kind == "action"]
    assert actions == [
        ("roster_imported", "cli", None),
        ("device_registered", "cli", None),
        ("staff_token_issued", "cli", "A1"),
    ]
    assert all(e.data.get("by") for e in events if e.kind == "action")  # who ran it
    # The import ran before the node was named gate-1: it stays that name's own chain.
    assert events[0].node_id != "gate-1"
    gate = [e.seq for e in events if e.node_id == "gate-1"]
    assert gate == list(range(1, len(gate) + 1))  # taps and actions, one chain, no gap
    assert ledger.verify() == (len(events), [])


def test_a_dashboard_sign_in_is_recorded(server) -> None:
    code = server.node.signin_codes.issue("L1")
    reply = httpx.post(f"{server.url}/api/v1/signin", json={"code": code})
    assert reply.status_code == 200
    recorded = [e for e in server.node.ledger.events_after(0, 10) if e.kind == "action"]
    assert [(e.code, e.subject_id) for e in recorded] == [("staff_signed_in", "L1")]


def test_everything_held_about_one_child_for_a_parent(
    make_node: Callable[..., Node], tmp_path: Path
) -> None:
    bundle = roster_files.with_photos(tmp_path / "photo-roster")
    node = make_node(roster_dir=bundle)
    for at, station, who in (("15:31", "K1", "S1"), ("15:32", "K1", "S2"), ("15:40", "K1", "T1"),
                             ("16:30", "P1", "P1"), ("16:31", "P1", "S1")):  # fmt: skip
        node.writer.submit_nowait(node.writer.make_tap(station, CARD[who], local(at))).result()
    node.stop()
    out = tmp_path / "for-parent"
    done = run_cli(node.settings.data_dir, "export-child", "S1", "--output", str(out))
    assert "events" in done.stdout
    record = json.loads((out / "record.json").read_text(encoding="utf-8"))
    assert record["student"][0]["name"] == "小明"
    adults = {g["guardian_id"]: g for g in record["guardians"]}
    assert set(adults) == {"P1", "P3"}  # the mother, and the father the parents barred
    assert {(p["guardian_id"], p["allowed"]) for p in record["pickup"]} == {
        ("P1", "1"),
        ("P3", "0"),
    }
    kinds = [e["kind"] for e in record["events"]]
    assert kinds == ["signed_in", "custody_taken", "pickup_opened", "released"]
    assert all("S2" != e["subject_id"] for e in record["events"])  # no other child's taps
    assert len(list((out / "photos").iterdir())) == 2  # S1's photo and P1's
    assert run_cli(node.settings.data_dir, "export-child", "S9", "--output",
                   str(tmp_path / "x"), check=False).returncode == 1  # fmt: skip
    odd = tmp_path / "for\x1bparent"  # a folder name the ledger could not record
    refused = run_cli(node.settings.data_dir, "export-child", "S1", "--output", str(odd),
                      check=False)  # fmt: skip
    assert refused.returncode == 1
    assert "holds a control character (U+001B)" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not odd.exists()  # nothing written without its record


def test_purge_removes_a_departed_childs_photo_after_the_retention_period(
    make_node: Callable[..., Node], tmp_path: Path
) -> None:
    data = tmp_path / "kiosk"
    run_cli(data, "roster", "import", str(roster_files.with_photos(tmp_path / "with-photos")))
    photos = sorted((data / "photos").iterdir())
    assert len(photos) == 2
    node = make_node(data_dir=data, node_id="gate-1")
    for who in ("S1", "S5"):
        node.writer.submit_nowait(node.writer.make_tap("K1", CARD[who], local("15:31"))).result()
    node.stop()
    # The next term's roster: no photos any more, and S5 has left the school.
    students = roster_files.FILES["students.csv"].replace("S5,小强,2,二年级1班,04E5E5E5,0\n", "")
    enrolled = roster_files.FILES["enrollments.csv"].replace("S5,G2,1\n", "")
    later = roster_files.write(tmp_path / "next", **{"students.csv": students,
                                                     "enrollments.csv": enrolled})  # fmt: skip
    run_cli(data, "roster", "import", str(later))
    dry = run_cli(data, "purge", "--days", "0", "--dry-run")
    assert "would remove 2 photos" in dry.stdout
    assert "1 children who have left appear in the ledger by id only" in dry.stdout
    assert all(p.exists() for p in photos)
    kept = run_cli(data, "purge", "--days", "30")  # they stopped being used today
    assert "removed 0 photos" in kept.stdout
    gone = run_cli(data, "purge", "--days", "0")
    assert "removed 2 photos" in gone.stdout
    assert not any(p.exists() for p in photos)
    ledger = Ledger(data / "campus-edge.db", "gate-1")
    assert ledger.verify()[1] == []  # the events stay, and their chain with them
    assert any(e.subject_id == "S5" for e in ledger.events_after(0, 100))
