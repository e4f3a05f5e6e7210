"""What a hub takes from a kiosk: every pushed event is checked before it is stored.

A kiosk's device token lets it push its own events, nothing more: a malformed event
(an HLC at the end of time, a grant without its id, a NUL in a reason) is refused
whole and kept aside, and a staff action (a delegate, a correction) is taken only
with the proof of the staff member who made it, signed by the kiosk's own key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.node import Node
from edge.school import roster as roster_mod
from edge.school.events import Event
from edge.sync.client import SyncClient
from tests import roster_files
from tests.http.test_real_time_windows import ask_manual_release
from tests.roster_files import CARD
from tests.servers import LiveServer
from tests.sync.test_sync_protocol import enroll, push, taps


@pytest.fixture
def hub(make_node: Callable[..., Node]) -> LiveServer:
    return LiveServer(make_node())


def forge(after: Event, **fields: Any) -> Event:
    """Return the event that follows ``after`` in its chain, with the given content."""
    base: dict[str, Any] = {
        "node_id": after.node_id, "epoch": after.epoch, "seq": after.seq + 1,
        "hlc": after.hlc + 1, "at": after.at, "day": after.day, "station": after.station,
        "kind": "signed_in", "outcome": "accepted", "code": "signed_in", "card": None,
        "uid": None, "subject_kind": None, "subject_id": None, "data": {},
        "roster_version": after.roster_version, "clock_synced": True,
        "prev_hash": after.stored_hash or "",
    }  # fmt: skip
    base.update(fields)
    event = Event(**base)
    return dataclasses.replace(event, stored_hash=event.content_hash())


def grant(**data: Any) -> dict[str, Any]:
    """Return a forged delegate_granted action naming the admin A1 as its author."""
    body = {"grant_id": "Dfeedbeef01", "student_id": "S1", "name": "陌生人",
            "phone": "13900000000", "photo": None, "from": "2026-11-23", "to": "2026-12-23",
            **data}  # fmt: skip
    return {"kind": "action", "code": "delegate_granted", "station": "api",
            "subject_kind": "staff", "subject_id": "A1", "data": body}  # fmt: skip


def tap_at_hub(client: httpx.Client, card: str) -> httpx.Response:
    return client.post("/api/v1/sim/taps", json={"station": "K1", "uid": card})


def quarantine_of(client: httpx.Client, hub: LiveServer, device: str) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {hub.token('L1')}"}
    status = client.get("/api/v1/sync/status", headers=headers)
    assert status.status_code == 200, status.text
    return next(d for d in status.json()["devices"] if d["device"] == device)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"hlc": 2**63 - 1}, "hlc"),
        (grant(grant_id=None), "grant_id"),
        ({**grant(), "data": {"student_id": "S1"}}, "grant_id"),
        ({"roster_version": 2**40}, "roster_version"),
        ({"at": dt.datetime(2099, 1, 1, tzinfo=dt.UTC), "day": dt.date(2099, 1, 1)}, "ahead"),
    ],
    ids=[
        "hlc-at-the-end-of-time",
        "grant-id-null",
        "grant-without-id",
        "roster-version",
        "far-future",
    ],  # fmt: skip
)
def test_one_pushed_event_never_stops_the_hubs_taps(
    hub: LiveServer, make_node: Callable[..., Node], changes: dict[str, Any], says: str
) -> None:
    kiosk = make_node()
    name = kiosk.ledger.node_id
    token = enroll(hub.node, kiosk)
    own = taps(kiosk, CARD["S1"])
    bad = forge(own[-1], **changes)
    with hub, httpx.Client(base_url=hub.url, timeout=10) as client:
        reply = push(client, token, [*own, bad], by=kiosk)  # signed by the kiosk's own key
        assert reply.status_code == 422, reply.text
        assert says in reply.json()["detail"]
        assert "kept aside" in reply.json()["detail"]
        for card in (CARD["S2"], CARD["S3"]):
            after = tap_at_hub(client, card)
            assert after.status_code == 200, after.text
            assert after.json()["outcome"] == "accepted"
        shown = quarantine_of(client, hub, name)
        assert shown["quarantined"] == 1
        assert says in shown["quarantine_reasons"][0]
        assert shown["behind"] is True
    held = {e.event_id for e in hub.node.ledger.events_after(0, 100)}
    assert bad.event_id not in held
    assert own[0].event_id not in held  # refused whole


def test_a_nul_in_free_text_is_refused_at_the_hub_and_at_the_pickup_screen(
    hub: LiveServer, make_node: Callable[..., Node]
) -> None:
    kiosk = make_node()
    token = enroll(hub.node, kiosk)
    own = taps(kiosk, CARD["S1"])
    bad = forge(own[-1], kind="released", code="released_manually", subject_kind="student",
                subject_id="S1", data={"manual": True, "reason": "忘带卡\x00"})  # fmt: skip
    with hub, httpx.Client(base_url=hub.url, timeout=10) as client:
        reply = push(client, token, [*own, bad], by=kiosk)
        assert reply.status_code == 422, reply.text
        assert "control character" in reply.json()["detail"]
        assert push(client, token, own, by=kiosk).status_code == 200  # the clean part goes in
        asked = ask_manual_release(client, "家长忘带\x00卡")
        assert asked.status_code == 422, asked.text
        assert "control character" in asked.json()["detail"]


def test_a_device_token_alone_writes_no_delegate_and_no_correction(
    hub: LiveServer, make_node: Callable[..., Node]
) -> None:
    kiosk = make_node()
    name = kiosk.ledger.node_id
    token = hub.node.ledger.add_device(name)
    own = taps(kiosk, CARD["S1"])
    attacker = Ed25519PrivateKey.generate()
    forged_proof = {"staff_id": "A1", "role": "admin", "scope": "full", "iat": 0,
                    "exp": 4_000_000_000, "node": name,
                    "sig": attacker.sign(b"anything").hex()}  # fmt: skip
    with hub, httpx.Client(base_url=hub.url, timeout=10) as client:
        client_sync = SyncClient(kiosk, hub.url, token)
        client_sync._hello()  # the kiosk registers its key, as at its first sync
        client_sync.stop()
        released = tap_at_hub(client, CARD["S2"]).json()  # the hub's own sign-in of S2
        attempts = [
            forge(own[-1], **grant()),
            forge(own[-1], **grant(proof=forged_proof)),
            forge(own[-1], kind="corrected", outcome="accepted", code="corrected",
                  subject_kind="staff", subject_id="A1",
                  data={"corrects": released["event_id"], "reason": "刷错了",
                        "corrected_kind": "signed_in", "student_id": "S2"}),
        ]  # fmt: skip
        for attempt in attempts:  # signed by the kiosk's own key, without a staff proof
            reply = push(client, token, [*own, attempt], by=kiosk)
            assert reply.status_code == 422, reply.text
            assert "proof" in reply.json()["detail"]
        headers = {"authorization": f"Bearer {hub.token('L1')}"}
        assert client.get("/api/v1/delegates", headers=headers).json()["delegates"] == []
        picture = client.get("/api/v1/presence", headers=headers).json()
        state = {s["student_id"]: s["state"] for s in picture["students"]}
        assert state["S2"] == "present"  # the hub's record stands
        assert quarantine_of(client, hub, name)["quarantined"] == len(attempts)


def kiosk_of(hub: LiveServer, make_node: Callable[..., Node]) -> tuple[LiveServer, str]:
    """Return a kiosk served live and its device token at the hub (its key bound at hello)."""
    kiosk = LiveServer(make_node())
    return kiosk, hub.node.ledger.add_device(kiosk.node.ledger.node_id)


def name_delegate(
    kiosk: LiveServer, client: httpx.Client, staff_id: str, student_id: str, name: str, phone: str
) -> str:
    """Name a delegate on the kiosk as staff member ``staff_id``; return the grant's id."""
    signed_in = {"authorization": f"Bearer {kiosk.token(staff_id)}"}
    body = {"student_id": student_id, "name": name, "phone": phone}
    made = client.post("/api/v1/delegates", headers=signed_in, json=body)
    assert made.status_code == 201, made.text
    return str(made.json()["grant_id"])


