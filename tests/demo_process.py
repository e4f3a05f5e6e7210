"""`campus-edge demo` as a real process: its printed pages and tokens, and its clock."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.servers import free_port


class DemoProcess:
    """A demo campus playing its afternoon, started as a user starts it."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.out_path = data_dir.parent / f"{data_dir.name}.out"
        self.out = open(self.out_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge", "demo", "--port", str(self.port),
             "--data-dir", str(data_dir), *args],
            stdout=self.out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.leader = self._printed("Duty leader token")
        self.admin = self._printed("Admin token")

    def _printed(self, label: str, timeout: float = 20.0) -> str:
        """Return what the demo printed after ``label ...:`` (waiting for it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.output().splitlines():
                if line.startswith(label):
                    return line.rsplit(": ", 1)[1].strip()
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"the demo printed no {label}:\n{self.output()}")

    def output(self) -> str:
        """Return what the demo has printed so far."""
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str, token: str | None = None) -> httpx.Response:
        """GET a path with a staff token (the duty leader's by default)."""
        headers = {"authorization": f"Bearer {token or self.leader}"}
        return httpx.get(f"{self.url}{path}", headers=headers, timeout=10)

    def now(self) -> dt.datetime:
        """Return the node's time, as its presence answer says it (school time)."""
        for _ in range(100):
            try:
                reply = self.get("/api/v1/presence")
            except httpx.TransportError:  # printed just before uvicorn listens
                time.sleep(0.05)
                continue
            assert reply.status_code == 200, reply.text
            return dt.datetime.fromisoformat(reply.json()["at"])
        raise AssertionError(f"the demo does not answer:\n{self.output()}")

    def wait_until(self, hhmm: str, timeout: float = 40.0) -> dt.datetime:
        """Wait until the demo's clock reads ``hhmm`` (or later); return its time then."""
        hour, minute = map(int, hhmm.split(":"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.now()
            if (now.hour, now.minute) >= (hour, minute):
                return now
            time.sleep(0.1)
        raise AssertionError(f"the demo's clock never reached {hhmm}:\n{self.output()}")

    def events(self) -> list[dict]:
        """Return the node's whole ledger, page by page (admin)."""
        found: list[dict] = []
        after = "0"
        while True:
            reply = self.get(f"/api/v1/events?limit=1000&after={after}", self.admin)
            assert reply.status_code == 200, reply.text
            page = reply.json()
            found += page["events"]
            if not page["events"]:
                return found
            after = page["next"]

    def stop(self) -> None:
        """Stop the demo as Ctrl+C would."""
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.out.close()
