"""Benchmarks of issue 2, each beside a baseline measured in the same run.

- tap: POST /api/v1/sim/taps median, beside GET /healthz median of the same server
  (target: at most 3x), at 5,000 students and 30,000 events already in the ledger;
  a bare durable SQLite commit (WAL, synchronous=FULL) printed for reference;
- presence: whole-campus GET /api/v1/presence at 5,000 students, p50 and p99
  (target: p99 under 50 ms), beside the same server's /healthz p99;
- idle RSS and start-up time of `campus-edge serve` at 5,000 students (targets: 80 MB,
  1.5 s; issue 16), the median of three starts, beside a bare FastAPI + uvicorn server
  answering /healthz started the same way in the same run.

Run with `make bench` (or `python bench/run.py --students 5000 --events 30000`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge.cli import demo  # noqa: E402
from edge.node import Node  # noqa: E402
from edge.school import roster as roster_mod  # noqa: E402
from edge.settings import Settings  # noqa: E402
from edge.store.ledger import Ledger  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def bare_sqlite_commit(folder: Path, n: int = 2000) -> float:
    conn = sqlite3.connect(folder / "bare.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    times = []
    for i in range(n):
        start = time.perf_counter()
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (v) VALUES (?)", (f"row {i}",))
        conn.execute("COMMIT")
        times.append(time.perf_counter() - start)
    conn.close()
    return statistics.median(times)


BARE_SERVER = """
import sys
import fastapi, uvicorn
app = fastapi.FastAPI()
app.get("/healthz")(lambda: {"ok": True})
uvicorn.run(app, port=int(sys.argv[1]), log_level="warning", ws="none")
"""


def start_figures(command: list[str], env: dict[str, str], runs: int = 3) -> dict[str, float]:
    """Start a server ``runs`` times; return the medians of its start and idle memory.

    ``start``: launch to the first /healthz answer (wall clock); ``cpu``: the CPU time
    the process spent until then (less swayed by a busy machine); ``rss``: resident
    memory one second after, idle.
    """
    figures: dict[str, list[float]] = {"start": [], "cpu": [], "rss": []}
    for _ in range(runs):
        port = free_port()
        launched = time.perf_counter()
        proc = subprocess.Popen(
            [*command, str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.2).is_success:
                        break
                except httpx.TransportError:
                    time.sleep(0.01)
            figures["start"].append(time.perf_counter() - launched)
            cpu = psutil.Process(proc.pid).cpu_times()
            figures["cpu"].append(cpu.user + cpu.system)
            time.sleep(1)
            figures["rss"].append(psutil.Process(proc.pid).memory_info().rss / 2**20)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return {k: statistics.median(v) for k, v in figures.items()}


def start_lines(data: Path) -> str:
    """Return the node's start and idle memory beside a bare FastAPI + uvicorn server's."""
    env = {**os.environ, "CAMPUS_EDGE_DATA_DIR": str(data)}
    serve = [sys.executable, "-m", "edge", "serve", "--simulate", "--node-id", "bench", "--port"]
    node = start_figures(serve, env)
    bare = start_figures([sys.executable, "-c", BARE_SERVER], env)
    return (
        f"start-up to first /healthz (median of 3): {node['start']:.2f} s "
        f"({node['cpu']:.2f} s CPU)   (target < 1.5 s); a bare FastAPI + uvicorn server: "
        f"{bare['start']:.2f} s ({bare['cpu']:.2f} s CPU)\n"
        f"RSS idle after start (median of 3): {node['rss']:.1f} MB   (target < 80 MB); "
        f"a bare FastAPI + uvicorn server: {bare['rss']:.1f} MB"
    )


def prefill(data_dir: Path, roster: roster_mod.Roster, events: int) -> None:
    """Put ``events`` taps of today into the ledger through the real writer."""
    node = Node(Settings(data_dir=data_dir, node_id="bench", simulate=True))
    node.start()
    stations = [s for s in roster.stations.values() if s.role == "classroom"]
    cards = [s.card for s in roster.students.values() if s.card]
    futures = []
    for i in range(events):
        station = stations[i % len(stations)].station_id
        tap = node.writer.make_tap(station, cards[(i * 7) % len(cards)] or "")
        futures.append(node.writer.submit_nowait(tap))
    for f in futures:
        f.result()
    node.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--events", type=int, default=30000)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "data"
        bundle = demo.write_bundle(folder / "roster", students=args.students, seed=1)
        roster = roster_mod.load(bundle, version=1)
        Ledger(data / "campus-edge.db", "bench").save_roster(roster, "bench")
        started = time.perf_counter()
        prefill(data, roster, args.events)
        print(
            f"setup: {args.students} students, {args.events} events prefilled "
            f"in {time.perf_counter() - started:.1f} s"
        )

        port = free_port()
        env = {**os.environ, "CAMPUS_EDGE_DATA_DIR": str(data)}
        launched = time.perf_counter()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "edge",
                "serve",
                "--simulate",
                "--port",
                str(port),
                "--node-id",
                "bench",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=0.2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.01)
            startup = time.perf_counter() - launched
            time.sleep(1)
            rss_idle = psutil.Process(proc.pid).memory_info().rss / 2**20

            env_token = subprocess.run(
                [sys.executable, "-m", "edge", "token", "--staff", "T001"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            stations = [s.station_id for s in roster.stations.values() if s.role == "classroom"]
            cards = [s.card for s in roster.students.values() if s.card]
            with httpx.Client(base_url=url, timeout=10) as client:
                for _ in range(200):  # warm up both paths
                    client.get("/healthz")
                health, taps = [], []
                for i in range(args.requests):
                    start = time.perf_counter()
                    client.get("/healthz")
                    health.append(time.perf_counter() - start)
                    body = {
                        "station": stations[i % len(stations)],
                        "uid": cards[(i * 13 + 5) % len(cards)],
                    }
                    start = time.perf_counter()
                    reply = client.post("/api/v1/sim/taps", json=body)
                    taps.append(time.perf_counter() - start)
                    assert reply.status_code == 200, reply.text
                headers = {"authorization": f"Bearer {env_token}"}
                presence = []
                for _ in range(300):
                    start = time.perf_counter()
                    reply = client.get("/api/v1/presence", headers=headers)
                    presence.append(time.perf_counter() - start)
                    assert reply.status_code == 200
                students_listed = len(reply.json()["students"])
                historic = []
                at = dt.datetime.now(dt.UTC).isoformat()
                for _ in range(20):
                    start = time.perf_counter()
                    client.get("/api/v1/presence", headers=headers, params={"at": at})
                    historic.append(time.perf_counter() - start)
            rss_after = psutil.Process(proc.pid).memory_info().rss / 2**20
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        commit = bare_sqlite_commit(folder)
        started_lines = start_lines(data)

    ms = 1000
    tap_ratio = statistics.median(taps) / statistics.median(health)
    print(
        f"bare durable SQLite commit (WAL, FULL) median: {statistics.median([commit]) * ms:.3f} ms"
    )
    print(
        f"GET /healthz median: {statistics.median(health) * ms:.3f} ms, "
        f"p99 {percentile(health, 0.99) * ms:.3f} ms"
    )
    print(
        f"POST /api/v1/sim/taps median: {statistics.median(taps) * ms:.3f} ms, "
        f"p99 {percentile(taps, 0.99) * ms:.3f} ms"
    )
    print(f"tap / healthz (median): {tap_ratio:.2f}x   (target <= 3x)")
    print(
        f"GET /api/v1/presence ({students_listed} students listed) p50 "
        f"{statistics.median(presence) * ms:.1f} ms, p99 {percentile(presence, 0.99) * ms:.1f} ms"
        f"   (target p99 < 50 ms); healthz p99 {percentile(health, 0.99) * ms:.2f} ms"
    )
    print(
        f"GET /api/v1/presence?at= (refold of {args.events + args.requests} events) median "
        f"{statistics.median(historic) * ms:.0f} ms"
    )
    print(
        f"this run's server: start-up {startup:.2f} s, RSS idle {rss_idle:.1f} MB, "
        f"after the run {rss_after:.1f} MB"
    )
    print(started_lines)


if __name__ == "__main__":
    main()
