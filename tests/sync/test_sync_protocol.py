"""The sync endpoints on a real hub server, called as a kiosk would, fault by fault."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from edge.node import Node
from edge.school import proof
from edge.school.events import Event
from edge.sync.client import SyncClient
from edge.sync.hub import pin_key
from tests.roster_files import CARD, TODAY
from tests.servers import LiveServer, local


def taps(node: Node, *cards: str) -> list[Event]:
    """Tap cards at K1 on a node; return its events as the ledger holds them."""
    for n, card in enumerate(cards):
        node.writer.submit_nowait(
            node.writer.make_tap("K1", card, local(f"15:40:{n:02d}"))
        ).result()
    return node.ledger.events_after(0, 1000, only_node=node.ledger.node_id)


def enroll(hub: Node, kiosk: Node) -> str:
    """Register a kiosk at a hub with its node key pinned; return its device token."""
    name = kiosk.ledger.node_id
    token = hub.ledger.add_device(name)
    pin_key(hub.ledger, name, proof.public_text(proof.load_key(kiosk.settings.data_dir)))
    return token


def push(
    client: httpx.Client, token: str, events: list[Event], by: Node | None = None
) -> httpx.Response:
    """Push events by hand, signed with node ``by``'s key (unsigned without it)."""
    body: dict[str, Any] = {"events": [e.to_wire() for e in events]}
    if by is not None:
        body["signature"] = proof.sign_push(proof.load_key(by.settings.data_dir), events)
    return client.post(
        "/api/v1/sync/events", json=body, headers={"authorization": f"Bearer {token}"}
    )


@pytest.fixture
def hub(make_node: Callable[..., Node]) -> LiveServer:
    return LiveServer(make_node())


def test_a_kiosk_pushes_in_order_and_duplicates_are_stored_once(hub, make_node) -> None:
    kiosk = make_node()
    token = enroll(hub.node, kiosk)
    events = taps(kiosk, CARD["S1"], CARD["S2"], CARD["S3"], CARD["S5"])
    with hub, httpx.Client(base_url=hub.url) as client:
        holed = push(client, token, [events[0], events[1], events[3]], by=kiosk)
        assert holed.status_code == 422  # its signature vouches only for an unbroken run
        first = push(client, token, events[:2], by=kiosk)
        assert first.status_code == 200, first.text
        assert first.json()["stored"] == 2
        gap = push(client, token, events[3:], by=kiosk)
        assert gap.status_code == 200, gap.text
        assert gap.json()["stored"] == 0  # event 4 waits for event 3
        assert gap.json()["heads"][0]["seq"] == 2
        again = push(client, token, events, by=kiosk)
        assert again.json()["stored"] == 2
        assert again.json()["duplicates"] == 2
        assert again.json()["heads"][0]["seq"] == 4
        assert hub.node.ledger.count_events() == 4
        headers = {"authorization": f"Bearer {hub.token('L1')}"}
        picture = client.get("/api/v1/presence", headers=headers).json()
        present = {s["student_id"] for s in picture["students"] if s["state"] == "present"}
        assert present == {"S1", "S2", "S3", "S5"}  # synced taps are in the hub's picture


def test_a_changed_or_forked_batch_is_refused_whole_and_kept_aside(hub, make_node) -> None:
    kiosk = make_node()
    token = enroll(hub.node, kiosk)
    first, second = taps(kiosk, CARD["S1"], CARD["S2"])
    changed = dataclasses.replace(second, subject_id="S3")  # the hash no longer matches
    with hub, httpx.Client(base_url=hub.url) as client:
        refused = push(client, token, [first, changed], by=kiosk)
        assert refused.status_code == 422
        assert "does not match its content" in refused.json()["detail"]
        assert hub.node.ledger.count_events() == 0  # nothing of the batch
        assert push(client, token, [first], by=kiosk).status_code == 200
        fork = dataclasses.replace(first, station="K2")
        fork = dataclasses.replace(fork, stored_hash=fork.content_hash())
        forked = push(client, token, [fork], by=kiosk)
        assert forked.status_code == 422
        assert "another event with this node, epoch and seq" in forked.json()["detail"]
        headers = {"authorization": f"Bearer {hub.token('L1')}"}
        status = client.get("/api/v1/sync/status", headers=headers).json()
        assert len(status["quarantined"]) == 2
        assert status["devices"][0]["refused"]  # the dashboard shows it