def sync_all(kiosk: LiveServer, hub: LiveServer, token: str) -> None:
    """Sync the kiosk with the hub until nothing is left to send; no round may fail."""
    sync = SyncClient(kiosk.node, hub.url, token)
    while sync.run_once():
        pass
    sync.stop()
    assert sync.status.last_error is None


def delegates_at(client: httpx.Client, hub: LiveServer) -> list[str]:
    """Return the ids of the delegates the hub lists to its duty leader."""
    leader = {"authorization": f"Bearer {hub.token('L1')}"}
    shown = client.get("/api/v1/delegates", headers=leader).json()["delegates"]
    return [d["grant_id"] for d in shown]


def test_staff_actions_made_on_a_kiosk_carry_their_proof_to_the_hub(
    hub: LiveServer, make_node: Callable[..., Node]
) -> None:
    kiosk, token = kiosk_of(hub, make_node)
    name = kiosk.node.ledger.node_id
    with hub, kiosk, httpx.Client(base_url=kiosk.url, timeout=10) as at_kiosk:
        grant_id = name_delegate(kiosk, at_kiosk, "T1", "S1", "张阿姨", "13800001234")
        signed_in = tap_at_hub(at_kiosk, CARD["S3"]).json()
        teacher = {"authorization": f"Bearer {kiosk.token('T1')}"}
        fixed = at_kiosk.post(f"/api/v1/events/{signed_in['event_id']}/correct",
                              headers=teacher, json={"reason": "刷错了学生的卡"})  # fmt: skip
        assert fixed.status_code == 200, fixed.text
        sync_all(kiosk, hub, token)
        with httpx.Client(base_url=hub.url, timeout=10) as at_hub:
            assert delegates_at(at_hub, hub) == [grant_id]
            assert quarantine_of(at_hub, hub, name)["quarantined"] == 0
            held = {e.event_id for e in hub.node.ledger.events_after(0, 100, only_node=name)}
            assert signed_in["event_id"] in held  # it reached the hub: its correction hides it
            headers = {"authorization": f"Bearer {hub.token('L1')}"}
            picture = at_hub.get("/api/v1/presence", headers=headers).json()
            state = {s["student_id"]: s["state"] for s in picture["students"]}
            assert state.get("S3") != "present"  # the sign-in was corrected away


