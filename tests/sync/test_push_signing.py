"""A device token alone pushes nothing: every push is signed by the pushing node's key.

The key is bound to the device at its first hello, or pinned when it is registered
(``campus-edge device add NAME --node-key KEY``); the receiver checks the signature
before it stores anything, at a hub and at the central alike.
"""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.node import Node
from edge.school import proof
from edge.school.auth import Principal
from edge.school.events import Event
from edge.sync.central import CentralStore
from edge.sync.client import SyncClient
from tests.chains import chain as made_chain
from tests.roster_files import CARD, TODAY
from tests.servers import LiveServer, local
from tests.services import cli
from tests.sync.test_central import CentralServer, database, store  # noqa: F401 - fixtures
from tests.sync.test_sync_protocol import taps

NOW = int(local("15:30").timestamp() * 1000) << 16


def fresh_chain(node_id: str, epoch: str, specs: list[dict[str, Any]]) -> list[Event]:
    """Return a brand-new chain (new epoch, seq 1, prev_hash ''), as a token thief makes it."""
    out: list[Event] = []
    prev = ""
    for n, spec in enumerate(specs, 1):
        fields: dict[str, Any] = {
            "node_id": node_id, "epoch": epoch, "seq": n, "hlc": NOW + n, "at": local("15:30"),
            "day": TODAY, "station": "P1", "kind": "signed_in", "outcome": "accepted",
            "code": "x", "card": None, "uid": None, "subject_kind": None, "subject_id": None,
            "data": {}, "roster_version": 1, "clock_synced": True, "prev_hash": prev, **spec,
        }  # fmt: skip
        event = Event(**fields)
        event = dataclasses.replace(event, stored_hash=event.content_hash())
        prev = event.stored_hash or ""
        out.append(event)
    return out


def pass_context(node_id: str) -> list[Event]:
    """Return the review's forged pass context at the pickup point P1, on a fresh epoch."""
    return fresh_chain(node_id, "e1", [{
        "kind": "pickup_opened", "code": "pickup_opened", "station": "P1",
        "subject_kind": "pass", "subject_id": "Xdeadbeef0000",
        "data": {"students": [], "only": ["S1"], "adult_kind": "pass", "via": "pass",
                 "delegate_name": "陌生人", "pass_id": "Xdeadbeef0000",
                 "valid": ["2026-11-01", "2026-12-31"]}}])  # fmt: skip


def raw_push(
    client: httpx.Client, token: str, events: list[Event], signature: str | None
) -> httpx.Response:
    body: dict[str, Any] = {"events": [e.to_wire() for e in events]}
    if signature is not None:
        body["signature"] = signature
    return client.post(
        "/api/v1/sync/events", json=body, headers={"authorization": f"Bearer {token}"}
    )


def status_of(client: httpx.Client, hub: LiveServer, device: str) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {hub.token('L1')}"}
    devices = client.get("/api/v1/sync/status", headers=headers).json()["devices"]
    return next(d for d in devices if d["device"] == device)


@pytest.fixture
def hub(make_node: Callable[..., Node]) -> LiveServer:
    return LiveServer(make_node())


def test_a_device_token_without_hello_pushes_nothing(hub: LiveServer) -> None:
    token = hub.node.ledger.add_device("kiosk-evil")  # only a device token: no hello, no key
    forged = pass_context("kiosk-evil")
    thief = Ed25519PrivateKey.generate()
    with hub, httpx.Client(base_url=hub.url, timeout=10) as client:
        for signature in (None, proof.sign_push(thief, forged)):
            reply = raw_push(client, token, forged, signature)
            assert reply.status_code == 403, reply.text
            assert "has not said hello with its node key" in reply.json()["detail"]
        assert status_of(client, hub, "kiosk-evil")["refused"]  # the dashboard shows it
        # S1 taps at the gate: no stranger's pass
        tap = client.post("/api/v1/sim/taps", json={"station": "P1", "uid": CARD["S1"]})
        assert tap.json()["code"] == "needs_guardian", tap.text
    assert hub.node.ledger.count_events() == 1  # the tap above, nothing pushed


