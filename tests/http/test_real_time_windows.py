"""A pickup context, a handover offer and a manual release close by real time.

A Pi that booted with its clock hours or a day fast opens a pickup when a guardian
taps; sync then steps its clock back to the hub's. When the wall clock reaches the
moment the wrong clock claimed, that pickup must not come back to life: the child
would go to an adult who left long ago. The same for a handover offered and a manual
release (无卡接送) asked on the screen (the second outside review of issue 14).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from edge.clock import ManualClock
from edge.node import Node
from edge.school.events import Event
from tests import roster_files
from tests.roster_files import CARD
from tests.servers import LiveServer, local


def tap(node: Node, station: str, who: str) -> Event:
    return node.writer.submit_nowait(node.writer.make_tap(station, CARD[who])).result(10).event


def ask_manual_release(screen: httpx.Client, reason: str = "家长忘带卡") -> httpx.Response:
    """Ask P1's screen to release S1 to their mother P1 without a card (无卡接送)."""
    body = {"student_id": "S1", "adult_kind": "guardian", "adult_id": "P1", "reason": reason}
    return screen.post("/api/v1/stations/P1/manual-release", json=body)


def untrusted(node: Node) -> None:
    node.writer._check_clock = lambda: False  # no NTP yet
    node.writer.clock_synced = False


@pytest.mark.parametrize("ahead", [dt.timedelta(hours=3), dt.timedelta(days=1)])
def test_a_pickup_opened_on_a_wrong_clock_does_not_reopen_when_the_clock_comes_round(
    make_node: Callable[..., Node], ahead: dt.timedelta
) -> None:
    clock = ManualClock(local("13:00") + ahead)
    gate = make_node(clock=clock)
    untrusted(gate)
    assert tap(gate, "K1", "S1").code == "signed_in"
    assert tap(gate, "P1", "P1").code == "pickup_opened"  # the mother, on the wrong clock
    clock.step(seconds=-ahead.total_seconds())  # sync: onto the hub's clock
    clock.advance(seconds=ahead.total_seconds() + 30)  # the wall clock comes round again
    left = tap(gate, "P1", "S1")
    assert (left.outcome, left.code) == ("denied", "needs_guardian"), left
    # Within its 120 s of real time a pickup works as always, clock steps or not.
    assert tap(gate, "P1", "P1").code == "pickup_opened"
    clock.step(minutes=-5)
    clock.advance(seconds=20)
    assert tap(gate, "P1", "S1").code == "released"


def test_a_pickup_survives_refolds_from_synced_events_within_its_window(
    make_node: Callable[..., Node],
) -> None:
    # A hub's events arrive while the mother waits: the day is refolded, and her
    # pickup still stands (its real-time reading is kept across refolds).
    gate = make_node()
    other = make_node()
    assert tap(gate, "K1", "S1").code == "signed_in"
    gate.clock.advance(seconds=300)  # type: ignore[attr-defined]  # the process is old now
    opened = tap(gate, "P1", "P1")
    assert opened.code == "pickup_opened"
    early = tap(other, "K2", "S5")  # stamped before the mother's tap: sorts before it
    assert early.hlc < opened.hlc
    gate.writer.ingest([early]).result(timeout=10)
    gate.projection.forget()
    gate.clock.advance(seconds=20)  # type: ignore[attr-defined]
    assert tap(gate, "P1", "S1").code == "released"


def test_a_handover_offered_on_a_wrong_clock_is_not_taken_hours_later(
    make_node: Callable[..., Node], tmp_path: Path
) -> None:
    school = roster_files.FILES["school.toml"] + "[service]\ntwo_party_handover = true\n"
    bundle = roster_files.write(tmp_path / "two", **{"school.toml": school})
    clock = ManualClock(local("13:00") + dt.timedelta(hours=3))
    node = make_node(clock=clock, roster_dir=bundle)
    untrusted(node)
    assert tap(node, "K1", "T1").code == "custody_taken"
    clock.advance(seconds=11)
    assert tap(node, "K1", "T1").code == "handover_offered"
    clock.step(hours=-3)
    clock.advance(hours=3, seconds=20)
    taken = tap(node, "K1", "L1")
    assert taken.code == "handover_unacknowledged", taken


