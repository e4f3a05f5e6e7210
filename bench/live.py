"""Benchmarks of issue 16 (live by deltas), each beside a baseline measured in the same run.

- presence: whole-campus GET /api/v1/presence at 5,000 students, a fresh connection
  per request, each right after a tap: p50/p99 (target: p99 < 20 ms), beside the same
  server's /healthz p99 (also a fresh connection each);
- dashboards: a dismissal burst of 10 taps a second, once with no dashboard open and
  once with five open (real SSE clients, each holding the picture plus the deltas it
  applied): the serve process's CPU time with five minus without, over the wall time
  (target: < 5% of one core); at the end each dashboard's picture must equal a fresh
  presence answer.

Run with `make bench` (or `python bench/live.py --students 5000 --burst 300`; `--quick`
is a 30 s burst).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import free_port, percentile  # noqa: E402
from edge.cli import demo  # noqa: E402
from edge.node import Node  # noqa: E402
from edge.school import roster as roster_mod  # noqa: E402
from edge.settings import Settings  # noqa: E402
from edge.store.ledger import Ledger  # noqa: E402

SHANGHAI = ZoneInfo("Asia/Shanghai")


def afternoon_offset() -> float:
    """Return the clock offset that puts the node at 16:30 of the last weekday, school time."""
    today = dt.datetime.now(SHANGHAI).date()
    while today.weekday() >= 5:
        today -= dt.timedelta(days=1)
    at = dt.datetime.combine(today, dt.time(16, 30), SHANGHAI)
    return (at - dt.datetime.now(dt.UTC)).total_seconds()


class Dashboard:
    """A dashboard: loads the picture, opens the stream with its cursor, applies deltas."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.picture: dict[str, Any] = {}
        self.deltas = self.reloads = 0
        self.hello = threading.Event()
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=120))
        threading.Thread(target=self._run, daemon=True).start()
        assert self.hello.wait(30)

    def _load(self) -> None:
        reply = self._client.get(
            f"{self.url}/api/v1/presence", headers={"authorization": f"Bearer {self.token}"}
        )
        assert reply.status_code == 200, reply.text
        self.picture = reply.json()

    def _run(self) -> None:
        self._load()
        params = {"token": self.token, "cursor": str(self.picture["cursor"])}
        try:
            with self._client.stream("GET", f"{self.url}/api/v1/stream", params=params) as reply:
                name = ""
                for line in reply.iter_lines():
                    if line.startswith("event: "):
                        name = line[7:]
                    elif line.startswith("data: "):
                        self._on(name, orjson.loads(line[6:]))
        except (httpx.HTTPError, RuntimeError):
            return

    def _on(self, name: str, data: dict[str, Any]) -> None:
        if name == "hello":
            self.hello.set()
        elif name == "reload":
            self.reloads += 1
            self._load()
        elif name == "delta" and data["cursor"] > self.picture["cursor"]:
            self.deltas += 1
            apply(self.picture, data)

    def close(self) -> None:
        self._client.close()


def apply(picture: dict[str, Any], delta: dict[str, Any]) -> None:
    """Apply a delta: replace entries by id, take counts and late as given."""
    students = {e["student_id"]: e for e in picture["students"]}
    for entry in delta["students"]:
        if entry["state"] is None:
            students.pop(entry["student_id"], None)
        else:
            students[entry["student_id"]] = entry
    picture["students"] = list(students.values())
    groups = {g["group_id"]: g for g in picture["groups"]}
    groups.update({g["group_id"]: g for g in delta["groups"]})
    picture["groups"] = list(groups.values())
    picture.update(counts=delta["counts"], late=delta["late"], cursor=delta["cursor"])


def comparable(picture: dict[str, Any]) -> tuple[Any, ...]:
    return (
        sorted(picture["students"], key=lambda e: e["student_id"]),
        sorted(picture["groups"], key=lambda g: g["group_id"]),
        picture["counts"],
        picture["late"],
        picture["cursor"],
    )


def prefill(data: Path, offset: float, roster: roster_mod.Roster, events: int) -> None:
    """Sign children in through the real writer (the afternoon so far)."""
    settings = Settings(data_dir=data, node_id="bench", simulate=True,
                        sim_clock_offset_seconds=offset)  # fmt: skip
    node = Node(settings)
    node.start()
    stations = [s.station_id for s in roster.stations.values() if s.role == "classroom"]
    cards = [s.card for s in roster.students.values() if s.card]
    futures = [
        node.writer.submit_nowait(
            node.writer.make_tap(stations[i % len(stations)], cards[(i * 7) % len(cards)] or "")
        )
        for i in range(events)
    ]
    for future in futures:
        future.result()
    node.stop()


def burst_taps(roster: roster_mod.Roster) -> list[tuple[str, str]]:
    """Return a dismissal's taps, in order: a guardian at a gate, then their child."""
    pickup = [s.station_id for s in roster.stations.values() if s.role == "pickup"]
    taps = []
    for n, ((sid, gid), right) in enumerate(roster.pickup.items()):
        guardian, student = roster.guardians.get(gid), roster.students.get(sid)
        if right.allowed and guardian and student and guardian.card and student.card:
            taps += [
                (pickup[n % len(pickup)], guardian.card),
                (pickup[n % len(pickup)], student.card),
            ]
    return taps


