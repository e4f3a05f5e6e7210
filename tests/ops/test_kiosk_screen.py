"""The tap screen on Bookworm: the launcher, the autostart entries and the X11 user unit.

The launcher (systemd/kiosk/campus-edge-screen) is run for real with a stand-in for
Chromium on PATH, against a loopback /healthz: it must wait for the service, pass the
kiosk flags and the station's page, clear Chromium's crash marks and start it again
after a crash. install.sh is run into a throwaway root (--prefix): the labwc line it
writes must be the one README shows, wayfire gets one block, and the unit verifies.
labwc, wayfire, the cursor and a turned touch panel need a Pi (README says so).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.ops.test_install import ROOT, install, need, verify

LAUNCHER = ROOT / "systemd" / "kiosk" / "campus-edge-screen"
README = ROOT / "README.md"

# Stands in for Chromium: records its arguments and the Preferences it was started
# with; the first run writes a crash into the Preferences and dies (exit 1), later
# runs stay up until they are killed.
FAKE_CHROMIUM = """#!/usr/bin/env python3
import json, os, pathlib, sys, time
record = pathlib.Path(os.environ["FAKE_CHROMIUM_RECORD"])
profile = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--user-data-dir="))
prefs = pathlib.Path(profile, "Default", "Preferences")
runs = record.read_text().splitlines() if record.exists() else []
seen = prefs.read_text() if prefs.exists() else None
with record.open("a") as out:
    out.write(json.dumps({"args": sys.argv[1:], "prefs": seen, "pid": os.getpid()}) + "\\n")
if not runs:
    prefs.parent.mkdir(parents=True, exist_ok=True)
    prefs.write_text('{"profile":{"exit_type":"Crashed","exited_cleanly":false}}')
    sys.exit(1)
time.sleep(60)
"""


class Health:
    """A loopback service whose /healthz answers 503 until it is told to be up."""

    def __init__(self) -> None:
        self.up = threading.Event()
        self.asked = 0
        health = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                health.asked += 1
                code = 200 if self.path == "/healthz" and health.up.is_set() else 503
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def health() -> Iterator[Health]:
    served = Health()
    yield served
    served.server.shutdown()
    served.server.server_close()


def until(what: Callable[[], bool], seconds: float, why: str) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, why
        time.sleep(0.1)


def readme_line(starting: str) -> str:
    """The one line of a fenced block in README's screen section that starts so."""
    section = README.read_text().split("### The screen (Wayland, labwc or wayfire)")[1]
    section = section.split("\n## ")[0]
    fenced = re.findall(r"```\w*\n(.*?)```", section, re.S)
    lines = [ln.strip() for block in fenced for ln in block.splitlines()]
    found = [ln for ln in lines if ln.startswith(starting)]
    assert len(found) == 1, f"README's screen section shows {len(found)} lines {starting!r}"
    return found[0]


def test_the_launcher_is_shellcheck_clean() -> None:
    result = subprocess.run([need("shellcheck"), str(LAUNCHER)], capture_output=True, text=True,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout


def test_the_launcher_waits_for_the_service_and_brings_chromium_back(
    tmp_path: Path, health: Health
) -> None:
    bin_dir, home, run = tmp_path / "bin", tmp_path / "home", tmp_path / "run"
    for folder in (bin_dir, home, run):
        folder.mkdir()
    for name in ("chromium-browser", "chromium"):
        (bin_dir / name).write_text(FAKE_CHROMIUM)
        (bin_dir / name).chmod(0o755)
    record = tmp_path / "runs.jsonl"
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("XDG_", "WAYLAND_", "CAMPUS_EDGE_"))
    }  # fmt: skip
    env.update(PATH=f"{bin_dir}:{env['PATH']}", HOME=str(home), XDG_RUNTIME_DIR=str(run),
               WAYLAND_DISPLAY="wayland-1", FAKE_CHROMIUM_RECORD=str(record),
               CAMPUS_EDGE_SCREEN_RESTART_DELAY="1")  # fmt: skip
    compositor = socket.socket(socket.AF_UNIX)  # stands in for labwc's Wayland socket
    compositor.bind(str(run / "wayland-1"))
    url = f"http://127.0.0.1:{health.port}/kiosk/K-3A"
    launcher = subprocess.Popen(["bash", str(LAUNCHER), url], env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        # The service does not answer yet: no Chromium, only patience.
        until(lambda: health.asked >= 2, 20, "the launcher never asked /healthz")
        time.sleep(1)
        assert not record.exists(), "Chromium was started before the service answered"
        health.up.set()
        until(lambda: record.exists() and len(record.read_text().splitlines()) >= 2, 30,
              "Chromium was not started again after it crashed")  # fmt: skip
        runs = [json.loads(line) for line in record.read_text().splitlines()]
        first, second = runs[0]["args"], runs[1]["args"]
        assert first == second
        assert first[-1] == url  # the station's page
        profile = home / ".config/campus-edge-screen"
        for flag in ("--kiosk", "--noerrdialogs", "--password-store=basic",
                     "--ozone-platform=wayland", "--no-first-run",
                     "--autoplay-policy=no-user-gesture-required",
                     f"--user-data-dir={profile}"):  # fmt: skip
            assert flag in first, f"{flag} not passed to Chromium: {first}"
        # The crash the first run left is cleared before the second: no "restore pages".
        assert runs[1]["prefs"] is not None
        assert '"exit_type":"Normal"' in runs[1]["prefs"]
        assert '"exited_cleanly":true' in runs[1]["prefs"]
        log = (home / ".local/state/campus-edge-screen.log").read_text()
        assert "waiting for the service" in log
        assert "Chromium ended (exit status 1)" in log

        # A second launcher (autostart and the user unit both) leaves the screen alone.
        second_launcher = subprocess.run(["bash", str(LAUNCHER), url], env=env, timeout=30,
                                         capture_output=True, text=True, check=False)  # fmt: skip
        assert second_launcher.returncode == 0
        assert "already shows the tap screen" in second_launcher.stderr
        assert len(record.read_text().splitlines()) == 2

        # The desktop session ends (the compositor's socket goes, Chromium with it):
        # the launcher stops instead of starting Chromium in a loop.
        compositor.close()
        (run / "wayland-1").unlink()
        os.kill(runs[1]["pid"], signal.SIGTERM)
        assert launcher.wait(timeout=20) == 0
        assert len(record.read_text().splitlines()) == 2
        log = (home / ".local/state/campus-edge-screen.log").read_text()
        assert "the desktop session ended" in log
    finally:
        compositor.close()
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGTERM)
            launcher.wait(timeout=10)