def test_a_manual_release_asked_on_a_wrong_clock_is_not_signed_hours_later(
    make_node: Callable[..., Node],
) -> None:
    clock = ManualClock(local("13:00"))
    gate = make_node(clock=clock)
    assert tap(gate, "K1", "S1").code == "signed_in"
    clock.step(hours=3)  # the wall clock wrong, before it follows the hub
    with LiveServer(gate) as server, httpx.Client(base_url=server.url, timeout=10) as screen:
        asked = ask_manual_release(screen)
        assert asked.status_code == 200, asked.text
        clock.step(hours=-3)  # follows the hub
        clock.advance(hours=3, seconds=20)
        on_duty = tap(gate, "P1", "GU")  # the guard goes on duty: she signs nothing
        assert on_duty.code == "staff_on_duty", on_duty
        again = ask_manual_release(screen)
        assert again.status_code == 200, again.text  # the old one is gone: a new one is taken


def test_blank_text_is_refused_where_it_is_typed(make_node: Callable[..., Node]) -> None:
    # Spaces pass a length check but are stored stripped: the signing tap would then be
    # refused (a record the hub would refuse), and the waiting release lost with it.
    gate = make_node()
    assert tap(gate, "K1", "S1").code == "signed_in"
    with LiveServer(gate) as server, httpx.Client(base_url=server.url, timeout=10) as screen:
        asked = ask_manual_release(screen, "   ")
        assert asked.status_code == 422, asked.text
        assert "blank" in asked.text
        teacher = {"authorization": f"Bearer {server.token('T1')}"}
        blank = {"student_id": "S1", "name": "  ", "phone": "13900001111"}
        named = screen.post("/api/v1/delegates", headers=teacher, json=blank)
        assert named.status_code == 422, named.text
        assert "blank" in named.text
        asked = ask_manual_release(screen)
        assert asked.status_code == 200, asked.text
        signed = tap(gate, "P1", "GU")
        assert signed.code == "released_manually"
        assert "P1" not in gate.writer.pending  # done, once its event was committed


def test_a_pi_that_booted_with_yesterdays_date_takes_no_codes_or_passes_until_set(
    make_node: Callable[..., Node],
) -> None:
    # Yesterday's one-time code went unused. Today the gate Pi boots with yesterday's
    # date (no RTC), before NTP or its hub have set it: it would take yesterday's code
    # (and a one-day delegate's release, a pass that ran out yesterday) as today's.
    clock = ManualClock(local("16:00") - dt.timedelta(days=1))
    gate = make_node(clock=clock)
    with LiveServer(gate) as server, httpx.Client(base_url=server.url, timeout=10) as screen:
        admin = {"authorization": f"Bearer {server.token('A1')}"}
        issued = screen.post("/api/v1/pickup-codes", headers=admin,
                             json={"student_id": "S1", "adult_kind": "guardian",
                                   "adult_id": "P1"})  # fmt: skip
        assert issued.status_code == 201, issued.text
        code = issued.json()["code"]
        untrusted(gate)  # the next morning's boot: the same date, nothing has set it
        assert tap(gate, "K1", "S1").code == "signed_in"
        typed = screen.post("/api/v1/stations/P1/code", json={"code": code}).json()
        assert (typed["outcome"], typed["code"]) == ("denied", "clock_untrusted")
        assert "时间未校准" in typed["message"]
        clock.advance(seconds=11)
        assert tap(gate, "P1", "P1").code == "pickup_opened"  # a guardian's card still works
        assert tap(gate, "P1", "S1").code == "released"