def test_after_hello_an_unsigned_or_wrongly_signed_push_is_refused_whole(
    hub: LiveServer, make_node: Callable[..., Node]
) -> None:
    kiosk = make_node()
    name = kiosk.ledger.node_id
    token = hub.node.ledger.add_device(name)
    own = taps(kiosk, CARD["S2"], CARD["S3"], CARD["S5"])
    key = proof.load_key(kiosk.settings.data_dir)
    forged = pass_context(name)
    # The thief's own event ahead of a real, signed event beyond a gap: the signature
    # vouches for the last event only if the batch leads up to it unbroken.
    (stray,) = fresh_chain(name, own[0].epoch, [{"station": "K1"}])
    with hub, httpx.Client(base_url=hub.url, timeout=10) as client:
        sync = SyncClient(kiosk, hub.url, token)
        sync._hello()  # the kiosk binds its key, as at its first sync
        sync.stop()
        attempts = [
            (forged, None),
            (forged, proof.sign_push(Ed25519PrivateKey.generate(), forged)),
            (forged, proof.sign_push(key, own)),  # the kiosk's signature of another batch
            ([stray, own[2]], proof.sign_push(key, [own[2]])),
        ]
        for events, signature in attempts:
            reply = raw_push(client, token, events, signature)
            assert reply.status_code == 422, reply.text
            assert "kept aside" in reply.json()["detail"]
            assert "sign" in reply.json()["detail"]
        shown = status_of(client, hub, name)
        assert shown["quarantined"] == len(attempts)
        assert "sign" in shown["quarantine_reasons"][0]
        tap = client.post("/api/v1/sim/taps", json={"station": "P1", "uid": CARD["S1"]})
        assert tap.json()["code"] == "needs_guardian", tap.text
    held = {e.node_id for e in hub.node.ledger.events_after(0, 100)}
    assert name not in held  # nothing of any attempt was stored


def test_a_real_kiosk_signs_its_pushes_and_they_are_stored(
    hub: LiveServer, make_node: Callable[..., Node]
) -> None:
    kiosk = make_node()
    name = kiosk.ledger.node_id
    token = hub.node.ledger.add_device(name)
    own = taps(kiosk, CARD["S1"], CARD["S2"])
    with hub:
        sync = SyncClient(kiosk, hub.url, token)
        while sync.run_once():
            pass
        sync.stop()
        assert sync.status.last_error is None
    held = {e.event_id for e in hub.node.ledger.events_after(0, 100) if e.node_id == name}
    assert held == {e.event_id for e in own}


def test_the_central_takes_a_hubs_push_only_signed_with_the_hubs_key(
    store: CentralStore,  # noqa: F811 - the fixture
) -> None:
    name = f"campus-{secrets.token_hex(3)}"
    token = store.add_device(name, "hub")
    hub_key = Ed25519PrivateKey.generate()
    node = f"hub-{secrets.token_hex(3)}"
    events = list(made_chain(f"k-{secrets.token_hex(3)}", 3))  # its kiosks' events, relayed
    headers = {"authorization": f"Bearer {token}"}
    with CentralServer(store) as server, httpx.Client(base_url=server.url) as central:
        unsaid = raw_push(central, token, events, proof.sign_push(hub_key, events))
        assert unsaid.status_code == 403, unsaid.text
        assert "has not said hello" in unsaid.json()["detail"]
        greet = {"node_key": proof.public_text(hub_key), "node": node}
        hello = central.get("/api/v1/sync/hello", headers=headers, params=greet)
        assert hello.status_code == 200, hello.text
        for signature in (None, proof.sign_push(Ed25519PrivateKey.generate(), events)):
            reply = raw_push(central, token, events, signature)
            assert reply.status_code == 422, reply.text
            assert "kept aside" in reply.json()["detail"]
        assert store.count_events(name) == 0
        signed = raw_push(central, token, events, proof.sign_push(hub_key, events))
        assert signed.status_code == 200, signed.text
        assert signed.json()["stored"] == 3
        shown = next(h for h in central.get("/healthz").json()["hubs"] if h["device"] == name)
        assert shown["quarantined"] == 2
        assert "sign" in shown["quarantine_reasons"][0]


