"""Fixtures every test package shares: a roster bundle, real nodes, a live server.

The browser's fixtures are in tests/browser/conftest.py, so only those tests need
Playwright.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from edge.clock import ManualClock
from edge.node import Node
from edge.school import roster as roster_mod
from edge.settings import Settings
from edge.store.ledger import Ledger
from tests import roster_files
from tests.servers import LiveServer, local


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    return roster_files.write(tmp_path / "roster")


@pytest.fixture
def roster(bundle: Path) -> roster_mod.Roster:
    return roster_mod.load(bundle, version=1)


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
