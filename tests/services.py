"""Real `campus-edge` processes for tests: serve, and the CLI around it."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from edge.cli import demo
from tests.roster_files import TODAY
from tests.servers import free_port, local


def replay_clock(hhmm: str = "08:00") -> dict[str, str]:
    """Return the env that sets a process's clock (serve and CLI alike) to TODAY at ``hhmm``.

    Every event moves a node's clock, staff and operator actions included: a campus that
    replays TODAY's afternoon must make its set-up actions (roster import, device add)
    before that afternoon, not at the hour the tests run, or their stamps would order
    every replayed tap after them by counter instead of by time.
    """
    offset = (local(hhmm) - dt.datetime.now(dt.UTC)).total_seconds()
    return {"CAMPUS_EDGE_SIMULATE": "true", "CAMPUS_EDGE_SIM_CLOCK_OFFSET_SECONDS": str(offset)}


def cli(
    data_dir: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a `campus-edge` command on a data directory."""
    env = {**os.environ, "CAMPUS_EDGE_DATA_DIR": str(data_dir), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "edge", *args],
        env=env,
        capture_output=True,
        text=True,
        check=check,
        timeout=60,
    )


class Service:
    """`campus-edge serve --simulate` as a real process (a kiosk, hub or central)."""

    def __init__(
        self,
        data_dir: Path,
        *args: str,
        node_id: str | None = "gate-1",
        env: dict[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.args = list(args)
        self.node_id = node_id
        self.env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(data_dir / "serve.log", "ab")  # noqa: SIM115 - closed in stop()

    def start(self) -> None:
        # These processes replay a fixed afternoon (TODAY) whatever the hour the tests run:
        # on that date after 18:30 a hub would rightly pass the children it still sees to
        # the gate guard. Escalation is tested in-process with a moved clock instead.
        env = {**os.environ, "CAMPUS_EDGE_DATA_DIR": str(self.data_dir),
               "CAMPUS_EDGE_ESCALATE": "false", **self.env}  # fmt: skip
        command = [sys.executable, "-m", "edge", "serve", "--simulate", "--port", str(self.port)]
        if self.node_id:
            command += ["--node-id", self.node_id]
        self.proc = subprocess.Popen(
            [*command, *self.args], env=env, stdout=subprocess.DEVNULL, stderr=self.log
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
            if self.proc.poll() is not None:
                break
        self.proc.kill()
        raise RuntimeError((self.data_dir / "serve.log").read_text())

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()

    def health(self) -> dict:
        return httpx.get(f"{self.url}/healthz", timeout=5).json()

    def token(self, staff: str) -> str:
        # On the service's own clock, as on one machine: issuing a token is an action.
        return cli(self.data_dir, "token", "--staff", staff, env=self.env).stdout.strip()


def imported_campus(
    root: Path, students: int, seed: int, env: dict[str, str] | None = None
) -> Path:
    """Write a demo campus's roster under ``root`` and import it with the CLI."""
    bundle = demo.write_bundle(root / "roster", students=students, seed=seed, today=TODAY)
    cli(root / "data", "roster", "import", str(bundle), env=env)
    return bundle