def test_a_pinned_key_refuses_a_hello_with_another_key(
    hub: LiveServer, make_node: Callable[..., Node]
) -> None:
    kiosk = make_node()
    name = kiosk.ledger.node_id
    data = hub.node.settings.data_dir
    shown = cli(kiosk.settings.data_dir, "node-key").stdout.strip()
    assert shown == proof.public_text(proof.load_key(kiosk.settings.data_dir))
    token = cli(data, "device", "add", name, "--node-key", shown).stdout.strip()
    bad = cli(data, "device", "add", "k-typo", "--node-key", "not-a-key", check=False)
    assert bad.returncode == 1
    assert "node key" in bad.stderr
    intruder = Ed25519PrivateKey.generate()
    with hub, httpx.Client(base_url=hub.url, timeout=10) as client:
        headers = {"authorization": f"Bearer {token}"}
        other = client.get(
            "/api/v1/sync/hello",
            headers=headers,
            params={"node_key": proof.public_text(intruder), "node": name},
        )
        assert other.status_code == 403, other.text
        assert "pinned" in other.json()["detail"]
        own = taps(kiosk, CARD["S1"])
        signed = raw_push(client, token, own, proof.sign_push(intruder, own))
        assert signed.status_code == 422  # pinned, so no hello is needed to refuse it
        sync = SyncClient(kiosk, hub.url, token)
        sync.pull_events = False  # the CLI's actions above carry today's real clock
        while sync.run_once():
            pass
        sync.stop()
        assert sync.status.last_error is None
    assert any(e.node_id == name for e in hub.node.ledger.events_after(0, 100))
    listed = cli(data, "device", "list").stdout
    line = next(row for row in listed.splitlines() if row.startswith(name))
    assert "key pinned at registration" in line


def test_without_a_pin_the_key_is_bound_at_first_hello_and_listed(
    hub: LiveServer, make_node: Callable[..., Node]
) -> None:
    kiosk = make_node()
    name = kiosk.ledger.node_id
    data = hub.node.settings.data_dir
    token = cli(data, "device", "add", name).stdout.strip()
    cli(data, "device", "add", "k-later")
    with hub:
        sync = SyncClient(kiosk, hub.url, token)
        sync.pull_events = False  # the CLI's actions above carry today's real clock
        sync.run_once()
        sync.stop()
        assert sync.status.last_error is None
    rows = {r.split("\t")[0]: r for r in cli(data, "device", "list").stdout.splitlines()}
    assert "key bound at first hello" in rows[name]
    assert "no key yet" in rows["k-later"]


def test_a_proof_from_an_overlong_token_is_refused(tmp_path: Path) -> None:
    issued = local("15:00").timestamp()
    (event,) = fresh_chain("k1", "e1", [{
        "kind": "action", "code": "delegate_granted", "station": "api", "subject_kind": "staff",
        "subject_id": "A1", "data": {"grant_id": "Dfeed", "student_id": "S1", "name": "陌生人",
        "phone": "13900000000", "photo": None, "from": "2026-11-23",
        "to": "2026-12-23"}}])  # fmt: skip
    public = proof.public_text(proof.load_key(tmp_path))

    def signed(days: float) -> Event:
        who = Principal("A1", "admin", "管理员", "full", issued, issued + days * 86400)
        return proof.prover(who, tmp_path)(event)

    assert proof.check(signed(1), proof.GRANT_ROLES, public) is None
    wrong = proof.check(signed(3650), proof.GRANT_ROLES, public)
    assert wrong is not None
    assert "longer than" in wrong