def test_devices_write_only_their_own_events_and_revoked_ones_are_refused(hub, make_node) -> None:
    kiosk = make_node()
    other = hub.node.ledger.add_device("somebody-else")
    token = hub.node.ledger.add_device(kiosk.ledger.node_id)
    events = taps(kiosk, CARD["S1"])
    with hub, httpx.Client(base_url=hub.url) as client:
        foreign = push(client, other, events)
        assert foreign.status_code == 403
        assert f"holds events of {kiosk.ledger.node_id}" in foreign.json()["detail"]
        assert push(client, "dev1.made-up", events).status_code == 401
        assert client.post("/api/v1/sync/events", json={"events": []}).status_code == 401
        assert hub.node.ledger.revoke_device(kiosk.ledger.node_id)
        revoked = push(client, token, events)
        assert revoked.status_code == 401
        assert "revoked" in revoked.json()["detail"]
        assert hub.node.ledger.count_events() == 0


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{", "not valid JSON"),
        (b'{"events": "all"}', "events"),
        (b'{"events": [{"id": "x"}]}', "node_id"),
        (b'{"events": [], "waiting": -1}', "waiting"),
    ],
)
def test_a_malformed_push_is_a_422_that_stores_nothing(
    hub, make_node, body: bytes, says: str
) -> None:
    token = hub.node.ledger.add_device("k")
    with hub, httpx.Client(base_url=hub.url) as client:
        reply = client.post(
            "/api/v1/sync/events",
            content=body,
            headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
        )
        assert reply.status_code == 422
        assert says in reply.json()["detail"]
    assert hub.node.ledger.count_events() == 0


def test_a_kiosk_pulls_the_others_events_by_cursor_and_the_roster_once(hub, make_node) -> None:
    kiosk = make_node()
    token = enroll(hub.node, kiosk)
    own = taps(kiosk, CARD["S1"])
    others = taps(hub.node, CARD["S2"], CARD["S3"], CARD["S5"])
    headers = {"authorization": f"Bearer {token}"}
    with hub, httpx.Client(base_url=hub.url, headers=headers) as client:
        assert push(client, token, own, by=kiosk).status_code == 200
        page = client.get("/api/v1/sync/events", params={"limit": 2}).json()
        assert [e["id"] for e in page["events"]] == [e.event_id for e in others[:2]]
        assert page["more"] is True
        rest = client.get("/api/v1/sync/events", params={"after": page["next"]}).json()
        assert [e["id"] for e in rest["events"]] == [others[2].event_id]  # not its own
        assert rest["more"] is False
        empty = client.get("/api/v1/sync/events", params={"after": rest["next"]}).json()
        assert empty["events"] == []
        assert client.get("/api/v1/sync/events", params={"after": "x1"}).status_code == 422
        roster = client.get("/api/v1/sync/roster", params={"since": 0})
        assert roster.status_code == 200
        assert roster.json()["version"] == 1
        assert {s["student_id"] for s in roster.json()["tables"]["students"]} >= {"S1", "S5"}
        assert client.get("/api/v1/sync/roster", params={"since": 1}).status_code == 204


def test_a_kiosk_offline_for_thirty_days_catches_up(hub, make_node) -> None:
    kiosk = make_node()
    token = hub.node.ledger.add_device(kiosk.ledger.node_id)
    days = [TODAY - dt.timedelta(days=n) for n in range(29, -1, -1)]
    for day in days:  # thirty afternoons with no network
        for n, card in enumerate((CARD["S1"], CARD["S2"], CARD["S3"], CARD["S5"])):
            tap = kiosk.writer.make_tap("K1", card, local(f"15:40:{n:02d}", day))
            kiosk.writer.submit_nowait(tap).result()
    client = SyncClient(kiosk, hub.url, token)
    with hub:
        while client.run_once():
            pass
        assert client.status.waiting == 0
        assert hub.node.ledger.count_events() == 120
        headers = {"authorization": f"Bearer {hub.token('L1')}"}
        with httpx.Client(base_url=hub.url, headers=headers) as c:
            for day in (days[0], days[-1]):
                picture = c.get("/api/v1/presence", params={"date": day.isoformat()}).json()
                present = {s["student_id"] for s in picture["students"] if s["state"] == "present"}
                assert present == {"S1", "S2", "S3", "S5"}, day
    client.stop()
