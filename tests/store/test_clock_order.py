"""Every event moves the node's clock: a later staff action sorts after an earlier one.

The pickup book and the plans are folded in HLC order, so a revoke or a plan change
made after a grant must carry a later stamp than the grant, whatever the wall clock
says: a Pi without RTC that boots with an old time, or a grant from a hub whose clock
runs minutes ahead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from edge.clock import COUNTER_BITS, ManualClock, to_millis
from edge.node import Node
from edge.school import schema
from edge.school.events import Event
from edge.school.pickup import DELEGATE_GRANTED, DELEGATE_REVOKED, PLAN_SET
from edge.store.ledger import Ledger
from edge.sync.client import SyncClient
from tests.chains import staff_proof
from tests.roster_files import CARD, TODAY
from tests.servers import LiveServer, local


def plan(batch: str) -> dict[str, str]:
    return {"student_id": "S1", "date": TODAY.isoformat(), "batch": batch, "mode": "guardian"}


def grant(grant_id: str) -> dict[str, str]:
    return {
        "grant_id": grant_id, "student_id": "S1", "name": "孙阿姨", "phone": "13900000009",
        "from": TODAY.isoformat(), "to": TODAY.isoformat(),
    }  # fmt: skip


def test_a_plan_changed_after_a_restart_with_an_old_clock_wins(
    make_node: Callable[..., Node], tmp_path: Path
) -> None:
    node = make_node(data_dir=tmp_path / "k", clock=ManualClock(local("15:30")))
    first: Event = node.writer.record_action(
        PLAN_SET, plan("17:00"), "A1", proof=staff_proof(node)
    ).result(timeout=10)
    node.stop()
    # The Pi restarts without RTC: its clock says ten minutes earlier than the first plan.
    again = make_node(data_dir=tmp_path / "k", node_id=node.ledger.node_id,
                      clock=ManualClock(local("15:20")))  # fmt: skip
    second: Event = again.writer.record_action(
        PLAN_SET, plan("17:30"), "A1", proof=staff_proof(again)
    ).result(timeout=10)
    assert second.hlc > first.hlc
    assert again.projection.book.plans[("S1", TODAY)].batch == "17:30"
    again.projection.forget()  # and refolded from the ledger
    assert again.projection.book.plans[("S1", TODAY)].batch == "17:30"
    # A tap after it sorts after it too.
    tapped = again.simulated("K1").present(CARD["S2"]).result(timeout=5)  # type: ignore[union-attr]
    assert tapped.event.hlc > second.hlc


def test_a_revoke_after_a_grant_from_a_hub_three_minutes_ahead_wins_everywhere(
    make_node: Callable[..., Node],
) -> None:
    hub = make_node(node_id="hub", clock=ManualClock(local("15:33")))
    kiosk = make_node(node_id="gate", clock=ManualClock(local("15:30")))
    granted: Event = hub.writer.record_action(
        DELEGATE_GRANTED, grant("D1"), "A1", proof=staff_proof(hub)
    ).result(10)
    kiosk.writer.ingest(hub.ledger.events_after(0, 100)).result(timeout=10)
    assert kiosk.projection.book.delegate("D1", TODAY) is not None
    # A minute later by the kiosk's clock (still two minutes behind the grant's stamp).
    kiosk.clock.advance(minutes=1)  # type: ignore[attr-defined]
    revoked: Event = kiosk.writer.record_action(
        DELEGATE_REVOKED, {"grant_id": "D1"}, "A1", proof=staff_proof(kiosk)
    ).result(10)
    assert revoked.hlc > granted.hlc
    hub.writer.ingest(kiosk.ledger.events_after(0, 100)).result(timeout=10)
    for node in (kiosk, hub):
        assert node.projection.book.delegate("D1", TODAY) is None, node.ledger.node_id
        node.projection.forget()
        assert node.projection.book.delegate("D1", TODAY) is None, node.ledger.node_id


def test_a_tap_after_a_synced_action_sorts_after_it(make_node: Callable[..., Node]) -> None:
    hub = make_node(node_id="hub", clock=ManualClock(local("15:33")))
    kiosk = make_node(node_id="gate", clock=ManualClock(local("15:30")))
    made: Event = hub.writer.record_action(
        PLAN_SET, plan("17:00"), "A1", proof=staff_proof(hub)
    ).result(timeout=10)
    kiosk.writer.ingest(hub.ledger.events_after(0, 100)).result(timeout=10)
    tapped = kiosk.simulated("K1").present(CARD["S2"]).result(timeout=5)  # type: ignore[union-attr]
    assert tapped.event.hlc > made.hlc


def test_an_operator_action_and_the_service_share_one_clock(make_node: Callable[..., Node]) -> None:
    # The CLI appends under the write lock; the service takes its stamp in (catch-up),
    # and the CLI starts from every stamp in the ledger, actions included.
    node = make_node(clock=ManualClock(local("15:30")))
    first: Event = node.writer.record_action(
        PLAN_SET, plan("17:00"), "A1", proof=staff_proof(node)
    ).result(timeout=10)
    cli = Ledger(node.settings.database, node.ledger.node_id, clock=node.clock)  # one machine
    from edge.errors import StorageError

    with pytest.raises(StorageError, match="proof"):  # no writer makes what the hub refuses
        cli.append_action(PLAN_SET, plan("17:15"))
    cli_made = cli.append_action("device_registered", {"device": "K-9"})  # an operator's
    assert cli_made.hlc > first.hlc
    node.clock.set(local("15:00"))  # type: ignore[attr-defined]
    after: Event = node.writer.record_action(
        PLAN_SET, plan("17:30"), "A1", proof=staff_proof(node)
    ).result(timeout=10)
    assert after.hlc > cli_made.hlc
    assert after.seq == cli_made.seq + 1
    node.projection.forget()
    assert node.projection.book.plans[("S1", TODAY)].batch == "17:30"
    assert node.ledger.verify()[1] == []


def test_a_kiosk_that_booted_ten_days_ahead_still_syncs_and_pins_no_clock(
    make_node: Callable[..., Node],
) -> None:
    # A Pi whose RTC says ten days from now, before NTP: its taps are marked as made on
    # an untrusted clock. The hub keeps them (refusing them would stall the kiosk's
    # chain until the calendar caught up) but its own clock does not jump ten days.
    hub = LiveServer(make_node())
    ahead = ManualClock(local("15:30") + dt.timedelta(days=10))
    kiosk = make_node(clock=ahead)
    kiosk.writer._check_clock = lambda: False  # no NTP yet
    kiosk.writer.clock_synced = False
    early = kiosk.writer.submit_nowait(kiosk.writer.make_tap("K1", CARD["S1"])).result(10)
    assert early.event.clock_synced is False
    token = hub.node.ledger.add_device(kiosk.ledger.node_id)
    with hub, httpx.Client(base_url=hub.url, timeout=10) as at_hub:
        sync = SyncClient(kiosk, hub.url, token)
        while sync.run_once():
            pass
        assert sync.status.last_error is None
        held = hub.node.ledger.events_after(0, 100, only_node=kiosk.ledger.node_id)
        assert early.event.event_id in {e.event_id for e in held}
        after = at_hub.post("/api/v1/sim/taps", json={"station": "K1", "uid": CARD["S2"]})
        assert after.status_code == 200, after.text
        stamped = hub.node.ledger.events_after(0, 100, only_node=hub.node.ledger.node_id)[-1]
        assert stamped.hlc >> COUNTER_BITS <= to_millis(hub.node.clock.now()) + 1000
        # The kiosk's clock is put right. What it does next still sorts after what it did
        # (its own order is never undone), so its stamp runs ten days past its moment:
        # the event says its clock cannot vouch for that, and the hub takes it.
        ahead.set(local("15:40"))
        kiosk.writer._check_clock = lambda: True
        kiosk.writer.clock_synced = True
        later = kiosk.writer.submit_nowait(kiosk.writer.make_tap("K1", CARD["S3"])).result(10)
        assert later.event.hlc > early.event.hlc
        assert later.event.clock_synced is False
        while sync.run_once():
            pass
        sync.stop()
        assert sync.status.last_error is None
        assert later.event.event_id in {
            e.event_id for e in hub.node.ledger.events_after(0, 100, only_node=later.event.node_id)
        }


def test_an_event_claiming_a_trusted_clock_ten_days_ahead_is_refused(
    make_node: Callable[..., Node],
) -> None:
    hub = make_node()
    kiosk = make_node()
    first = kiosk.writer.submit_nowait(kiosk.writer.make_tap("K1", CARD["S1"])).result(10).event
    at = first.at + dt.timedelta(days=10)
    forged = dataclasses.replace(
        first, seq=2, hlc=to_millis(at) << COUNTER_BITS, at=at, day=at.date(),
        prev_hash=first.stored_hash or "", clock_synced=True, stored_hash=None,
    )  # fmt: skip
    forged = dataclasses.replace(forged, stored_hash=forged.content_hash())
    wrong = schema.problems([first, forged], hub.clock.now())
    assert len(wrong) == 1
    assert "hlc" in wrong[0]
    assert forged.event_id in wrong[0]


def test_a_sign_in_made_on_a_fast_clock_cannot_sign_an_action_the_hub_would_refuse(
    make_node: Callable[..., Node],
) -> None:
    # A Pi booted 3 h fast; a teacher signs in; sync steps the clock back; she names a
    # delegate. The action's proof would say a token issued 3 h from now: the hub would
    # refuse it, and with it every later event of this kiosk, for good.
    from tests.sync.test_sync_protocol import enroll

    clock = ManualClock(local("13:00") + dt.timedelta(hours=3))
    kiosk = make_node(clock=clock)
    hub = LiveServer(make_node(clock=ManualClock(local("13:00"))))
    token = enroll(hub.node, kiosk)
    with LiveServer(kiosk) as here, hub:
        teacher = {"authorization": f"Bearer {here.token('T1')}"}  # on the fast clock
        clock.step(hours=-3)  # follows the hub
        clock.advance(seconds=60)
        with httpx.Client(base_url=here.url, timeout=10) as client:
            named = client.post("/api/v1/delegates", headers=teacher,
                                json={"student_id": "S1", "name": "张阿姨",
                                      "phone": "13900001111"})  # fmt: skip
            assert named.status_code == 401, named.text
            assert "sign in again" in named.json()["detail"]
            again = {"authorization": f"Bearer {here.token('T1')}"}  # a new sign-in
            named = client.post("/api/v1/delegates", headers=again,
                                json={"student_id": "S1", "name": "张阿姨",
                                      "phone": "13900001111"})  # fmt: skip
            assert named.status_code == 201, named.text
        kiosk.writer.submit_nowait(kiosk.writer.make_tap("K1", CARD["S1"])).result(10)
        sync = SyncClient(kiosk, hub.url, token)
        while sync.run_once():
            pass
        sync.stop()
        assert sync.status.last_error is None
        mine = kiosk.ledger.events_after(0, 100, only_node=kiosk.ledger.node_id)
        held = hub.node.ledger.events_after(0, 100, only_node=kiosk.ledger.node_id)
        assert [e.event_id for e in held] == [e.event_id for e in mine]


def test_the_writer_refuses_a_staff_action_whose_proof_the_hub_would_refuse(
    make_node: Callable[..., Node],
) -> None:
    from edge.errors import TapError
    from edge.school import proof
    from edge.school.auth import Principal

    node = make_node()
    later = node.clock.now().timestamp() + 3 * 3600  # a token issued on a fast clock
    who = Principal("A1", "admin", "王主任", "full", later, later + 3600)
    with pytest.raises(TapError, match="campus hub") as refused:
        node.writer.record_action(
            PLAN_SET, plan("17:00"), "A1", proof=proof.prover(who, node.settings.data_dir)
        ).result(10)
    assert refused.value.status == 422
    made = node.writer.record_action(PLAN_SET, plan("17:10"), "A1", proof=staff_proof(node))
    assert made.result(10).seq == 1  # nothing was written before it, and no gap
