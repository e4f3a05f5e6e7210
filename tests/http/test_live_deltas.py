"""The dashboard live by deltas (README, "The dashboard's live stream"): the picture once,
then the changes.

Real servers, real SSE clients (httpx streaming in a thread), the real ledger.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from edge.clock import ManualClock
from edge.node import Node
from edge.projection import picture
from edge.school.fold import fold
from tests.chains import staff_proof
from tests.roster_files import CARD, TODAY
from tests.servers import LiveServer, local

# What presence carries beside the picture the old code built: the stream cursor, the
# picture's generation and who came in through the gate (the gate register).
NOT_PICTURE = frozenset({"cursor", "visitors", "visitors_inside", "generation"})


class Stream:
    """A dashboard's EventSource: reads SSE events in a thread into a queue."""

    def __init__(
        self, url: str, token: str, cursor: int | str | None = None, last_id: str | None = None
    ) -> None:
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.status: int | None = None
        self._opened = threading.Event()
        params: dict[str, Any] = {"token": token}
        if cursor is not None:
            params["cursor"] = str(cursor)
        headers = {"Last-Event-ID": last_id.encode()} if last_id is not None else {}
        self._client = httpx.Client(timeout=httpx.Timeout(10, read=60))
        self._args = (f"{url}/api/v1/stream", params, headers)
        threading.Thread(target=self._run, daemon=True).start()
        assert self._opened.wait(10), "the stream did not open"

    def _run(self) -> None:
        url, params, headers = self._args
        try:
            with self._client.stream("GET", url, params=params, headers=headers) as reply:
                self.status = reply.status_code
                self._opened.set()
                if reply.status_code != 200:
                    return
                event: dict[str, Any] = {}
                for line in reply.iter_lines():
                    if not line:
                        if "event" in event:
                            self.events.put(event)
                        event = {}
                    elif not line.startswith(":"):
                        key, _, value = line.partition(": ")
                        event[key] = orjson.loads(value) if key == "data" else value
        except httpx.HTTPError:
            return  # closed under it
        finally:
            self._opened.set()

    def next(self, *names: str, timeout: float = 5.0) -> dict[str, Any]:
        """Return the next event of one of these names (others are passed over)."""
        while True:
            event = self.events.get(timeout=timeout)
            if not names or event["event"] in names:
                return event

    def close(self) -> None:
        self._client.close()


def tap(client: httpx.Client, station: str, who: str, at: str | None = None) -> dict:
    body = {"station": station, "uid": CARD.get(who, who)}
    if at:
        body["at"] = local(at).isoformat()
    reply = client.post("/api/v1/sim/taps", json=body)
    assert reply.status_code == 200, reply.text
    return reply.json()


def presence(client: httpx.Client, token: str) -> dict[str, Any]:
    reply = client.get("/api/v1/presence", headers={"authorization": f"Bearer {token}"})
    assert reply.status_code == 200, reply.text
    return reply.json()


def apply(picture: dict[str, Any], delta: dict[str, Any]) -> None:
    """Apply a delta as the dashboard does: replace entries by id, take counts and late."""
    assert delta["date"] == picture["date"]
    students = {e["student_id"]: e for e in picture["students"]}
    for entry in delta["students"]:
        if entry["state"] is None:
            students.pop(entry["student_id"], None)
        else:
            students[entry["student_id"]] = entry
    picture["students"] = list(students.values())
    groups = {g["group_id"]: g for g in picture["groups"]}
    groups.update({g["group_id"]: g for g in delta["groups"]})
    picture["groups"] = list(groups.values())
    picture["counts"], picture["late"], picture["cursor"] = (
        delta["counts"], delta["late"], delta["cursor"],
    )  # fmt: skip


def same(held: dict[str, Any], fresh: dict[str, Any]) -> None:
    """Assert a dashboard's picture equals a fresh answer (entries in any order)."""
    for key in ("students", "groups"):
        ident = "student_id" if key == "students" else "group_id"
        assert sorted(held[key], key=lambda e: e[ident]) == sorted(
            fresh[key], key=lambda e: e[ident]
        )
    assert (held["counts"], held["late"], held["cursor"]) == (
        fresh["counts"], fresh["late"], fresh["cursor"],
    )  # fmt: skip


def follow(stream: Stream, picture: dict[str, Any], upto: int) -> None:
    """Apply the stream's deltas to a picture until it reaches a cursor."""
    while picture["cursor"] < upto:
        delta = stream.next("delta", "reload")
        assert delta["event"] == "delta", delta
        assert int(delta["id"]) == delta["data"]["cursor"] > picture["cursor"]
        apply(picture, delta["data"])


