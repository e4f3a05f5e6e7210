"""Running for a term: doctor, /metrics, systemd readiness and watchdog, journald lines."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from edge import systemd
from edge.node import Node
from tests import roster_files
from tests.roster_files import CARD
from tests.servers import LiveServer, free_port
from tests.services import Service, cli


@pytest.fixture
def kiosk_dir(tmp_path: Path) -> Path:
    data = tmp_path / "kiosk"
    cli(data, "roster", "import", str(roster_files.write(tmp_path / "roster")))
    return data


def doctor(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    settings = {"CAMPUS_EDGE_DATA_DIR": str(data_dir), "CAMPUS_EDGE_CLOCK_TRUSTED": "true",
                "CAMPUS_EDGE_PORT": str(free_port())}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "edge", "doctor", *args],
        env={**os.environ, **settings, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_doctor_on_a_sound_kiosk_whose_service_is_stopped(kiosk_dir: Path) -> None:
    found = doctor(kiosk_dir)
    assert found.returncode == 0, found.stdout
    assert "✔ database: 完好，名单第 1 版" in found.stdout
    assert "✔ clock: 时钟已同步" in found.stdout
    assert "⚠ service: 服务没有在端口" in found.stdout
    english = doctor(kiosk_dir, "--lang", "en")
    assert "⚠ service: the service is not running" in english.stdout


@pytest.mark.parametrize(
    ("env", "says", "fails"),
    [
        ({"CAMPUS_EDGE_MIN_FREE_MB": str(10**9)}, "✖ disk: 存储卡只剩", True),
        ({"CAMPUS_EDGE_CLOCK_TRUSTED": "false"}, "⚠ clock: 时钟未同步", False),
        ({"CAMPUS_EDGE_READERS": '["K1=serial:/dev/ttyNOPE:rdm6300"]'},
         "✖ reader K1: 找不到 /dev/ttyNOPE：检查串口线，以及 campus-edge 用户是否在 dialout", True),
        ({"CAMPUS_EDGE_UPSTREAM": "http://127.0.0.1:1", "CAMPUS_EDGE_DEVICE_TOKEN": "dev1.x"},
         "✖ upstream: 连不上中心 http://127.0.0.1:1", True),
    ],
    ids=["disk-full", "clock", "reader-missing", "hub-unreachable"],
)  # fmt: skip
def test_doctor_names_each_fault(kiosk_dir: Path, env: dict, says: str, fails: bool) -> None:
    found = doctor(kiosk_dir, **env)
    assert says in found.stdout, found.stdout
    assert found.returncode == (1 if fails else 0)


def test_doctor_finds_a_damaged_database(kiosk_dir: Path) -> None:
    with open(kiosk_dir / "campus-edge.db", "r+b") as db:
        db.seek(4096)
        db.write(b"\xff" * 8192)  # a torn page, as a power cut on a bad card leaves
    found = doctor(kiosk_dir)
    assert found.returncode == 1
    assert "✖ database: 数据库已损坏" in found.stdout
    assert "恢复最近的备份" in found.stdout


def test_doctor_tells_a_refused_token(kiosk_dir: Path, make_node: Callable[..., Node]) -> None:
    with LiveServer(make_node()) as hub:
        found = doctor(kiosk_dir, "--lang", "en", CAMPUS_EDGE_UPSTREAM=hub.url,
                       CAMPUS_EDGE_DEVICE_TOKEN="dev1.not-registered")  # noqa: S106 # fmt: skip
        assert found.returncode == 1
        assert "✖ upstream: the hub refused this kiosk's device token" in found.stdout
        token = hub.node.ledger.add_device("kiosk-x")
        mixed = doctor(kiosk_dir, "--lang", "en", CAMPUS_EDGE_UPSTREAM=hub.url,
                       CAMPUS_EDGE_DEVICE_TOKEN=token)  # fmt: skip
        assert "but the token belongs to 'kiosk-x'" in mixed.stdout


def test_doctor_asks_the_running_service_about_its_readers(kiosk_dir: Path) -> None:
    service = Service(kiosk_dir, "--reader", "K1=serial:/dev/ttyGONE:rdm6300")
    service.start()
    try:
        found = doctor(kiosk_dir, CAMPUS_EDGE_PORT=str(service.port))
        assert "✔ service: 正在运行（kiosk gate-1）" in found.stdout
        assert "✖ reader K1: serial:/dev/ttyGONE:rdm6300 离线" in found.stdout
        assert found.returncode == 1
    finally:
        service.stop()


def test_metrics_for_prometheus(server: LiveServer) -> None:
    for who in ("S1", "S2", "S1", "DEADBEEF"):
        httpx.post(
            f"{server.url}/api/v1/sim/taps", json={"station": "K1", "uid": CARD.get(who, who)}
        )
    assert httpx.get(f"{server.url}/metrics").status_code == 401
    teacher = {"authorization": f"Bearer {server.token('T1')}"}
    assert httpx.get(f"{server.url}/metrics", headers=teacher).status_code == 403
    admin = {"authorization": f"Bearer {server.token('A1')}"}
    reply = httpx.get(f"{server.url}/metrics", headers=admin)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = reply.text
    assert 'campus_edge_taps_total{station="K1",outcome="accepted"} 2\n' in text
    assert 'campus_edge_taps_total{station="K1",outcome="ignored"} 1\n' in text  # debounced
    assert 'campus_edge_refusals_total{code="unknown_card"} 1\n' in text
    assert 'campus_edge_reader_up{station="K1"} 1\n' in text
    assert re.search(r"^campus_edge_disk_free_bytes \d+$", text, re.M)
    for line in text.splitlines():  # the exposition format, line by line
        assert re.fullmatch(r"# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?[0-9.e+]+", line), line


def test_metrics_with_the_scrape_token(make_node: Callable[..., Node]) -> None:
    node = make_node()
    node.settings.metrics_token = "scrape-me"  # noqa: S105 - a test's own token
    with LiveServer(node) as server:
        reply = httpx.get(f"{server.url}/metrics",
                          headers={"authorization": "Bearer scrape-me"})  # fmt: skip
        assert reply.status_code == 200
        assert "campus_edge_roster_version 1" in reply.text


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify"))
    sock.settimeout(15)
    yield sock
    sock.close()


def test_the_service_tells_systemd_it_is_ready_and_feeds_the_watchdog(
    kiosk_dir: Path, notify_socket: socket.socket
) -> None:
    env = {"NOTIFY_SOCKET": notify_socket.getsockname(), "WATCHDOG_USEC": "400000",
           "JOURNAL_STREAM": "8:1234"}  # fmt: skip
    service = Service(kiosk_dir, env=env)
    service.start()
    try:
        ours = ("READY=", "WATCHDOG=", "STOPPING=")  # libsystemd in-process may add ERRNO=
        messages: list[str] = []
        while len(messages) < 3:
            message = notify_socket.recv(4096).decode()
            if message.startswith(ours):
                messages.append(message)
        assert messages[0].startswith("READY=1\nSTATUS=campus-edge kiosk 'gate-1' on http")
        assert messages[1:] == ["WATCHDOG=1", "WATCHDOG=1"]  # every 0.2 s while healthy
    finally:
        service.stop()
    while (last := notify_socket.recv(4096).decode()) != "STOPPING=1" and last.startswith(
        ("WATCHDOG=", "ERRNO=")
    ):
        pass
    assert last == "STOPPING=1"
    logged = (kiosk_dir / "serve.log").read_text()
    assert re.search(r"^<[0-7]>edge\.", logged, re.M), logged  # journald priorities


def test_a_wedged_writer_starves_the_watchdog(
    monkeypatch: pytest.MonkeyPatch, notify_socket: socket.socket
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", notify_socket.getsockname())
    healthy = [True]
    dog = systemd.Watchdog(lambda: healthy[0], 0.05)
    dog.start()
    assert notify_socket.recv(100) == b"WATCHDOG=1"
    healthy[0] = False
    time.sleep(0.3)
    dog.stop()
    notify_socket.settimeout(0.2)
    drained = 0
    try:
        while notify_socket.recv(100):
            drained += 1
    except TimeoutError:
        pass
    assert drained <= 1  # at most the ping already under way
    assert dog.missed >= 3


def test_daily_backups_keep_only_the_newest(kiosk_dir: Path) -> None:
    folder = kiosk_dir / "backups"
    for _ in range(3):
        cli(kiosk_dir, "backup", str(folder), "--keep", "2")
    copies = sorted(folder.glob("campus-edge-*.db"))
    assert len(copies) == 2
    for copy in copies:
        with sqlite3.connect(copy) as db:
            assert db.execute("SELECT MAX(version) FROM roster_versions").fetchone()[0] == 1


def test_healthz_warns_before_the_card_is_full(make_node: Callable[..., Node]) -> None:
    node = make_node()
    with LiveServer(node) as server:
        assert httpx.get(f"{server.url}/healthz").json()["disk"]["low"] is False
        node.settings.min_free_mb = 10**9
        disk = httpx.get(f"{server.url}/healthz").json()["disk"]
        assert disk["low"] is True
        assert disk["free_mb"] > 0


def test_doctor_on_a_new_kiosk_without_a_roster(tmp_path: Path) -> None:
    empty = doctor(tmp_path / "new")
    assert "⚠ database: " in empty.stdout
    assert "还不存在" in empty.stdout
    cli(tmp_path / "new", "device", "list")  # creates the database, no roster yet
    bare = doctor(tmp_path / "new", "--lang", "en")
    assert "⚠ database: the database is sound but holds no roster" in bare.stdout
