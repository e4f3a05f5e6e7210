"""What another node's events can and cannot do here (the outside review of issue 14).

A pickup context, a handover offer and the last tap the debounce compares with are
what one reader at one station saw: only that node's own events make them. Events
synced from elsewhere move children and custody on every node's picture, but never
open a pickup or swallow a card here. And no event a screen, a message or a report
reads can break its answer: the receiver checks the shapes they read.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.clock import COUNTER_BITS, to_millis
from edge.node import Node
from edge.school import cards, proof, schema
from edge.school.events import Event
from edge.sync.hub import pin_key
from tests.roster_files import CARD, TODAY
from tests.servers import LiveServer, local

NOW = to_millis(local("15:30")) << COUNTER_BITS


def chain(specs: list[dict[str, Any]], hlc: int = NOW, node: str = "kiosk-far") -> list[Event]:
    """Return a well-formed chain of another node's events (as sync would carry it)."""
    made, prev = [], ""
    for n, spec in enumerate(specs, 1):
        base: dict[str, Any] = {
            "node_id": node, "epoch": "e1", "seq": n, "hlc": hlc + n, "at": local("15:30"),
            "day": TODAY, "station": "P1", "kind": "signed_in", "outcome": "accepted",
            "code": "signed_in", "card": None, "uid": None, "subject_kind": None,
            "subject_id": None, "data": {}, "roster_version": 1, "clock_synced": True,
            "prev_hash": prev,
        }  # fmt: skip
        event = Event(**{**base, **spec})
        event = dataclasses.replace(event, stored_hash=event.content_hash())
        prev = event.stored_hash or ""
        made.append(event)
    return made


def tap(node: Node, station: str, who: str) -> Event:
    return node.writer.submit_nowait(node.writer.make_tap(station, CARD[who])).result(10).event


def test_a_pickup_opened_on_another_node_opens_nothing_here(
    make_node: Callable[..., Node],
) -> None:
    # A context at P1 made elsewhere (a forged pass for S1; a guardian P1 who never
    # tapped here) must not release anyone tapping at this node's P1.
    node = make_node()
    opened = chain([
        {"kind": "pickup_opened", "code": "pickup_opened", "subject_kind": "pass",
         "subject_id": "Xdeadbeef0000",
         "data": {"students": [], "only": ["S1"], "adult_kind": "pass", "via": "pass",
                  "delegate_name": "陌生人", "pass_id": "Xdeadbeef0000",
                  "valid": ["2026-11-01", "2026-12-31"]}},
        {"kind": "pickup_opened", "code": "pickup_opened", "subject_kind": "guardian",
         "subject_id": "P1", "station": "P1", "data": {"students": []}},
    ])  # fmt: skip
    assert schema.problems(opened, local("15:30")) == []
    node.writer.ingest(opened).result(timeout=10)
    node.clock.set(local("15:30:05"))  # type: ignore[attr-defined]
    assert tap(node, "K1", "S1").code == "signed_in"
    assert tap(node, "K1", "S4").code == "signed_in_on_leave"  # came anyway
    for who in ("S1", "S4"):
        left = tap(node, "P1", who)
        assert (left.outcome, left.code) == ("denied", "needs_guardian"), left
    # Its own guardian's tap still opens a pickup here, as always.
    node.clock.advance(seconds=11)  # type: ignore[attr-defined]
    assert tap(node, "P1", "P1").code == "pickup_opened"
    assert tap(node, "P1", "S1").code == "released"


def test_taps_made_on_another_node_swallow_no_card_here(make_node: Callable[..., Node]) -> None:
    node = make_node()
    at = local("15:30") + dt.timedelta(seconds=50)
    ignored = chain([
        {"kind": "debounced", "outcome": "ignored", "code": "debounced", "station": station,
         "card": cards.normalize(CARD[who], byte_order="little"), "uid": CARD[who], "at": at}
        for who in ("S1", "S2") for station in ("K1", "P1")
    ], hlc=to_millis(at) << COUNTER_BITS)  # fmt: skip
    node.writer.ingest(ignored).result(timeout=10)
    node.clock.set(local("15:30:55"))  # type: ignore[attr-defined]
    assert tap(node, "K1", "S2").code == "signed_in"  # 5 s after the other node's: taken here


