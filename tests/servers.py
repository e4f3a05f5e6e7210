"""Servers and helpers the tests share: a real uvicorn in a thread, ports, waiting.

Plain functions and classes (the fixtures are in conftest.py). A test imports them
from here; nothing here needs a browser.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections.abc import Callable
from typing import Self
from zoneinfo import ZoneInfo

import uvicorn

from edge.http.app import create_app
from edge.node import Node
from edge.school import auth
from tests import roster_files

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(hhmm: str, day: dt.date = roster_files.TODAY) -> dt.datetime:
    """Return a school-local moment on the test day, e.g. local('16:05:30')."""
    parts = [int(p) for p in hhmm.split(":")]
    return dt.datetime(day.year, day.month, day.day, *parts, tzinfo=SHANGHAI)


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
