"""Benchmarks of issue 5 (sync), each beside a baseline measured in the same run.

- backlog: a kiosk's 100,000-event backlog pushed to a hub (a real `serve --role hub`
  process) by the real sync client, until acknowledged (target: under 10 s); beside
  a bare bulk insert of the same rows into a SQLite database like the hub's;
- central: 50 concurrent pushers (threads, each a campus hub with its own chain)
  over HTTP into a real `serve --role central` on PostgreSQL, in events per second;
  beside a bare COPY of the same rows into a plain table of the same database.

Run with `make bench` or `python bench/sync.py [--backlog 100000] [--pushers 50]`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import orjson
import psycopg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.cli import demo  # noqa: E402
from edge.node import Node  # noqa: E402
from edge.school import proof  # noqa: E402
from edge.school import roster as roster_mod  # noqa: E402
from edge.settings import Settings  # noqa: E402
from edge.store.db import transaction  # noqa: E402
from edge.store.events import ROW_COLUMNS  # noqa: E402
from edge.store.ledger import Ledger  # noqa: E402
from edge.sync.central import CentralStore  # noqa: E402
from edge.sync.central.rows import COPY_COLUMNS, copy_row  # noqa: E402
from edge.sync.client import SyncClient  # noqa: E402
from tests.chains import chain  # noqa: E402
from tests.roster_files import TODAY  # noqa: E402

PG = os.environ.get("CAMPUS_EDGE_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")


def cli(data_dir: Path, *args: str) -> str:
    env = {**os.environ, "CAMPUS_EDGE_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "edge", *args], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip


def serve(data_dir: Path, *args: str) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CAMPUS_EDGE_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "edge", "serve", "--port", str(port), *args],
                            env=env, stderr=subprocess.DEVNULL)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            httpx.get(url + "/healthz", timeout=0.5)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the service did not start")


def bare_bulk_insert(folder: Path, rows: list[tuple[object, ...]]) -> float:
    conn = sqlite3.connect(folder / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"CREATE TABLE events ({', '.join(ROW_COLUMNS)}, UNIQUE (node_id, epoch, seq))")
    marks = ", ".join("?" for _ in ROW_COLUMNS)
    start = time.perf_counter()
    for i in range(0, len(rows), 1000):
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO events VALUES ({marks})", rows[i : i + 1000])  # noqa: S608
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def backlog(folder: Path, count: int) -> None:
    hub_dir = folder / "hub"
    roster = demo.write_bundle(folder / "roster", students=300, seed=5, today=TODAY)
    cli(hub_dir, "roster", "import", str(roster))
    token = cli(hub_dir, "device", "add", "kiosk-a")
    hub, url = serve(hub_dir, "--role", "hub", "--node-id", "hub")
    try:
        kiosk_dir = folder / "kiosk"
        ledger = Ledger(kiosk_dir / "campus-edge.db", "kiosk-a")
        ledger.save_roster(roster_mod.load(roster, version=1), "bench")
        events = [e for e in chain("kiosk-a", count, epoch=ledger.epoch)]
        conn = ledger.writer()
        with transaction(conn):
            ledger.insert_events(conn, events)
        conn.close()
        node = Node(Settings(data_dir=kiosk_dir, node_id="kiosk-a"))
        node.start()
        client = SyncClient(node, url, token)
        start = time.perf_counter()
        while client.run_once():
            pass
        elapsed = time.perf_counter() - start
        waiting = client.status.waiting
        client.stop()
        node.stop()
        held = httpx.get(url + "/healthz").json()
        assert waiting == 0, waiting
        bare = bare_bulk_insert(folder, [e.to_row() for e in events])
        print(f"backlog: {count:,} events kiosk -> hub in {elapsed:.2f} s "
              f"({count / elapsed:,.0f}/s; target under 10 s); "
              f"bare bulk insert of the same rows {bare:.2f} s: {elapsed / bare:.1f}x "
              f"[hub roster v{held['roster_version']}]")  # fmt: skip
    finally:
        hub.terminate()
        hub.wait()


def central(folder: Path, pushers: int, per_pusher: int) -> None:
    name = f"campus_edge_bench_{secrets.token_hex(3)}"
    admin = psycopg.connect(PG, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    url = PG.rsplit("/", 1)[0] + "/" + name
    try:
        store = CentralStore(url)
        tokens = [store.add_device(f"campus-{i:02d}", "hub") for i in range(pushers)]
        chains = [list(chain(f"hub-{i:02d}", per_pusher)) for i in range(pushers)]
        keys = [Ed25519PrivateKey.generate() for _ in range(pushers)]  # each hub's node key
        bodies = [[orjson.dumps({"events": [e.to_wire() for e in c[j : j + 1000]],
                                 "signature": proof.sign_push(keys[i], c[j : j + 1000])})
                   for j in range(0, per_pusher, 1000)] for i, c in enumerate(chains)]  # fmt: skip
        proc, base = serve(folder / "central", "--role", "central", "--database", url)
        errors: list[str] = []

        def push(i: int) -> None:
            with httpx.Client(base_url=base, timeout=120,
                              headers={"authorization": f"Bearer {tokens[i]}",
                                       "content-type": "application/json"}) as c:  # fmt: skip
                hello = {"node_key": proof.public_text(keys[i]), "node": f"hub-{i:02d}"}
                c.get("/api/v1/sync/hello", params=hello).raise_for_status()  # binds its key
                for body in bodies[i]:
                    reply = c.post("/api/v1/sync/events", content=body)
                    if reply.status_code != 200:
                        errors.append(reply.text)

        threads = [threading.Thread(target=push, args=(i,)) for i in range(pushers)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        proc.terminate()
        proc.wait()
        total = pushers * per_pusher
        assert not errors, errors[:3]
        assert store.count_events() == total
        with psycopg.connect(url) as conn:
            conn.execute("CREATE TABLE bare (LIKE events INCLUDING DEFAULTS)")
            rows = [copy_row("x", e) for c in chains for e in c]
            begin = time.perf_counter()
            with conn.cursor() as cur, cur.copy(f"COPY bare ({COPY_COLUMNS}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)
            conn.commit()
            bare = time.perf_counter() - begin
        store.close()
        print(f"central: {pushers} pushers, {total:,} events over HTTP into PostgreSQL in "
              f"{elapsed:.2f} s = {total / elapsed:,.0f} events/s; bare COPY of the same rows "
              f"{total / bare:,.0f} events/s: {elapsed / bare:.1f}x")  # fmt: skip
    finally:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--pushers", type=int, default=50)
    parser.add_argument("--per-pusher", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        backlog(Path(tmp), args.backlog)
        central(Path(tmp), args.pushers, args.per_pusher)


if __name__ == "__main__":
    main()
