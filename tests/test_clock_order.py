"""Every event moves the node's clock: a later staff action sorts after an earlier one.

The pickup book and the plans are folded in HLC order, so a revoke or a plan change
made after a grant must carry a later stamp than the grant, whatever the wall clock
says: a Pi without RTC that boots with an old time, or a grant from a hub whose clock
runs minutes ahead.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edge.clock import ManualClock
from edge.events import Event
from edge.ledger import Ledger
from edge.node import Node
from edge.pickup import DELEGATE_GRANTED, DELEGATE_REVOKED, PLAN_SET
from tests.conftest import local
from tests.roster_files import CARD, TODAY


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
    first: Event = node.writer.record_action(PLAN_SET, plan("17:00"), "A1").result(timeout=10)
    node.stop()
    # The Pi restarts without RTC: its clock says ten minutes earlier than the first plan.
    again = make_node(data_dir=tmp_path / "k", node_id=node.ledger.node_id,
                      clock=ManualClock(local("15:20")))  # fmt: skip
    second: Event = again.writer.record_action(PLAN_SET, plan("17:30"), "A1").result(timeout=10)
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
    granted: Event = hub.writer.record_action(DELEGATE_GRANTED, grant("D1"), "A1").result(10)
    kiosk.writer.ingest(hub.ledger.events_after(0, 100)).result(timeout=10)
    assert kiosk.projection.book.delegate("D1", TODAY) is not None
    # A minute later by the kiosk's clock (still two minutes behind the grant's stamp).
    kiosk.clock.advance(minutes=1)  # type: ignore[attr-defined]
    revoked: Event = kiosk.writer.record_action(DELEGATE_REVOKED, {"grant_id": "D1"}, "A1").result(
        10
    )
    assert revoked.hlc > granted.hlc
    hub.writer.ingest(kiosk.ledger.events_after(0, 100)).result(timeout=10)
    for node in (kiosk, hub):
        assert node.projection.book.delegate("D1", TODAY) is None, node.ledger.node_id
        node.projection.forget()
        assert node.projection.book.delegate("D1", TODAY) is None, node.ledger.node_id


def test_a_tap_after_a_synced_action_sorts_after_it(make_node: Callable[..., Node]) -> None:
    hub = make_node(node_id="hub", clock=ManualClock(local("15:33")))
    kiosk = make_node(node_id="gate", clock=ManualClock(local("15:30")))
    made: Event = hub.writer.record_action(PLAN_SET, plan("17:00"), "A1").result(timeout=10)
    kiosk.writer.ingest(hub.ledger.events_after(0, 100)).result(timeout=10)
    tapped = kiosk.simulated("K1").present(CARD["S2"]).result(timeout=5)  # type: ignore[union-attr]
    assert tapped.event.hlc > made.hlc


def test_an_operator_action_and_the_service_share_one_clock(make_node: Callable[..., Node]) -> None:
    # The CLI appends under the write lock; the service takes its stamp in (catch-up),
    # and the CLI starts from every stamp in the ledger, actions included.
    node = make_node(clock=ManualClock(local("15:30")))
    first: Event = node.writer.record_action(PLAN_SET, plan("17:00"), "A1").result(timeout=10)
    cli = Ledger(node.settings.database, node.ledger.node_id)
    cli_made = cli.append_action(PLAN_SET, plan("17:15"))
    assert cli_made.hlc > first.hlc
    node.clock.set(local("15:00"))  # type: ignore[attr-defined]
    after: Event = node.writer.record_action(PLAN_SET, plan("17:30"), "A1").result(timeout=10)
    assert after.hlc > cli_made.hlc
    assert after.seq == cli_made.seq + 1
    node.projection.forget()
    assert node.projection.book.plans[("S1", TODAY)].batch == "17:30"
    assert node.ledger.verify()[1] == []