def burst(
    client: httpx.Client, pid: int, taps: list[tuple[str, str]], seconds: float
) -> tuple[float, float, int]:
    """Tap 10 a second for ``seconds``; return (serve CPU seconds, wall seconds, taps)."""
    proc = psutil.Process(pid)
    before = proc.cpu_times()
    start = time.perf_counter()
    n = 0
    while (elapsed := time.perf_counter() - start) < seconds:
        station, card = taps.pop(0)
        reply = client.post("/api/v1/sim/taps", json={"station": station, "uid": card})
        assert reply.status_code == 200, reply.text
        n += 1
        time.sleep(max(0.0, n / 10 - (time.perf_counter() - start)))
    elapsed = time.perf_counter() - start
    time.sleep(0.5)  # the last deltas go out
    after = proc.cpu_times()
    cpu = (after.user - before.user) + (after.system - before.system)
    return cpu, elapsed, n


def fresh_get(url: str, path: str, headers: dict[str, str]) -> int:
    """GET on a connection of its own (http.client: no TLS set-up); return the body's size."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        reply = conn.getresponse()
        body = reply.read()
        assert reply.status == 200, body[:200]
        return len(body)
    finally:
        conn.close()


def presence_after_taps(
    url: str, headers: dict[str, str], taps: list[tuple[str, str]], requests: int
) -> tuple[list[float], list[float], int]:
    """Return presence and /healthz times, each on a fresh connection, a tap before each."""
    presence, health = [], []
    size = 0
    with httpx.Client(base_url=url, timeout=10) as tapper:
        for _ in range(requests):
            station, card = taps.pop(0)
            tapper.post("/api/v1/sim/taps", json={"station": station, "uid": card})
            start = time.perf_counter()
            size = fresh_get(url, "/api/v1/presence", headers)
            presence.append(time.perf_counter() - start)
            start = time.perf_counter()
            fresh_get(url, "/healthz", {})
            health.append(time.perf_counter() - start)
    return presence, health, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--events", type=int, default=4000, help="sign-ins before the bench")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--burst", type=float, default=300.0, help="seconds of each burst")
    parser.add_argument("--quick", action="store_true", help="30 s bursts")
    parser.add_argument("--dashboards", type=int, default=5)
    args = parser.parse_args()
    seconds = 30.0 if args.quick else args.burst
    offset = afternoon_offset()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "data"
        bundle = demo.write_bundle(folder / "roster", students=args.students, seed=1)
        roster = roster_mod.load(bundle, version=1)
        Ledger(data / "campus-edge.db", "bench").save_roster(roster, "bench")
        prefill(data, offset, roster, args.events)
        port = free_port()
        env = {**os.environ, "CAMPUS_EDGE_DATA_DIR": str(data), "CAMPUS_EDGE_SIMULATE": "true",
               "CAMPUS_EDGE_SIM_CLOCK_OFFSET_SECONDS": str(offset)}  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "serve", "--simulate", "--port", str(port),
             "--node-id", "bench"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=0.2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.01)
            token = subprocess.run(
                [sys.executable, "-m", "edge", "token", "--staff", "T001"],
                env=env, capture_output=True, text=True, check=True,
            ).stdout.strip()  # fmt: skip
            headers = {"authorization": f"Bearer {token}"}
            taps = burst_taps(roster)
            taps = taps * (1 + int((seconds * 20 + args.requests + 200) // max(len(taps), 1)))
            presence_after_taps(url, headers, taps, 30)  # warm up
            presence, health, size = presence_after_taps(url, headers, taps, args.requests)
            with httpx.Client(base_url=url, timeout=10) as client:
                bare_cpu, bare_wall, bare_n = burst(client, proc.pid, taps, seconds)
                boards = [Dashboard(url, token) for _ in range(args.dashboards)]
                time.sleep(1)
                open_cpu, open_wall, open_n = burst(client, proc.pid, taps, seconds)
                time.sleep(1)
                fresh = comparable(client.get("/api/v1/presence", headers=headers).json())
                equal = sum(comparable(b.picture) == fresh for b in boards)
                deltas = [b.deltas for b in boards]
                reloads = sum(b.reloads for b in boards)
                for board in boards:
                    board.close()
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    ms = 1000
    print(f"setup: {args.students} students, {args.events} sign-ins before the bench")
    print(
        f"GET /api/v1/presence right after a tap, fresh connection ({size / 2**20:.2f} MB): "
        f"p50 {statistics.median(presence) * ms:.1f} ms, p99 {percentile(presence, 0.99) * ms:.1f}"
        f" ms, max {max(presence) * ms:.1f} ms   (target p99 < 20 ms); /healthz fresh "
        f"connection p50 {statistics.median(health) * ms:.1f} ms, p99 "
        f"{percentile(health, 0.99) * ms:.1f} ms"
    )
    bare, opened = bare_cpu / bare_wall, open_cpu / open_wall
    print(
        f"dismissal burst {seconds:.0f} s at 10 taps/s: serve CPU {bare * 100:.1f}% of a core "
        f"with no dashboard ({bare_n} taps), {opened * 100:.1f}% with {args.dashboards} open "
        f"({open_n} taps); the dashboards' share {(opened - bare) * 100:.2f}% of a core"
        f"   (target < 5%)"
    )
    print(
        f"dashboards equal to a fresh presence answer at the end: {equal}/{len(deltas)} "
        f"(deltas applied {deltas}, reloads {reloads})"
    )


if __name__ == "__main__":
    main()
