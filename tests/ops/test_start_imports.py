"""What a serving node holds in memory from its start: not what only some requests need.

A Pi has little memory, and a node keeps running all afternoon: the Excel writer, the
database driver of the central, the signing library of passes and sync, the roster
importer's bulk loader and the reports come in when first used, not at start. Seen from
outside, as Python reports each import of the real `campus-edge serve` process
(PYTHONPROFILEIMPORTTIME, to the service's log).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edge.school import roster as roster_mod
from tests.services import Service, imported_campus

# What only some requests or commands need, and who needs it.
LATER = {
    "openpyxl": "an Excel report or an .xlsx roster",
    "psycopg": "the central",
    "psycopg_pool": "the central",
    "cryptography": "a pass, a staff action's proof, or sync",
    "sqlite_utils": "a roster import",
    "httpx": "sync to an upstream, or parent notices",
    "websockets": "nothing: the screens use Server-Sent Events",
    "edge.reports.attendance": "a report",
    "edge.reports.workload": "a report",
    "edge.reports.supervision": "a report",
    "edge.sync.client": "sync to an upstream",
}


def imported(log: Path) -> set[str]:
    """Return every module the process imported so far, as its log lists them."""
    found = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", log.read_text(), re.M)
    return set(found)


@pytest.fixture(scope="module")
def service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Service, roster_mod.Roster]]:
    root = tmp_path_factory.mktemp("start")
    bundle = imported_campus(root, students=300, seed=5)
    node = Service(root / "data", env={"PYTHONPROFILEIMPORTTIME": "1"})
    node.start()
    yield node, roster_mod.load(bundle, version=1)
    node.stop()


def test_a_started_node_has_not_imported_what_only_some_requests_need(
    service: tuple[Service, roster_mod.Roster],
) -> None:
    node, _ = service
    modules = imported(node.data_dir / "serve.log")
    assert {"edge.node", "uvicorn"} <= modules  # the log does list the imports
    early = {name: why for name, why in LATER.items() if name in modules}
    assert early == {}, f"imported at start, though only needed for: {early}"


def test_what_comes_later_comes_when_first_asked_for(
    service: tuple[Service, roster_mod.Roster],
) -> None:
    node, roster = service
    leader = next(s.staff_id for s in roster.staff.values() if s.role == "duty_leader")
    group = next(iter(roster.groups))
    headers = {"authorization": f"Bearer {node.token(leader)}"}
    answer = httpx.get(
        f"{node.url}/api/v1/reports/supervision",
        params={"group": group, "format": "xlsx"},
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.content[:2] == b"PK"  # an .xlsx workbook
    modules = imported(node.data_dir / "serve.log")
    assert {"openpyxl", "edge.reports.supervision"} <= modules
    # the report modules' names are the package's reports again (edge.reports.__getattr__)
    again = httpx.get(
        f"{node.url}/api/v1/reports/supervision", params={"group": group}, headers=headers
    )
    assert again.status_code == 200
    assert again.json()["tables"]