def test_a_dashboard_gets_a_delta_per_tap_with_the_childs_entry(server: LiveServer) -> None:
    token = server.token("L1")
    with httpx.Client(base_url=server.url, timeout=10) as client:
        start = presence(client, token)
        stream = Stream(server.url, token, cursor=start["cursor"])
        try:
            hello = stream.next("hello")["data"]
            assert hello["cursor"] == start["cursor"]
            assert hello["date"] == TODAY.isoformat()
            answer = tap(client, "K1", "S1")
            delta = stream.next("delta")
            entry = delta["data"]["students"]
            assert [(e["student_id"], e["state"], e["group_id"]) for e in entry] == [
                ("S1", "present", "G1")
            ]
            assert delta["data"]["counts"]["present"] == 1
            assert [g["group_id"] for g in delta["data"]["groups"]] == ["G1"]
            assert delta["data"]["groups"][0]["present"] == 1
            now = presence(client, token)
            assert int(delta["id"]) == now["cursor"] > start["cursor"]
            assert entry[0] == next(e for e in now["students"] if e["student_id"] == "S1")
            assert answer["event_id"]
            # the sign-in code a staff tap gets never reaches the dashboard's stream
            tap(client, "K1", "T1")
            staff = stream.next("tap")
            while staff["data"]["kind"] != "custody_taken":
                staff = stream.next("tap")
            assert "signin_code" not in staff["data"]
            custody = stream.next("delta")["data"]
            assert custody["students"][0]["custodian_staff_id"] == "T1"
        finally:
            stream.close()


def test_the_kept_picture_equals_a_fresh_fold_after_a_mixed_afternoon(
    make_node: Callable[..., Node],
) -> None:
    # Taps, custody, a synced event from another node that sorts earlier, a correction,
    # a release: the dashboard's picture (the first answer + deltas) equals a fresh
    # presence answer, and that answer equals the old whole-campus fold, field for field.
    node = make_node()
    other = make_node(clock=ManualClock(local("15:20")))  # another kiosk, behind
    with LiveServer(node) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        token = server.token("L1")
        held = presence(client, token)
        stream = Stream(server.url, token, cursor=held["cursor"])
        try:
            stream.next("hello")
            tap(client, "K1", "S1")
            wrong = tap(client, "K1", "S2")
            tap(client, "K1", "T1")
            tap(client, "K2", "S5")
            early = other.writer.submit_nowait(other.writer.make_tap("K2", CARD["S3"]))
            synced = early.result(10).event
            node.writer.ingest([synced]).result(timeout=10)  # sorts before what is applied
            proof = staff_proof(node, "L1")
            node.writer.correct(wrong["event_id"], "L1", "wrong card", proof=proof).result(10)
            tap(client, "P1", "P1")
            tap(client, "P1", "S1")
            fresh = presence(client, token)
            follow(stream, held, fresh["cursor"])
            same(held, fresh)
            assert fresh["counts"]["present"] == 2  # S3 (synced), S5; S2 corrected, S1 gone
            assert {e["student_id"]: e["state"] for e in fresh["students"]}["S2"] == "expected"
        finally:
            stream.close()
        now = dt.datetime.fromisoformat(fresh["at"])
        old = picture(node.roster, fold(TODAY, node.ledger.events_of_day(TODAY)), now)
        kept = {k: v for k, v in fresh.items() if k not in NOT_PICTURE}
        assert kept == orjson.loads(orjson.dumps(old))
        assert fresh["cursor"] == node.ledger.last_rowid()


def test_the_service_end_reloads_once_and_the_picture_turns_overdue(
    make_node: Callable[..., Node],
) -> None:
    clock = ManualClock(local("17:59:50"))
    node = make_node(clock=clock)
    with LiveServer(node) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        token = server.token("L1")
        tap(client, "K1", "S1")
        held = presence(client, token)
        assert held["counts"]["overdue"] == 0
        stream = Stream(server.url, token, cursor=held["cursor"])
        try:
            stream.next("hello")
            clock.advance(seconds=20)
            server.node.live_clock._job()  # the clock's look, as every 5 s
            assert stream.next("reload", "delta")["data"] == {"reason": "service_end"}
            after = presence(client, token)
            assert after["counts"]["overdue"] == 1
            old = picture(node.roster, fold(TODAY, node.ledger.events_of_day(TODAY)), clock.now())
            assert {k: v for k, v in after.items() if k not in NOT_PICTURE} == orjson.loads(
                orjson.dumps(old)
            )
            server.node.live_clock._job()
            tap(client, "K1", "S2")
            assert stream.next("reload", "delta")["event"] == "delta"  # not a second reload
        finally:
            stream.close()


