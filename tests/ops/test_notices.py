"""Parent notices to a school's webhook: a real receiver that fails, goes away and recovers."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from edge import notices
from edge.clock import ManualClock
from edge.node import Node
from edge.school import roster as roster_mod
from edge.settings import Settings
from edge.store.ledger import Ledger
from tests import roster_files
from tests.fault_proxy import read_body
from tests.roster_files import CARD
from tests.servers import ThreadedServer, free_port, local, wait_for

SECRET = "s3cret-for-the-gateway"  # noqa: S105 - a test gateway's


class Receiver(ThreadedServer):
    """A school's gateway: records what it is sent, answers as told."""

    def __init__(self, port: int, got: list[dict], answers: list[int]) -> None:
        self.port, self.got, self.answers = port, got, answers

        async def app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
            body = await read_body(receive)
            headers = {k.decode(): v.decode() for k, v in scope["headers"]}
            status = self.answers.pop(0) if self.answers else 200
            self.got.append({"status": status, "headers": headers, "body": body})
            await send({"type": "http.response.start", "status": status, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        self._serve(uvicorn.Config(app, port=port, log_level="warning", lifespan="off"))


def hub_with_notices(tmp_path: Path, port: int) -> Node:
    """A hub with notices on to a gateway at ``port``, its roster imported, not started."""
    settings = Settings(
        data_dir=tmp_path / "hub", node_id="hub-1", simulate=True, readers=[],
        webhook_url=f"http://127.0.0.1:{port}/notices", webhook_secret=SECRET,
    )  # fmt: skip
    bundle = roster_files.write(tmp_path / "roster")
    Ledger(settings.database, "hub-1").save_roster(roster_mod.load(bundle, version=1), "test")
    return Node(settings, ManualClock(local("15:30")))


@pytest.fixture
def node(tmp_path: Path) -> Iterator[tuple[Node, int]]:
    port = free_port()
    node = hub_with_notices(tmp_path, port)
    node.start()
    assert node.notifier is not None
    node.notifier.backoff_start = node.notifier.backoff = 0.2
    yield node, port
    node.stop()


def tap(node: Node, station: str, who: str, at: str) -> str:
    result = node.writer.submit_nowait(node.writer.make_tap(station, CARD[who], local(at)))
    return result.result(timeout=10).event.event_id


def delivered(got: list[dict]) -> list[dict]:
    return [json.loads(g["body"]) for g in got if g["status"] == 200]


def test_notices_reach_the_gateway_once_in_order_through_failures(
    node: tuple[Node, int],
) -> None:
    hub, port = node
    got: list[dict] = []
    with Receiver(port, got, answers=[503, 503]):
        signed_in = tap(hub, "K1", "S1", "15:40")
        tap(hub, "P1", "P1", "16:30")
        released = tap(hub, "P1", "S1", "16:30:05")
        wait_for(lambda: len(delivered(got)) == 2, timeout=20)
    notices = delivered(got)
    assert [n["notice_id"] for n in notices] == [signed_in, released]  # in order, each once
    assert [g["status"] for g in got] == [503, 503, 200, 200]  # the first retried, not skipped
    first = got[2]
    stamp = first["headers"]["x-campus-edge-timestamp"]
    mac = hmac.new(SECRET.encode(), f"{stamp}.".encode() + first["body"], hashlib.sha256)
    assert first["headers"]["x-campus-edge-signature"] == "sha256=" + mac.hexdigest()
    assert first["headers"]["x-campus-edge-notice"] == signed_in
    assert notices[0]["type"] == "signed_in"
    assert notices[0]["student"] == {"student_id": "S1", "name": "小明", "class": "一年级1班"}
    assert notices[0]["group"] == "一年级看护组"
    assert notices[1]["collected_by"] == {"kind": "guardian", "name": "王妈妈", "relation": "母亲"}
    assert notices[1]["where"] == "东门接送点"
    assert notices[1]["at"] == "2026-11-23T16:30:05+08:00"
    # The gateway is down for a while: the notice waits and goes once it is back.
    later = tap(hub, "K1", "S2", "15:50")
    wait_for(lambda: hub.notifier.last_error is not None, timeout=10)
    assert "ConnectError" in hub.notifier.last_error
    again: list[dict] = []
    with Receiver(port, again, answers=[400]):  # back, but refusing the first for good
        tap(hub, "K1", "S4", "15:55")
        wait_for(lambda: len(delivered(again)) == 1, timeout=20)
        time.sleep(1.5)  # the notifier polls every second: nothing more comes
    assert json.loads(again[0]["body"])["notice_id"] == later  # refused (400), not retried
    assert hub.ledger.notice(later)["status"] == 400
    assert [g["status"] for g in again] == [400, 200]  # and nothing sent twice
    # At the service end, a child still here is a "not collected" notice, once.
    hub.clock.set(local("18:01"))  # type: ignore[attr-defined]
    final: list[dict] = []
    with Receiver(port, final, answers=[]):
        wait_for(lambda: len(delivered(final)) == 2, timeout=20)
        time.sleep(1.5)
    assert len(final) == 2  # once each
    late = sorted((n["type"], n["student"]["student_id"]) for n in delivered(final))
    assert late == [("not_collected", "S2"), ("not_collected", "S4")]
    assert delivered(final)[0]["service_end"] == "2026-11-23T18:00:00+08:00"


def test_turning_notices_on_sends_no_old_news(tmp_path: Path) -> None:
    bundle = roster_files.write(tmp_path / "roster")
    data = tmp_path / "hub"
    Ledger(data / "campus-edge.db", "hub-1").save_roster(roster_mod.load(bundle, version=1), "t")
    old = Node(Settings(data_dir=data, node_id="hub-1", simulate=True, readers=[]),
               ManualClock(local("15:30")))  # fmt: skip
    old.start()
    tap(old, "K1", "S1", "15:40")
    old.stop()
    port = free_port()
    settings = Settings(data_dir=data, node_id="hub-1", simulate=True, readers=[],
                        webhook_url=f"http://127.0.0.1:{port}/", webhook_secret=SECRET)  # fmt: skip
    node = Node(settings, ManualClock(local("15:45") + dt.timedelta(days=1)))
    node.start()
    try:
        got: list[dict] = []
        with Receiver(port, got, answers=[]):
            new = node.writer.submit_nowait(
                node.writer.make_tap("K1", CARD["S2"], node.clock.now())
            ).result(timeout=10)
            wait_for(lambda: len(delivered(got)) == 1, timeout=20)
        assert [n["notice_id"] for n in delivered(got)] == [new.event.event_id]
    finally:
        node.stop()


def kill_writer(node: Node) -> None:
    def crash(conn: object) -> None:
        raise SystemExit("the writer thread dies, as on a bug")

    with pytest.raises(BaseException):  # noqa: B017, PT011 - whatever the crash raises
        node.writer.call(crash).result(timeout=5)
    wait_for(lambda: node.writer.dead is not None)


def test_a_dead_writer_sends_no_notice_twice(node: tuple[Node, int]) -> None:
    hub, port = node
    got: list[dict] = []
    with Receiver(port, got, answers=[503]):  # the gateway fails the first try
        signed_in = tap(hub, "K1", "S1", "15:40")
        wait_for(lambda: len(got) == 1, timeout=20)
        kill_writer(hub)  # nothing can be recorded from now on
        time.sleep(2.0)  # the notifier's retries are due every 0.2 s
    # Sent now, its delivery could not be recorded, and it would go again and again.
    assert [json.loads(g["body"])["notice_id"] for g in got] == [signed_in]


def test_a_node_whose_writer_cannot_start_still_starts_with_notices_on(tmp_path: Path) -> None:
    node = hub_with_notices(tmp_path, free_port())

    def unopenable() -> None:
        raise OSError("the card cannot be written")

    node.ledger.writer = unopenable  # type: ignore[method-assign,assignment]
    node.start()  # up, so /healthz can say writer_dead and the screens the fault
    try:
        wait_for(lambda: node.writer.dead is not None)
        assert node.notifier is not None  # and it starts the cursor once the writer can
        assert node.ledger.meta(notices.CURSOR) is None
    finally:
        node.stop()