def test_a_token_longer_than_a_week_is_not_issued(tmp_path: Path, bundle: Path) -> None:
    cli(tmp_path, "roster", "import", str(bundle))
    long = cli(tmp_path, "token", "--staff", "L1", "--hours", "1000", check=False)
    assert long.returncode == 1
    assert "168" in long.stderr
    assert long.stdout == ""
    week = cli(tmp_path, "token", "--staff", "L1", "--hours", "168")
    assert week.stdout.startswith("ce1.")


def test_a_hub_key_pinned_at_the_central_refuses_another_and_learns_its_node_at_hello(
    store: CentralStore,  # noqa: F811 - the fixture
) -> None:
    name = f"campus-{secrets.token_hex(3)}"
    token = store.add_device(name, "hub")
    hub_key = Ed25519PrivateKey.generate()
    store.pin_key(name, proof.public_text(hub_key))
    assert store.bindings()[name]["pinned"] is True
    events = list(made_chain(f"k-{secrets.token_hex(3)}", 2))
    headers = {"authorization": f"Bearer {token}"}
    with CentralServer(store) as server, httpx.Client(base_url=server.url) as central:
        intruder = {"node_key": proof.public_text(Ed25519PrivateKey.generate()), "node": "x"}
        refused = central.get("/api/v1/sync/hello", headers=headers, params=intruder)
        assert refused.status_code == 403, refused.text
        early = raw_push(central, token, events, proof.sign_push(hub_key, events))
        assert early.status_code == 403  # its node id is learnt at its hello
        own = {"node_key": proof.public_text(hub_key), "node": "hub-7"}
        assert central.get("/api/v1/sync/hello", headers=headers, params=own).status_code == 200
        signed = raw_push(central, token, events, proof.sign_push(hub_key, events))
        assert signed.status_code == 200, signed.text
    assert store.count_events(name) == 2


def test_a_captured_push_cannot_be_sent_again_with_another_head(
    hub: LiveServer, make_node: Callable[..., Node]
) -> None:
    # Someone who captured one signed push (sync without TLS) sends it again saying the
    # kiosk's clock was 31 years off and 4 million events wait: the hub's corrected
    # times of that kiosk's unsynchronized events would follow the forged step.
    from edge.sync.hub import clock_steps

    kiosk = make_node()
    name = kiosk.ledger.node_id
    token = hub.node.ledger.add_device(name)
    events = taps(kiosk, CARD["S1"])
    key = proof.load_key(kiosk.settings.data_dir)
    with hub, httpx.Client(base_url=hub.url, timeout=10) as client:
        sync = SyncClient(kiosk, hub.url, token)
        sync._hello()
        sync.stop()
        body = {"events": [e.to_wire() for e in events], "signature": proof.sign_push(key, events)}
        headers = {"authorization": f"Bearer {token}"}
        assert client.post("/api/v1/sync/events", json=body, headers=headers).status_code == 200
        forged = {**body, "clock_step_seconds": -999_999_999, "waiting": 4_000_000,
                  "sent_at": "2000-01-01T00:00:00+00:00", "clock_trusted": False}  # fmt: skip
        replayed = client.post("/api/v1/sync/events", json=forged, headers=headers)
        assert replayed.status_code == 422, replayed.text
        assert "sign" in replayed.json()["detail"]
        assert name not in clock_steps(hub.node)
        assert status_of(client, hub, name)["waiting"] != 4_000_000
        # Signed as the kiosk says it stands, the same head is taken.
        stands = proof.PushHead(3, local("15:31"), False, -42.0)
        honest = {**body, "waiting": 3, "sent_at": local("15:31").isoformat(),
                  "clock_trusted": False, "clock_step_seconds": -42.0,
                  "signature": proof.sign_push(key, events, stands)}  # fmt: skip
        assert client.post("/api/v1/sync/events", json=honest, headers=headers).status_code == 200
        assert clock_steps(hub.node)[name].total_seconds() == -42.0
