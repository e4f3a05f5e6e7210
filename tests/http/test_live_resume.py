"""A dashboard's stream after bad luck: a quiet restart, a Wi-Fi blip across the service
end, a revoked token (found by an attack on issue 16's deltas)."""

from __future__ import annotations

import queue
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from edge.clock import ManualClock
from edge.node import Node
from tests.http.test_live_deltas import Stream, presence, tap
from tests.servers import LiveServer, local


def test_a_dashboard_resuming_after_a_quiet_restart_gets_the_next_taps(
    make_node: Callable[..., Node], tmp_path: Path
) -> None:
    # The hub restarts at dismissal with nothing tapped meanwhile: the browser resumes
    # with Last-Event-ID equal to the cursor; the taps that follow reach it as deltas.
    data = tmp_path / "restarted"
    first = make_node(data_dir=data, node_id="hub")
    with LiveServer(first) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        token = server.token("L1")
        tap(client, "K1", "S1")
        held = presence(client, token)
    first.stop()
    again = make_node(data_dir=data, node_id="hub")
    with LiveServer(again) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        stream = Stream(server.url, token, last_id=str(held["cursor"]))
        try:
            assert stream.next("hello")["data"]["cursor"] == held["cursor"]
            tap(client, "K1", "S2")
            got = stream.next("delta", timeout=5)
            assert [e["student_id"] for e in got["data"]["students"]] == ["S2"]
        finally:
            stream.close()


def test_a_wifi_blip_across_the_service_end_makes_the_tablet_reload(
    make_node: Callable[..., Node],
) -> None:
    # The office screen stays connected and gets the service end's reload; the tablet
    # was away then. Its hello on resuming says the picture's state moved on, so the
    # page reloads (its held picture's generation is not the stream's).
    clock = ManualClock(local("17:59:50"))
    node = make_node(clock=clock)
    with LiveServer(node) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        token = server.token("L1")
        tap(client, "K1", "S1")
        held = presence(client, token)
        office = Stream(server.url, token, cursor=held["cursor"])
        try:
            assert office.next("hello")["data"]["generation"] == held["generation"]
            clock.advance(seconds=20)  # 18:00:10: the service end passes while the tablet is away
            server.node.live_clock._job()
            assert office.next("reload", timeout=5)["data"]["reason"] == "service_end"
            tablet = Stream(server.url, token, last_id=str(held["cursor"]))
            try:
                hello = tablet.next("hello")["data"]
                assert hello["generation"] != held["generation"]  # dashboard.js reloads
                fresh = presence(client, token)
                assert fresh["generation"] == hello["generation"]
                assert fresh["counts"]["overdue"] == 1
            finally:
                tablet.close()
        finally:
            office.close()


def test_a_revoked_token_loses_its_open_stream(server: LiveServer) -> None:
    # A stolen duty leader's token is revoked: its open stream stops carrying names.
    old = server.token("L1")
    with httpx.Client(base_url=server.url, timeout=10) as client:
        held = presence(client, old)
        stream = Stream(server.url, old, cursor=held["cursor"])
        try:
            stream.next("hello")
            subprocess.run(
                [sys.executable, "-m", "edge", "token", "--staff", "L1", "--revoke",
                 "--data-dir", str(server.node.settings.data_dir)],
                capture_output=True, text=True, timeout=60, check=True,
            )  # fmt: skip
            assert (
                client.get(
                    "/api/v1/presence", headers={"authorization": f"Bearer {old}"}
                ).status_code
                == 401
            )
            time.sleep(5.2)  # the stream looks at its token again at most every 5 s
            tap(client, "K1", "S1")
            leaked = []
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                try:
                    leaked.append(stream.next("delta", timeout=0.5))
                except queue.Empty:
                    continue
            assert not leaked, f"a revoked token still streams: {leaked}"
        finally:
            stream.close()
