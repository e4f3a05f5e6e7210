"""Tap to screen at 5,000 students: a simulated tap sent -> the name on the station's page.

A real `campus-edge serve` process, and the kiosk page in headless Chromium on the same
machine (the station's own screen). For each of 200+ taps (distinct children, after 20
warm-up taps), timed inside the page with performance.now() from just before the
tap's POST:

- ``bare HTTP``: a GET /healthz round trip from the page just before (the baseline:
  what any request to this server costs from this browser);
- ``tap answered``: the POST's answer (the event durably committed);
- ``SSE arrival``: the tap's message on a second, bare EventSource of the same stream
  (no rendering: what the server and the stream add);
- ``name in page``: the name in the tap panel's DOM (a MutationObserver);
- ``name on screen``: the next animation frame after that (what a person sees).

Twice: the server free, then started under ``taskset -c 0`` (one core, closer to a Pi).
Target (issue 16): name on screen p95 < 50 ms in both. Run: `python bench/screens.py`
(needs /usr/bin/chromium and taskset).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, sync_playwright  # noqa: E402

from edge.cli import demo  # noqa: E402
from edge.school import roster as roster_mod  # noqa: E402
from edge.store.ledger import Ledger  # noqa: E402
from tests.browser.chromium import CHROMIUM, FLAGS  # noqa: E402
from tests.servers import free_port  # noqa: E402

# A second EventSource beside the page's own: each tap's arrival, by the subject's name.
LISTEN = """(station) => {
  window.__arrived = new Map();
  window.__waiting = new Map();
  window.__arrival = (name) => new Promise((done) => {
    if (window.__arrived.has(name)) return done(window.__arrived.get(name));
    window.__waiting.set(name, done);
    setTimeout(() => done(NaN), 2000);
  });
  const source = new EventSource(`/api/v1/stations/${station}/stream`);
  source.addEventListener("tap", (e) => {
    const at = performance.now();
    const name = (JSON.parse(e.data).subject || {}).name;
    if (!name || window.__arrived.has(name)) return;
    window.__arrived.set(name, at);
    window.__waiting.get(name)?.(at);
  });
  return new Promise((ready) => source.addEventListener("hello", () => ready(true)));
}"""

MEASURE = """async ([station, uid, name]) => {
  const h0 = performance.now();
  await (await fetch("/healthz", { cache: "no-store" })).json();
  const bare = performance.now() - h0;
  const panel = document.getElementById("panel");
  let inPage = 0;
  const seen = new Promise((resolve) => {
    const watch = new MutationObserver(() => {
      const who = document.getElementById("who");
      if (who && who.textContent.startsWith(name)) {
        watch.disconnect();
        inPage = performance.now();
        requestAnimationFrame(() => resolve(performance.now()));
      }
    });
    watch.observe(panel, { childList: true, subtree: true, characterData: true });
  });
  window.__arrived.delete(name);
  const started = performance.now();
  const reply = await fetch("/api/v1/sim/taps", { method: "POST",
    headers: { "content-type": "application/json" }, body: JSON.stringify({ station, uid }) });
  const answered = performance.now();
  await reply.json();
  const painted = await seen;
  const arrived = await window.__arrival(name);  // may come after the page's own stream
  return [bare, answered - started, arrived - started, inPage - started, painted - started];
}"""

COLUMNS = ("bare HTTP /healthz", "tap answered", "SSE arrival", "name in page", "name on screen")


def prepare(folder: Path, students: int) -> tuple[Path, roster_mod.Roster]:
    """Write and import a demo campus; return its data directory and roster."""
    bundle = demo.write_bundle(folder / "roster", students=students, seed=9)
    roster = roster_mod.load(bundle, version=1)
    Ledger(folder / "data" / "campus-edge.db", "bench").save_roster(roster, "bench")
    return folder / "data", roster


def serve(data: Path, pinned: bool) -> tuple[subprocess.Popen[bytes], str]:
    """Start `campus-edge serve --simulate` (under taskset -c 0 when pinned); return it."""
    port = free_port()
    command = [sys.executable, "-m", "edge", "serve", "--simulate", "--node-id", "bench",
               "--port", str(port)]  # fmt: skip
    if pinned:
        command = ["taskset", "-c", "0", *command]
    env = {**os.environ, "CAMPUS_EDGE_DATA_DIR": str(data), "CAMPUS_EDGE_ESCALATE": "false"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200:
                return proc, url
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("campus-edge serve did not start")


def run(page: Page, url: str, station: str, taps: list[tuple[str, str]]) -> list[list[float]]:
    """Open the station's page and time each tap; return one column of figures each."""
    page.goto(f"{url}/kiosk/{station}")
    page.wait_for_function("document.getElementById('stream').textContent === ''")
    page.evaluate(LISTEN, station)
    page.wait_for_timeout(500)
    rows = []
    for n, (card, name) in enumerate(taps):
        figures = page.evaluate(MEASURE, [station, card, name])
        if n >= 20:  # warm-up
            rows.append(figures)
        page.wait_for_timeout(30)  # taps a few tens of ms apart, as at a busy door
    return [list(column) for column in zip(*rows, strict=True)]


def report(title: str, columns: list[list[float]]) -> None:
    def p95(values: list[float]) -> float:
        return sorted(values)[int(len(values) * 0.95) - 1]

    print(f"{title} (n={len(columns[0])}):")
    for name, every in zip(COLUMNS, columns, strict=True):
        values = [v for v in every if v == v]  # NaN: not on the bare stream within 2 s
        if len(values) < len(every):
            print(f"  ({name}: {len(every) - len(values)} taps not seen)")
        target = "   (target p95 < 50 ms)" if name == "name on screen" else ""
        print(
            f"  {name:<20} p50 {statistics.median(values):6.1f} ms   "
            f"p95 {p95(values):6.1f} ms   max {max(values):6.1f} ms{target}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=5000)
    parser.add_argument("--taps", type=int, default=220, help="per run, 20 of them warm-up")
    args = parser.parse_args()
    if shutil.which("taskset") is None:
        sys.exit("taskset is needed (util-linux) to pin the server to one core")
    with tempfile.TemporaryDirectory() as tmp:
        data, roster = prepare(Path(tmp), args.students)
        station = next(s.station_id for s in roster.stations.values() if s.role == "classroom")
        children = [(s.card, s.name) for s in roster.students.values() if s.card]
        count = Counter(n for _, n in children)
        unique = [(c, n) for c, n in children if count[n] == 1]  # a name names one child
        assert len(unique) >= 2 * args.taps, f"only {len(unique)} names name one child"
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            for number, pinned in enumerate((False, True)):
                proc, url = serve(data, pinned)
                try:
                    page = browser.new_page(viewport={"width": 1024, "height": 600})
                    taps = unique[number * args.taps : (number + 1) * args.taps]
                    columns = run(page, url, station, taps)
                    page.close()
                finally:
                    proc.terminate()
                    proc.wait(timeout=10)
                where = "server pinned to one core (taskset -c 0)" if pinned else "server free"
                report(f"{args.students} students, {where}", columns)
            browser.close()


if __name__ == "__main__":
    main()
