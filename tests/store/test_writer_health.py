"""The tap writer never falls silent: it survives a bad item, and a death is loud.

Every queued tap gets an answer. One tap that cannot be decided is refused on its own
(4xx); the rest of its batch commits. A writer thread that dies anyway fails every
waiting and later tap at once, /healthz says so (503, ``writer_dead``), doctor names
it, the station screens say 请重新刷卡 / tap again, and the watchdog stops being fed.
"""

from __future__ import annotations

import concurrent.futures
import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from edge.cli import doctor
from edge.errors import StorageError, TapError
from edge.node import Node
from edge.school import roster as roster_mod
from edge.writer import TapResult
from tests import roster_files
from tests.roster_files import CARD
from tests.servers import LiveServer, local


def present(node: Node, station: str, who: str) -> concurrent.futures.Future[TapResult]:
    return node.writer.submit_nowait(node.writer.make_tap(station, CARD[who]))


def hold(node: Node) -> threading.Event:
    """Keep the writer busy until the returned event is set (taps queue meanwhile)."""
    gate, busy = threading.Event(), threading.Event()

    def wait(conn: sqlite3.Connection) -> None:
        busy.set()
        gate.wait(timeout=10)

    node.writer.call(wait, in_transaction=False)
    busy.wait(timeout=5)
    return gate


def test_a_failing_look_at_the_roster_does_not_silence_the_writer(
    make_node: Callable[..., Node],
) -> None:
    node = make_node()
    assert present(node, "K1", "S1").result(timeout=5).event.outcome == "accepted"
    # Another process leaves the database half-changed: the writer's look for a new
    # roster (after every commit by another connection) fails.
    with sqlite3.connect(node.settings.database) as conn:
        conn.execute("ALTER TABLE roster_versions RENAME TO roster_versions_old")
    try:
        answer = present(node, "K1", "S2").result(timeout=5)
        assert answer.event.subject_id == "S2"
        assert node.ledger.verify() == (2, [])
    finally:
        with sqlite3.connect(node.settings.database) as conn:
            conn.execute("ALTER TABLE roster_versions_old RENAME TO roster_versions")


def test_one_tap_at_a_station_just_removed_fails_alone(
    make_node: Callable[..., Node], tmp_path: Path
) -> None:
    node = make_node()
    gate = hold(node)
    taps = [present(node, "K1", "S1"), present(node, "K2", "S5"), present(node, "K1", "S2")]
    # A roster swap between queueing and commit removes station K2.
    stations = roster_files.FILES["stations.csv"].replace("K2,实验室,classroom,G2\n", "")
    smaller = roster_files.write(tmp_path / "smaller", **{"stations.csv": stations})
    node.ledger.save_roster(roster_mod.load(smaller, version=2), "test")
    gate.set()
    assert taps[0].result(timeout=5).event.subject_id == "S1"
    assert taps[2].result(timeout=5).event.subject_id == "S2"
    with pytest.raises(TapError, match="station 'K2' is not in the roster") as refused:
        taps[1].result(timeout=5)
    assert 400 <= refused.value.status < 500
    assert node.ledger.verify() == (2, [])


def kill_the_writer(node: Node) -> list[concurrent.futures.Future[TapResult]]:
    """Make the writer thread die after a commit, with two taps still queued behind it."""
    gate, dying = threading.Event(), threading.Event()

    def die(results: list[TapResult]) -> None:
        dying.set()
        gate.wait(timeout=5)
        raise SystemExit("the writer thread ends here")  # what no per-item guard catches

    node.writer.listen(die)
    first = present(node, "K1", "S1")
    dying.wait(timeout=5)
    queued = [present(node, "K1", "S2"), present(node, "P1", "P1")]
    gate.set()
    first.result(timeout=5)  # committed before the listener ran
    return queued


def test_a_dead_writer_answers_every_tap_and_says_so_everywhere(
    make_node: Callable[..., Node], monkeypatch: pytest.MonkeyPatch
) -> None:
    node = make_node()
    with LiveServer(node) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/healthz").json()["status"] == "ok"
        with client.stream("GET", "/api/v1/stations/K1/stream") as stream:
            lines = stream.iter_lines()
            assert next(lines).startswith("retry")
            queued = kill_the_writer(node)
            for future in queued:  # the taps waiting behind it get an answer at once
                with pytest.raises(StorageError, match="tap again"):
                    future.result(timeout=5)
            with pytest.raises(StorageError, match="请重新刷卡 / tap again"):
                present(node, "K1", "S3").result(timeout=5)  # and so does every later one
            seen = []
            for line in lines:
                if line.startswith("data:"):
                    seen.append(json.loads(line[5:]))
                    if seen[-1].get("type") == "fault":
                        break
        assert seen[-1]["code"] == "writer_dead"
        assert "请重新刷卡" in seen[-1]["message"]
        assert "tap again" in seen[-1]["message_en"]
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "writer_dead"
        assert "tap writer" in health.json()["detail"]
        tapped = client.post(
            "/api/v1/sim/taps",
            json={"station": "K1", "uid": CARD["S3"], "at": local("15:31").isoformat()},
        )
        assert tapped.status_code == 503
        assert "请重新刷卡 / tap again" in tapped.json()["detail"]
        assert not node.responsive(timeout=1)  # so the watchdog goes unfed
        monkeypatch.setattr(node.settings, "port", server.port)
        found = {c.name: c for c in doctor.run(node.settings, timeout=5)}
        assert found["service"].status == doctor.FAIL
        assert "tap writer" in found["service"].en


def test_a_tap_whose_caller_gave_up_does_not_stop_the_writer(
    make_node: Callable[..., Node],
) -> None:
    # An HTTP client that disconnects mid-tap cancels the future the writer answers.
    node = make_node()
    gate = hold(node)
    given_up = present(node, "K1", "S1")
    assert given_up.cancel()
    gate.set()
    assert present(node, "K1", "S2").result(timeout=5).event.subject_id == "S2"
    assert node.writer.dead is None
    assert node.ledger.verify() == (2, [])  # the abandoned tap was recorded all the same


def test_an_event_the_hub_would_refuse_is_not_written_and_fails_alone(
    make_node: Callable[..., Node],
) -> None:
    # A card number padded with 100 separators still names S2's card, but a record
    # holding that raw text is one the campus hub refuses (uid over 64 characters): it
    # would stall this kiosk's chain there for good. It is refused here, alone.
    node = make_node()
    gate = hold(node)
    padded = CARD["S2"][0] + "-" * 100 + CARD["S2"][1:]
    taps = [
        present(node, "K1", "S1"),
        node.writer.submit_nowait(node.writer.make_tap("K1", padded)),
        present(node, "K1", "S3"),
    ]
    gate.set()
    assert taps[0].result(timeout=5).event.seq == 1
    assert taps[2].result(timeout=5).event.seq == 2  # no gap where the refused one was
    with pytest.raises(TapError, match="campus hub") as refused:
        taps[1].result(timeout=5)
    assert refused.value.status == 422
    assert node.ledger.verify() == (2, [])
