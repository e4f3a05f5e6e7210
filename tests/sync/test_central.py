"""The district central on the machine's real PostgreSQL (127.0.0.1:5432, database test).

Each test module works in a database of its own, created and dropped here. Without a
reachable server these tests fail, saying what to start; they are never skipped.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.errors import StorageError
from edge.http.central import create_central_app
from edge.school import proof
from edge.school.events import Event
from edge.settings import Settings
from edge.store.access import Device
from edge.sync.central import CentralStore
from edge.writer import ChainBroken
from tests import roster_files
from tests.chains import chain
from tests.roster_files import CARD
from tests.servers import ThreadedServer, free_port, local, wait_for
from tests.services import Service, cli

SERVER = os.environ.get("CAMPUS_EDGE_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """Create a fresh database on the real server; drop it afterwards."""
    name = f"campus_edge_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(SERVER, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as err:
        pytest.fail(
            f"PostgreSQL at {SERVER} is needed for the central's tests ({err}); start it, "
            "or point CAMPUS_EDGE_TEST_POSTGRES at a server where databases may be created"
        )
    admin.execute(f'CREATE DATABASE "{name}"')
    yield SERVER.rsplit("/", 1)[0] + "/" + name
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture
def store(database: str) -> Iterator[CentralStore]:
    central = CentralStore(database)
    yield central
    central.close()


def hub_device(store: CentralStore) -> Device:
    name = f"campus-{secrets.token_hex(3)}"
    store.add_device(name, "hub")
    return Device(name, "hub", "")


def test_a_hub_syncs_its_campus_into_postgres_and_takes_its_roster_from_there(
    database: str, tmp_path: Path
) -> None:
    bundle = roster_files.write(tmp_path / "roster")
    cli(tmp_path, "roster", "import", str(bundle), "--campus", "campus-1", "--database", database)
    token = cli(tmp_path, "device", "add", "campus-1", "--hub", "--database", database)
    central = Service(tmp_path / "central", "--role", "central", "--database", database,
                      node_id="central")  # fmt: skip
    central.start()
    hub = Service(tmp_path / "hub", "--role", "hub", "--upstream", central.url,
                  "--device-token", token.stdout.strip(), node_id="hub-1",
                  env={"CAMPUS_EDGE_SYNC_SECONDS": "0.2"})  # fmt: skip
    hub.start()
    try:
        wait_for(lambda: hub.health()["roster_version"] == 1)  # from the central
        for n, card in enumerate([CARD["S1"], CARD["S2"], CARD["P1"], CARD["S1"]]):
            at = local(f"16:{n:02d}")
            reply = httpx.post(f"{hub.url}/api/v1/sim/taps",
                               json={"station": "K1" if n < 2 else "P1", "uid": card,
                                     "at": at.isoformat()}, timeout=10)  # fmt: skip
            assert reply.status_code == 200, reply.text
        store = CentralStore(database)
        try:
            wait_for(lambda: store.count_events("campus-1") == 4)
            events, _ = store.pull(Device("campus-1", "hub", ""), "", 100)
            assert [e.seq for e in events] == [1, 2, 3, 4]
            # Through JSON, jsonb and timestamptz and back, every event hashes as written.
            assert all(e.content_hash() == e.stored_hash for e in events)
            assert events[-1].kind == "released"
            done = [(code, data.get("campus") or data.get("device")) for by, code, data
                    in store.actions() if by]  # fmt: skip
            assert ("roster_imported", "campus-1") in done  # who imported, who registered
            assert ("device_registered", "campus-1") in done
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                with psycopg.connect(database) as conn:
                    conn.execute("DELETE FROM actions")
        finally:
            store.close()
        assert central.health()["hubs"][0]["device"] == "campus-1"
        assert hub.health()["sync"]["waiting"] == 0
    finally:
        hub.stop()
        central.stop()


def test_fifty_hubs_pushing_at_once_store_each_event_once(store: CentralStore) -> None:
    devices = [hub_device(store) for _ in range(50)]
    failures: list[BaseException] = []

    def pusher(device: Device) -> None:
        events = list(chain(device.name + "-k", 60))
        try:
            for start in range(0, 60, 20):
                store.push(device, events[start : start + 20])
                store.push(device, events[max(0, start - 5) : start + 20])  # a retry overlaps
        except BaseException as err:
            failures.append(err)

    threads = [threading.Thread(target=pusher, args=(d,)) for d in devices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    for device in devices[:3]:
        assert store.count_events(device.name) == 60
    assert sum(store.count_events(d.name) for d in devices) == 3000


def test_a_late_commit_is_not_skipped_by_the_pull_cursor(
    store: CentralStore, database: str
) -> None:
    device = hub_device(store)
    early, late = list(chain("k-early", 1)), list(chain("k-late", 1))
    store.push(device, [])  # nothing: the cursor starts empty
    slow = psycopg.connect(database)
    with slow.cursor() as cur:  # takes its transaction id first, commits last
        cur.execute("INSERT INTO chains VALUES ('k-early', 'e1', %s, 1, %s)",
                    (device.name, early[0].stored_hash))  # fmt: skip
        e = early[0]
        cur.execute(
            "INSERT INTO events (campus, id, node_id, epoch, seq, hlc, at, day, station, kind, "
            "outcome, code, data, roster_version, clock_synced, prev_hash, hash) VALUES "
            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, '{}', 1, true, '', %s)",
            (device.name, e.event_id, e.node_id, e.epoch, e.seq, e.hlc, e.at, e.day, e.station,
             e.kind, e.outcome, e.code, e.stored_hash),
        )  # fmt: skip
    store.push(device, late)  # committed, but after the slow transaction began
    seen, cursor = store.pull(device, "", 10)
    assert seen == []  # held back while an older transaction may still commit
    slow.commit()
    slow.close()
    seen, cursor = store.pull(device, cursor, 10)
    assert [e.node_id for e in seen] == ["k-early", "k-late"]
    assert store.pull(device, cursor, 10)[0] == []


def test_a_fork_or_another_campus_node_is_refused_whole(store: CentralStore) -> None:
    one, two = hub_device(store), hub_device(store)
    events = list(chain("gate-x", 3))
    assert store.push(one, events[:2]).heads == {("gate-x", "e1"): 2}
    with pytest.raises(ChainBroken, match="belongs to campus"):
        store.push(two, events[2:])  # another campus cannot write gate-x's chain
    fork = dataclasses.replace(events[1], station="K-9Z")
    fork = dataclasses.replace(fork, stored_hash=fork.content_hash())
    with pytest.raises(ChainBroken, match="another event with this node"):
        store.push(one, [fork, events[2]])
    assert store.count_events(one.name) == 2  # nothing of either refused batch
    assert store.push(one, events).duplicates == 2  # the honest retry goes on
    assert store.count_events(one.name) == 3


def test_an_unreachable_database_is_a_sentence_without_its_password() -> None:
    with pytest.raises(StorageError, match="cannot be used") as refused:
        CentralStore("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(refused.value)


def test_the_central_purges_old_roster_versions_and_their_photos(
    store: CentralStore, database: str, tmp_path: Path
) -> None:
    from edge.school import roster as roster_mod

    campus = f"campus-{secrets.token_hex(3)}"
    first = roster_mod.load(roster_files.with_photos(tmp_path / "a"), version=0)
    store.save_roster(campus, first, "term 1")
    store.save_roster(
        campus, roster_mod.load(roster_files.write(tmp_path / "b"), version=0), "term 2"
    )
    with psycopg.connect(database) as conn:
        conn.execute("UPDATE rosters SET imported_at = now() - interval '400 days' "
                     "WHERE campus = %s", (campus,))  # fmt: skip
    assert store.purge_rosters(365, dry_run=True) == (1, 2)
    with psycopg.connect(database) as conn:
        held = conn.execute("SELECT count(*) FROM rosters WHERE campus = %s", (campus,)).fetchone()
        assert held is not None
        assert held[0] == 2  # a dry run changes nothing
    assert store.purge_rosters(365) == (1, 2)
    device = Device(campus, "hub", "")
    newest = store.roster(device, 0)
    assert newest is not None
    assert newest.source == "term 2"  # the newest stays whatever its age
    assert store.photo(device, sorted(first.photos)[0]) is None


def test_reports_on_the_central_equal_the_campus_own(store: CentralStore, tmp_path: Path) -> None:
    from edge import reports
    from tests import term as t

    plan, node = t.played_node(tmp_path / "kiosk")
    try:
        ledger = node.ledger  # type: ignore[attr-defined]
        events = ledger.events_after(0, 100_000)
        roster = ledger.load_roster()
    finally:
        node.stop()  # type: ignore[attr-defined]
    campus = hub_device(store)
    store.save_roster(campus.name, roster, "term")
    for start in range(0, len(events), 2000):
        store.push(campus, events[start : start + 2000])
    assert store.count_events(campus.name) == len(events)
    own = reports.LedgerSource(ledger)
    central = reports.CentralSource(store, campus.name)
    asked = [
        ("attendance", {"term": t.TERM_NAME}),
        ("workload", {"term": t.TERM_NAME}),
        ("parents", {"month": "2026-09"}),
        ("supervision", {"date": t.REENTRY, "group": "G1"}),
        ("timeline", {"date": t.REENTRY, "student": "S02"}),
    ]
    now = dt.datetime(2026, 12, 1, tzinfo=t.TZ)
    for name, params in asked:
        mine = reports.make(name, own, now=now, **params).to_json()  # type: ignore[arg-type]
        theirs = reports.make(name, central, now=now, **params).to_json()  # type: ignore[arg-type]
        assert theirs == mine, name
    # The district's view: every campus in one file, each row led by its campus.
    other = hub_device(store)
    store.save_roster(other.name, roster, "term")
    url = store.url
    done = cli(tmp_path, "report", "attendance", "--term", t.TERM_NAME, "--database", url)
    lines = done.stdout.splitlines()
    assert lines[0].startswith("校区,学号,姓名")
    campuses = {line.split(",")[0] for line in lines[1:]}
    assert {campus.name, other.name} <= campuses
    quiet = [line for line in lines[1:] if line.startswith(other.name + ",")]
    assert len(quiet) == len(t.STUDENTS)
    assert all(line.split(",")[6] == "0" for line in quiet)  # no one attended there
    refused = cli(tmp_path, "report", "timeline", "--student", "S02", "--database", url,
                  check=False)  # fmt: skip
    assert refused.returncode == 1
    assert "add --campus NAME" in refused.stderr


class CentralServer(ThreadedServer):
    """The central's app over a store, on a loopback port, in a thread."""

    def __init__(self, store: CentralStore) -> None:
        self.url = f"http://127.0.0.1:{(port := free_port())}"
        app = create_central_app(store, Settings(role="central"))
        self._serve(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                   lifespan="off", timeout_graceful_shutdown=1))  # fmt: skip