def test_a_kiosk_with_another_key_is_refused_until_registered_again(
    hub: LiveServer, make_node: Callable[..., Node]
) -> None:
    kiosk = make_node()
    token = hub.node.ledger.add_device(kiosk.ledger.node_id)
    with hub:
        first = SyncClient(kiosk, hub.url, token)
        first._hello()
        first.stop()
        (kiosk.settings.data_dir / "node.key").unlink()  # a re-installed card, say
        second = SyncClient(kiosk, hub.url, token)
        with pytest.raises(Exception, match="register"):
            second._hello()
        second.stop()


def test_a_kiosk_refuses_a_bad_page_from_its_hub_and_keeps_it_aside(
    hub: LiveServer, make_node: Callable[..., Node]
) -> None:
    other = make_node()  # a node whose bad event reached the hub's ledger by other means
    own = taps(other, CARD["S1"])
    bad = forge(own[-1], data={"group_id": "G1", "reason": "\x1b[2J"})
    hub.node.writer.ingest([*own, bad]).result(timeout=10)
    kiosk = make_node()
    token = hub.node.ledger.add_device(kiosk.ledger.node_id)
    with hub:
        sync = SyncClient(kiosk, hub.url, token)
        with pytest.raises(Exception, match="control character"):
            sync.run_once()
        sync.stop()
    held = {e.event_id for e in kiosk.ledger.events_after(0, 100)}
    assert bad.event_id not in held
    assert own[0].event_id not in held  # the page was refused whole
    kept = kiosk.ledger.reader().execute("SELECT reason FROM quarantine").fetchall()
    assert len(kept) == 1
    assert "control character" in kept[0][0]


def test_an_action_made_before_its_staff_member_left_still_syncs(
    hub: LiveServer, make_node: Callable[..., Node], tmp_path: Path
) -> None:
    # 周老师 names a delegate on the kiosk while the LAN is down; by the time it comes
    # back the school has made her a guard. What she did as a teacher stands: refusing
    # it would stall the kiosk's chain at a lawful event for good.
    kiosk, token = kiosk_of(hub, make_node)
    name = kiosk.node.ledger.node_id
    with hub, kiosk, httpx.Client(base_url=kiosk.url, timeout=10) as at_kiosk:
        grant_id = name_delegate(kiosk, at_kiosk, "T2", "S2", "李叔叔", "13800004321")
        staff = roster_files.FILES["staff.csv"].replace("T2,周老师,teacher", "T2,周老师,guard")
        bundle = roster_files.write(tmp_path / "moved", **{"staff.csv": staff})
        version = hub.node.ledger.roster_version() + 1
        hub.node.ledger.save_roster(roster_mod.load(bundle, version=version), "test")
        assert tap_at_hub(at_kiosk, CARD["S3"]).status_code == 200
        sync_all(kiosk, hub, token)
        with httpx.Client(base_url=hub.url, timeout=10) as at_hub:
            assert quarantine_of(at_hub, hub, name)["quarantined"] == 0
            assert delegates_at(at_hub, hub) == [grant_id]


def test_the_hubs_roster_reaches_a_kiosk_whose_own_roster_is_numbered_alike(
    make_node: Callable[..., Node], tmp_path: Path
) -> None:
    # A kiosk set up on its own first imported a roster (its version 2). The hub then
    # imports one that bars P1 from S1 (a court order), also its version 2. The hub's
    # roster must reach the kiosk all the same: S1 is never released to P1 there.
    from tests.sync.test_sync_protocol import enroll

    hub = LiveServer(make_node())
    kiosk = make_node()
    kiosk.ledger.save_roster(
        roster_mod.load(roster_files.write(tmp_path / "own"), version=2), "usb"
    )
    token = enroll(hub.node, kiosk)
    barred = roster_files.FILES["pickup.csv"].replace("S1,P1,母亲,1", "S1,P1,母亲,0")
    bundle = roster_files.write(tmp_path / "barred", **{"pickup.csv": barred})
    hub.node.ledger.save_roster(roster_mod.load(bundle, version=2), "court order")
    with hub:
        sync = SyncClient(kiosk, hub.url, token)
        while sync.run_once():
            pass
        sync.run_once()
        assert kiosk.roster.pickup[("S1", "P1")].allowed is False
        kiosk.clock.advance(seconds=11)  # type: ignore[attr-defined]
        for station, who in (("K1", "S1"), ("P1", "P1")):
            kiosk.writer.submit_nowait(kiosk.writer.make_tap(station, CARD[who])).result(10)
        left = kiosk.writer.submit_nowait(kiosk.writer.make_tap("P1", CARD["S1"])).result(10)
        assert (left.event.outcome, left.event.code) == ("denied", "barred_guardian")
        # Asked again with the tag it took, the kiosk is told nothing new.
        before = kiosk.ledger.roster_version()
        sync.run_once()
        sync.stop()
        assert kiosk.ledger.roster_version() == before