def test_a_reconnect_after_a_restart_gets_one_bridging_delta(
    make_node: Callable[..., Node], tmp_path: Any
) -> None:
    data = tmp_path / "restarted"
    first = make_node(data_dir=data, node_id="hub")
    with LiveServer(first) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        token = server.token("L1")
        held = presence(client, token)
        tap(client, "K1", "S1")
        tap(client, "K1", "S2")
    first.stop()
    again = make_node(data_dir=data, node_id="hub")
    with LiveServer(again) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        tap(client, "K2", "S5")
        fresh = presence(client, token)
        stream = Stream(server.url, token, last_id=str(held["cursor"]))
        try:
            assert stream.next()["event"] == "hello"
            bridge = stream.next()
            assert bridge["event"] == "delta"
            assert int(bridge["id"]) == fresh["cursor"]
            assert {e["student_id"] for e in bridge["data"]["students"]} == {"S1", "S2", "S5"}
            apply(held, bridge["data"])
            same(held, fresh)
            up_to_date = Stream(server.url, token, last_id=str(fresh["cursor"]))
            try:
                assert up_to_date.next()["data"]["cursor"] == fresh["cursor"]
                tap(client, "K2", "S4")
                assert up_to_date.next("delta", "reload")["event"] == "delta"
            finally:
                up_to_date.close()
        finally:
            stream.close()


def test_a_gap_that_cannot_be_bridged_gets_a_reload(
    make_node: Callable[..., Node],
) -> None:
    node = make_node()
    with LiveServer(node) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        token = server.token("L1")
        yesterday = tap(client, "K1", "S1", at=None)
        body = {"station": "K1", "uid": CARD["S2"],
                "at": (local("16:00") - dt.timedelta(days=1)).isoformat()}  # fmt: skip
        assert client.post("/api/v1/sim/taps", json=body).status_code == 200
        old_day = node.ledger.last_rowid()  # the event of another day
        tap(client, "K1", "S4")
        cursor = presence(client, token)["cursor"]
        for since, why in [(cursor + 1, "cursor"), (old_day, "cursor"), (cursor + 10**6, "cursor")]:
            stream = Stream(server.url, token, last_id=str(since))
            try:
                stream.next("hello")
                assert stream.next() == {"event": "reload", "data": {"reason": why}}
            finally:
                stream.close()
        assert yesterday["outcome"] == "accepted"
        roster, now = node.roster, node.clock.now()
        _, behind = node.projection.bridge(roster, TODAY, now, cursor - 2, most=1)
        assert behind is not None
        assert behind.kind == "reload"
        assert b"behind" in behind.data


@pytest.mark.parametrize(
    "hostile", ["-1", "9" * 30, "abc", "x" * 10_000, "1e5", "١٢", "3 4", "0x10", ""]
)
def test_a_hostile_last_event_id_gets_a_reload_or_a_4xx(server: LiveServer, hostile: str) -> None:
    token = server.token("L1")
    stream = Stream(server.url, token, last_id=hostile)
    try:
        assert stream.status is not None
        assert stream.status < 500
        if stream.status == 200:
            stream.next("hello")
            first = stream.next()
            assert first["event"] in ("reload", "delta")
            assert first["event"] == "reload"  # never read as some other cursor
            assert first["data"] == {"reason": "cursor"}
    finally:
        stream.close()


@pytest.mark.parametrize("hostile", ["-5", "abc", "1" * 41, "9" * 19])
def test_a_hostile_cursor_gets_a_reload_or_a_4xx(server: LiveServer, hostile: str) -> None:
    stream = Stream(server.url, server.token("L1"), cursor=hostile)
    try:
        assert stream.status is not None
        assert stream.status < 500
        if stream.status == 200:
            stream.next("hello")
            assert stream.next() == {"event": "reload", "data": {"reason": "cursor"}}
    finally:
        stream.close()


def test_the_stream_refuses_strangers_and_low_roles(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/api/v1/stream").status_code == 422
        refused = client.get("/api/v1/stream", params={"token": "forged"})
        assert refused.status_code == 401
        teacher = client.get("/api/v1/stream", params={"token": server.token("T1")})
        assert teacher.status_code == 403