def nul_event(after: Event, where: str) -> Event:
    """Return the event after ``after`` with a NUL in its station or in its data."""
    event = dataclasses.replace(
        after, seq=after.seq + 1, hlc=after.hlc + 1, prev_hash=after.stored_hash or "",
        station="K\x001A" if where == "station" else after.station,
        data={"group_id": "B-1A", "reason": "忘带卡\x00"} if where == "data" else after.data,
    )  # fmt: skip
    return dataclasses.replace(event, stored_hash=event.content_hash())


@pytest.mark.parametrize("where", ["station", "data"])
def test_a_batch_postgres_refuses_is_refused_whole_not_a_server_error(
    store: CentralStore, where: str
) -> None:
    device = hub_device(store)
    events = list(chain(f"k-{secrets.token_hex(3)}", 2))
    with pytest.raises(ChainBroken, match="the database refused the batch"):
        store.push(device, [*events, nul_event(events[-1], where)])
    assert store.push(device, events).stored == events  # nothing of it was stored


def test_a_nul_pushed_at_the_central_is_kept_aside_and_the_hub_goes_on(
    store: CentralStore,
) -> None:
    name = f"campus-{secrets.token_hex(3)}"
    token = store.add_device(name, "hub")
    events = list(chain(f"k-{secrets.token_hex(3)}", 3))
    bad = nul_event(events[1], "data")
    headers = {"authorization": f"Bearer {token}"}
    key = Ed25519PrivateKey.generate()  # the hub's node key, bound at its hello below
    with CentralServer(store) as server, httpx.Client(base_url=server.url) as central:
        greet = {"node_key": proof.public_text(key), "node": "hub-n"}
        hello = central.get("/api/v1/sync/hello", headers=headers, params=greet)
        assert hello.status_code == 200, hello.text
        for _ in range(2):  # sent again, refused again: a 422 each time, never a 500
            batch = [*events[:2], bad]
            body = {"events": [e.to_wire() for e in batch],
                    "signature": proof.sign_push(key, batch)}  # fmt: skip
            reply = central.post("/api/v1/sync/events", headers=headers, json=body)
            assert reply.status_code == 422, reply.text
            assert "kept aside" in reply.json()["detail"]
        clean = central.post("/api/v1/sync/events", headers=headers,
                             json={"events": [e.to_wire() for e in events],
                                   "signature": proof.sign_push(key, events)})  # fmt: skip
        assert clean.status_code == 200, clean.text
        assert clean.json()["stored"] == 3
        hub = next(h for h in central.get("/healthz").json()["hubs"] if h["device"] == name)
        assert hub["quarantined"] == 2
        assert "control character" in hub["quarantine_reasons"][0]