def test_the_launcher_without_wayland_and_with_a_wrong_address(
    tmp_path: Path, health: Health
) -> None:
    bin_dir, home = tmp_path / "bin", tmp_path / "home"
    bin_dir.mkdir()
    home.mkdir()
    (bin_dir / "chromium").write_text(FAKE_CHROMIUM)
    (bin_dir / "chromium").chmod(0o755)
    record = tmp_path / "runs.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "WAYLAND_"))}
    env.update(PATH=f"{bin_dir}:/usr/bin:/bin", HOME=str(home), FAKE_CHROMIUM_RECORD=str(record))
    wrong = subprocess.run(["bash", str(LAUNCHER), "K-3A"], env=env, capture_output=True,
                           text=True, timeout=30, check=False)  # fmt: skip
    assert wrong.returncode == 2
    assert "usage: campus-edge-screen http://127.0.0.1:8080/kiosk/STATION" in wrong.stderr
    health.up.set()
    launcher = subprocess.Popen(["bash", str(LAUNCHER), f"http://127.0.0.1:{health.port}/kiosk/K1"],
                                env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        until(record.exists, 30, "Chromium was not started")
        args = json.loads(record.read_text().splitlines()[0])["args"]
        assert "--kiosk" in args
        assert not any(a.startswith("--ozone-platform") for a in args)  # X11: Chromium's own
    finally:
        os.killpg(launcher.pid, signal.SIGTERM)
        launcher.wait(timeout=10)


def test_install_writes_the_autostart_line_readme_shows(tmp_path: Path) -> None:
    root = tmp_path / "root"
    home = root / "home/pi"
    (home / ".config/labwc").mkdir(parents=True)
    autostart = home / ".config/labwc/autostart"
    autostart.write_text("kanshi &\n/opt/campus-edge/bin/campus-edge-screen http://x/kiosk/OLD &\n")
    wayfire = home / ".config/wayfire.ini"
    wayfire.write_text("[core]\nplugins = autostart idle\n")
    host_files = [Path("/opt/campus-edge/bin/campus-edge-screen"),
                  Path("/etc/systemd/user/campus-edge-kiosk.service"),
                  Path("/home/pi/.config/labwc/autostart")]  # fmt: skip
    there_before = {path: path.exists() for path in host_files}

    done = install("--prefix", str(root), "--station", "K-3A", "--kiosk-user", "pi")
    assert "the tap screen opens for pi at the next desktop login" in done.stdout

    # labwc: the user's autostart keeps its own lines and gets exactly README's line.
    lines = autostart.read_text().splitlines()
    assert lines[0] == "kanshi &"
    assert len(lines) == 2, lines  # the older campus-edge line was replaced
    assert lines[1].replace(str(root), "") == readme_line("/opt/campus-edge/bin/campus-edge-screen")
    launcher = root / "opt/campus-edge/bin/campus-edge-screen"
    assert os.access(launcher, os.X_OK)
    assert launcher.read_bytes() == LAUNCHER.read_bytes()

    # wayfire: one block, the same launcher, no blanking.
    ini = wayfire.read_text()
    assert ini.startswith("[core]\nplugins = autostart idle\n")
    assert ini.count("# campus-edge tap screen (written by") == 1
    assert f"campus_edge_screen = {launcher} http://127.0.0.1:8080/kiosk/K-3A" in ini
    assert "screensaver_timeout = -1" in ini
    assert "dpms_timeout = -1" in ini

    # X11: the user unit starts the same launcher; it verifies with its real paths.
    unit = root / "etc/systemd/user/campus-edge-kiosk.service"
    text = unit.read_text()
    assert f"ExecStart={launcher} http://127.0.0.1:8080/kiosk/K-3A" in text
    assert "Restart=" not in text  # the launcher restarts Chromium; the two would fight
    verify(unit, user=True, tmp=tmp_path)
    ran = (root / "install.log").read_text().splitlines()
    assert "systemctl --global enable campus-edge-kiosk.service" in ran
    assert "raspi-config nonint do_blanking 1" in ran
    assert {path: path.exists() for path in host_files} == there_before  # only the prefix

    # Removing campus-edge takes its lines out of the user's files, and only those.
    install("--prefix", str(root), "--uninstall", "--kiosk-user", "pi")
    assert autostart.read_text() == "kanshi &\n"
    assert wayfire.read_text() == "[core]\nplugins = autostart idle\n"
    assert not launcher.exists()
