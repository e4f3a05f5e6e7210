"""A full or read-only card: taps are refused out loud, never acknowledged and lost.

The faults are SQLite's own: ``PRAGMA max_page_count`` on the writer's connection makes
the next growing write fail with SQLITE_FULL ("database or disk is full"), exactly
as a full SD card does; ``PRAGMA query_only`` makes it fail as a card the kernel
remounted read-only does. A deferred foreign key (armed by a test) makes COMMIT itself
fail after every INSERT has succeeded, as a full card does in WAL mode, where the log
is written at COMMIT.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import httpx
import pytest

from edge.errors import StorageError
from edge.school.pickup import PLAN_SET
from tests.chains import staff_proof
from tests.roster_files import CARD, TODAY
from tests.servers import LiveServer, local

STUDENTS = ["S1", "S2", "S3", "S5"]


def pragma(server: LiveServer, statement: str) -> None:
    run = server.node.writer.call(lambda conn: conn.execute(statement), in_transaction=False)
    run.result(timeout=10)


def fill_the_disk(server: LiveServer) -> None:
    pages = server.node.ledger.reader().execute("PRAGMA page_count").fetchone()[0]
    pragma(server, f"PRAGMA max_page_count = {pages}")


def tap(client: httpx.Client, n: int) -> httpx.Response:
    station = "K1" if n % 2 else "K2"
    at = local("15:30") + dt.timedelta(seconds=11 * n)
    body = {"station": station, "uid": CARD[STUDENTS[n % 4]], "at": at.isoformat()}
    return client.post("/api/v1/sim/taps", json=body)


def test_a_full_disk_refuses_taps_and_nothing_acknowledged_is_lost(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        acked = [tap(client, n).json()["event_id"] for n in range(3)]
        fill_the_disk(server)
        refused = None
        for n in range(3, 400):  # the free room left in the last pages fills up
            reply = tap(client, n)
            if reply.status_code == 200:
                acked.append(reply.json()["event_id"])
                continue
            refused = reply
            break
        assert refused is not None, "the full database never refused a tap"
        assert refused.status_code == 503
        assert "could not be saved" in refused.json()["detail"]
        assert "full" in refused.json()["detail"]
        ledger = server.node.ledger
        stored = [e.event_id for e in ledger.events_after(0, 10_000)]
        assert stored == acked  # every acknowledged tap, nothing else
        assert ledger.integrity_ok()
        pragma(server, "PRAGMA max_page_count = 1073741823")  # space is freed
        again = tap(client, 500)
        assert again.status_code == 200
        assert ledger.verify() == (len(acked) + 1, [])  # the chain goes on unbroken


def test_a_read_only_card_refuses_taps_until_it_is_writable(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert tap(client, 0).status_code == 200
        pragma(server, "PRAGMA query_only = ON")
        refused = tap(client, 1)
        assert refused.status_code == 503
        assert "readonly" in refused.json()["detail"].replace("-", "").replace(" ", "")
        assert server.node.ledger.count_events() == 1
        pragma(server, "PRAGMA query_only = OFF")
        assert tap(client, 2).status_code == 200
        assert server.node.ledger.verify() == (2, [])


def fail_at_commit(server: LiveServer) -> None:
    # A deferred foreign key is checked at COMMIT, after every INSERT has succeeded:
    # the same moment a full SD card shows in WAL mode (the log is written at COMMIT).
    pragma(server, "PRAGMA foreign_keys = ON")
    with sqlite3.connect(server.node.settings.database) as conn:
        conn.execute("CREATE TABLE commit_guard (id TEXT PRIMARY KEY)")
        conn.execute(
            "CREATE TABLE commit_check (id TEXT REFERENCES commit_guard (id) "
            "DEFERRABLE INITIALLY DEFERRED)"
        )
        conn.execute(
            "CREATE TRIGGER fail_at_commit AFTER INSERT ON events "
            "BEGIN INSERT INTO commit_check VALUES ('none'); END"
        )


def commit_again(server: LiveServer) -> None:
    with sqlite3.connect(server.node.settings.database) as conn:
        conn.execute("DROP TRIGGER fail_at_commit")


def test_a_failed_commit_of_any_event_leaves_no_gap_in_the_chain(server: LiveServer) -> None:
    writer = server.node.writer
    plan = {"student_id": "S1", "date": TODAY.isoformat(), "batch": "17:00", "mode": "guardian"}
    with httpx.Client(base_url=server.url, timeout=10) as client:
        first = tap(client, 0)
        assert first.status_code == 200
        writer.record_action(PLAN_SET, plan, "A1", proof=staff_proof(server.node)).result(
            timeout=10
        )
        fail_at_commit(server)
        lost = {**plan, "batch": "17:30"}  # a change whose COMMIT fails: it must leave no trace
        for attempt in (
            lambda: writer.record_action(
                PLAN_SET, lost, "A1", proof=staff_proof(server.node)
            ).result(timeout=10),
            lambda: writer.correct(
                first.json()["event_id"], "T1", "wrong child", proof=staff_proof(server.node, "T1")
            ).result(10),
        ):
            with pytest.raises(StorageError, match="FOREIGN KEY"):
                attempt()
        assert server.node.projection.book.plans[("S1", TODAY)].batch == "17:00"
        refused = tap(client, 1)
        assert refused.status_code == 503
        assert "FOREIGN KEY" in refused.json()["detail"]
        commit_again(server)
        again = tap(client, 2)
        assert again.status_code == 200, again.text
        made = writer.record_action(PLAN_SET, plan, "A1", proof=staff_proof(server.node)).result(
            timeout=10
        )
    ledger = server.node.ledger
    seqs = [e.seq for e in ledger.events_after(0, 100)]
    assert seqs == [1, 2, 3, 4]  # the tap, the plan, the tap again, the plan again
    assert made.seq == 4
    assert ledger.verify() == (4, [])
    assert server.node.projection.book.plans[("S1", TODAY)].batch == "17:00"


def test_a_full_disk_refuses_a_visitor_and_a_duty_note_whole(server: LiveServer) -> None:
    # The gate register and the duty log write through the same writer: a full card
    # answers 503 with a sentence, writes nothing, and the afternoon goes on once freed.
    guard = {"authorization": f"Bearer {server.token('GU')}"}
    leader = {"authorization": f"Bearer {server.token('L1')}"}
    visitor = {"name": "王建国", "visiting": "陈老师", "purpose": "家长会",
               "document_no": "11010519491231002X"}  # fmt: skip
    with httpx.Client(base_url=server.url, timeout=10) as client:
        before = server.node.ledger.count_events()
        fill_the_disk(server)
        for n in range(400):  # the free room left in the last pages fills up first
            if tap(client, n).status_code != 200:
                break
        filled = server.node.ledger.count_events()
        came = client.post("/api/v1/visitors", json=visitor, headers=guard)
        noted = client.post("/api/v1/duty/notes", json={"text": "门卫室漏雨"}, headers=leader)
        assert (came.status_code, noted.status_code) == (503, 503), (came.text, noted.text)
        assert "could not be saved" in came.json()["detail"]
        assert server.node.ledger.count_events() == filled >= before
        assert client.get("/api/v1/gate/inside", headers=guard).json()["visitors_inside"] == 0
        pragma(server, "PRAGMA max_page_count = 1073741823")
        assert client.post("/api/v1/visitors", json=visitor, headers=guard).status_code == 201
        assert server.node.ledger.integrity_ok()
