# ruff: noqa: F811 - pytest fixtures imported from the gate and patrol tests
"""The gate register and patrol after an attack on issue 17: what a stolen disk, a
teenager's spelling or a child at an empty classroom's screen could do."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from edge.clock import ManualClock
from edge.node import Node
from edge.school import auth, gate
from tests.http.test_gate import (  # noqa: F401 - fixtures
    VISITOR_ID,
    X1_CARD,
    as_staff,
    bundle,
    client,
    server,
    tap,
    visitor,
)  # fmt: skip
from tests.http.test_patrol import bearer, custodian, patrolled  # noqa: F401 - fixture
from tests.http.test_patrol import tap as patrol_tap
from tests.servers import LiveServer, local


def test_a_stolen_disk_does_not_give_back_a_visitors_id_number_in_seconds(
    server: LiveServer, client: httpx.Client
) -> None:
    # The disk holds the hash, the last 4 and school.toml (its key): trying every
    # birthday of one district is what a thief would do. It used to take a second.
    assert client.post("/api/v1/visitors", json=visitor(),
                       headers=as_staff(server, "GU")).status_code == 201  # fmt: skip
    db = sqlite3.connect(server.node.ledger.path)
    toml = db.execute("SELECT school_toml FROM roster_versions ORDER BY version DESC").fetchone()[0]
    data = next(json.loads(r[0]) for r in db.execute("SELECT data FROM events")
                if r[0] and "document_hash" in r[0])  # fmt: skip
    db.close()
    key = gate.document_key(toml)
    fast = hmac.new(key, b"document:" + VISITOR_ID.encode(), hashlib.sha256).hexdigest()
    assert data["document_hash"] != fast  # not the fast keyed hash
    started = time.perf_counter()
    assert gate.document_hash(key, VISITOR_ID) == data["document_hash"]
    per_try = time.perf_counter() - started
    assert per_try > 0.01  # a year of birthdays in one district: minutes, not a second


@pytest.mark.parametrize("name", ["钱-某", "钱_某", "钱·某", "钱 某"])
def test_a_banned_name_written_with_a_mark_between_still_raises_the_alert(
    server: LiveServer, client: httpx.Client, name: str
) -> None:
    reply = client.post("/api/v1/visitors", json=visitor(name=name, document_no=None),
                        headers=as_staff(server, "GU"))  # fmt: skip
    assert reply.status_code == 201, reply.text
    assert reply.json()["alert"] is not None


def test_a_visitor_whose_name_shows_nothing_is_refused(
    server: LiveServer, client: httpx.Client
) -> None:
    reply = client.post("/api/v1/visitors", json=visitor(name="\u200b\u200b"),
                        headers=as_staff(server, "GU"))  # fmt: skip
    assert reply.status_code == 422
    assert "name" in reply.json()["detail"]


def test_an_outside_instructors_token_ends_with_the_contract(
    make_node: Callable[..., Node],
    bundle: Path,  # noqa: F811 - fixture
) -> None:
    node = make_node(clock=ManualClock(local("20:00", dt.date(2026, 11, 30))))
    token = auth.issue(node.secret, "X1", "teacher", node.clock.now(), 12)
    with LiveServer(node) as live, httpx.Client(base_url=live.url, timeout=10) as c:
        headers = {"authorization": f"Bearer {token}"}
        assert c.get("/api/v1/signin", headers=headers).status_code == 200  # the last day
        node.clock.set(local("07:30", dt.date(2026, 12, 1)))
        assert tap(c, "K2", X1_CARD, local("07:31", dt.date(2026, 12, 1)))["code"] == (
            "contract_ended"
        )
        refused = c.get("/api/v1/signin", headers=headers)
        assert refused.status_code == 401
        assert "外聘" in refused.json()["detail"]


def test_a_patrol_visit_cannot_be_confirmed_after_its_patroller_moved_on(
    patrolled: tuple[LiveServer, ManualClock],  # noqa: F811 - fixture
) -> None:
    live, clock = patrolled
    leader = bearer(live, "L1")
    with httpx.Client(base_url=live.url, timeout=10) as client:
        patrol_tap(client, "K1", "S1", "15:40")
        patrol_tap(client, "K1", "T1", "15:45")
        clock.set(local("16:05"))
        seen = patrol_tap(client, "K1", "L1")
        assert seen["kind"] == "patrol_visit"
        clock.set(local("16:05").replace(second=20))
        assert patrol_tap(client, "K2", "L1")["kind"] == "patrol_visit"  # now at K2
        clock.set(local("16:05").replace(second=50))
        reply = client.post("/api/v1/stations/K1/patrol-confirm",
                            json={"event_id": seen["event_id"]})  # fmt: skip
        assert reply.json().get("code") != "patrol_custody_taken", reply.text
        assert reply.status_code == 409, reply.text  # nothing waits there: it moved on
        assert "no patrol visit waits" in reply.json()["detail"]
        assert custodian(client, leader, "S1") == "T1"  # the teacher keeps the group