def test_a_tap_whose_data_a_screen_or_report_cannot_read_is_refused(
    make_node: Callable[..., Node],
) -> None:
    # children as plain strings; an id that is a list; missing without its counts
    bad = [
        {"kind": "refused", "outcome": "denied", "code": "needs_guardian", "station": "K1",
         "subject_kind": "student", "subject_id": "S1",
         "data": {"students": ["S1"], "reason": "needs_guardian", "alert": "normal"}},
        {"kind": "released", "code": "released", "subject_kind": "student", "subject_id": "S1",
         "data": {"guardian_id": ["P1"]}},
        {"kind": "custody_taken", "code": "custody_taken", "station": "K1",
         "subject_kind": "staff", "subject_id": "T1",
         "data": {"group_id": "G1", "missing": ["S2"]}},
        {"kind": "refused", "outcome": "denied", "code": "x", "subject_kind": "student",
         "subject_id": "S1", "data": {"alert": "siren"}},
    ]  # fmt: skip
    hub = LiveServer(make_node())
    token = hub.node.ledger.add_device("kiosk-far")
    key = Ed25519PrivateKey.generate()  # kiosk-far's key, pinned at its registration
    pin_key(hub.node.ledger, "kiosk-far", proof.public_text(key))
    with hub, httpx.Client(base_url=hub.url, timeout=10) as client:
        for spec in bad:
            (event,) = chain([spec])
            wrong = schema.problems([event], local("15:30"))
            assert len(wrong) == 1, spec
            assert "data." in wrong[0]
            answer = client.post(
                "/api/v1/sync/events",
                json={"events": [event.to_wire()], "signature": proof.sign_push(key, [event])},
                headers={"authorization": f"Bearer {token}"},
            )  # fmt: skip
            assert answer.status_code == 422, answer.text  # refused, never stored
            assert "data." in answer.json()["detail"]
        leader = {"authorization": f"Bearer {hub.token('L1')}"}
        timeline = client.get("/api/v1/students/S1/timeline", headers=leader)
        assert timeline.status_code == 200, timeline.text
        record = client.get("/api/v1/reports/supervision", headers=leader,
                            params={"group": "G1", "date": TODAY.isoformat()})  # fmt: skip
        assert record.status_code == 200, record.text
    assert hub.node.ledger.events_after(0, 100, only_node="kiosk-far") == []  # none stored


def test_a_stamp_far_past_this_nodes_clock_is_kept_but_never_pins_it(
    make_node: Callable[..., Node],
) -> None:
    # A release at 15:29 stamped for 23:00 (a clock hours fast, or a forger holding a
    # kiosk's key) is kept as the record it is; this node's own next taps are still
    # stamped by its own clock, not after 23:00.
    node = make_node()
    far = to_millis(local("23:00")) << COUNTER_BITS
    (late,) = chain([{"kind": "released", "code": "released", "subject_kind": "student",
                      "subject_id": "S1", "at": local("15:29"),
                      "data": {"guardian_id": "P1", "relation": "母亲"}}], hlc=far)  # fmt: skip
    assert schema.problems([late], local("15:30")) == []
    node.writer.ingest([late]).result(timeout=10)
    mine = tap(node, "K1", "S2")
    assert mine.hlc >> COUNTER_BITS <= to_millis(local("15:30")) + 1000
    node.stop()
    again = make_node(data_dir=node.settings.data_dir, node_id=node.ledger.node_id)  # restarted
    assert tap(again, "K1", "S3").hlc >> COUNTER_BITS <= to_millis(local("15:30")) + 1000
