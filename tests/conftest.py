from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Self
from zoneinfo import ZoneInfo

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from edge.clock import ManualClock
from edge.http.app import create_app
from edge.node import Node
from edge.school import auth
from edge.school import roster as roster_mod
from edge.settings import Settings
from edge.store.ledger import Ledger
from tests import roster_files

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(hhmm: str, day: dt.date = roster_files.TODAY) -> dt.datetime:
    """Return a school-local moment on the test day, e.g. local('16:05:30')."""
    parts = [int(p) for p in hhmm.split(":")]
    return dt.datetime(day.year, day.month, day.day, *parts, tzinfo=SHANGHAI)


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return roster_files.write(tmp_path / "roster")


@pytest.fixture
def roster(bundle: Path) -> roster_mod.Roster:
    return roster_mod.load(bundle, version=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThreadedServer:
    """A real uvicorn server in a thread of the test process; a context manager."""

    server: uvicorn.Server
    thread: threading.Thread

    def _serve(self, config: uvicorn.Config) -> None:
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


class LiveServer(ThreadedServer):
    """The service's app on a loopback port, in a thread."""

    def __init__(self, node: Node, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.node = node
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._serve(
            uvicorn.Config(
                create_app(node),
                host=host,
                port=self.port,
                log_level="warning",
                lifespan="off",
                timeout_graceful_shutdown=1,
            )
        )

    def token(self, staff_id: str) -> str:
        member = self.node.roster.staff[staff_id]
        return auth.issue(self.node.secret, staff_id, member.role, self.node.clock.now(), 12)


@pytest.fixture
def make_node(tmp_path: Path, bundle: Path) -> Iterator[Callable[..., Node]]:
    nodes: list[Node] = []

    def make(
        *,
        simulate: bool = True,
        clock: ManualClock | None = None,
        roster_dir: Path | None = None,
        data_dir: Path | None = None,
        readers: list[str] | None = None,
        node_id: str | None = None,
        escalate: bool = False,
    ) -> Node:
        # Late pickups pass to the guard by a background loop; tests that move the clock
        # past the service end ask for it (escalate=True), the rest keep it off.
        settings = Settings(
            data_dir=data_dir or tmp_path / f"node{len(nodes)}",
            node_id=node_id or f"kiosk-{len(nodes)}",
            simulate=simulate,
            readers=readers or [],
            escalate=escalate,
        )
        ledger = Ledger(settings.database, settings.node_id)
        if ledger.roster_version() == 0:
            ledger.save_roster(roster_mod.load(roster_dir or bundle, version=1), "test")
        node = Node(settings, clock or ManualClock(local("15:30")))
        node.writer.clock_synced = True
        node.start()
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.stop()


@pytest.fixture
def server(make_node: Callable[..., Node]) -> Iterator[LiveServer]:
    with LiveServer(make_node()) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait until ``condition()`` holds, failing the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {condition}")
        time.sleep(0.01)


# Browsers: Playwright driving Debian's Chromium (no browser downloads here).
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run",
         "--autoplay-policy=no-user-gesture-required"]  # fmt: skip


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install chromium"
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1024, "height": 600}, locale="zh-CN")
    opened = context.new_page()
    yield opened
    context.close()
