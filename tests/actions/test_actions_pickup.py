"""Staff actions of pickup, without HTTP: what a teacher, a guard or a pickup screen is told.

Each test runs a real node over a temporary data directory with the test roster
(tests/roster_files.py: S1's mother P1 also collects her niece S4; S1's father P3
must not collect S1; P1 is the pickup point, K1 a classroom door). The node's clock
stands at 15:30 on Monday 2026-11-23; today's plans close at 14:00.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import Callable

import pytest

from edge.actions import adults, codes, corrections, delegates, passes, plans, releases
from edge.actions.desk import CODE_FAILURES, SEARCHES
from edge.clock import ManualClock
from edge.errors import AuthError, TapError
from edge.node import Node
from edge.school import auth
from tests.roster_files import CARD, TODAY, png
from tests.servers import local

YESTERDAY, TOMORROW = TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=1)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(local("15:30"))


@pytest.fixture
def node(make_node: Callable[..., Node], clock: ManualClock) -> Node:
    return make_node(clock=clock)


def staff(node: Node, staff_id: str, scope: str = "full") -> auth.Principal:
    """Sign a staff member in as the node would: a token it issued, verified."""
    member = node.roster.staff[staff_id]
    token = auth.issue(node.secret, staff_id, member.role, node.clock.now(), 12, scope)
    return node.staff_of(token)


def tap(node: Node, station: str, who: str) -> str:
    """Tap a card at a station; return the code of what it decided."""
    writer = node.writer
    return writer.submit_nowait(writer.make_tap(station, CARD[who])).result(timeout=10).event.code


def enter(node: Node, code: str) -> str:
    """Type a pickup code on P1's screen; return the code of what its tap decided."""
    return asyncio.run(codes.enter(node.desk, "P1", code)).event.code


def refusal(call: Callable[[], object]) -> tuple[int, str]:
    """Return the status and sentence a refused action raises."""
    with pytest.raises((TapError, AuthError)) as refused:
        call()
    return refused.value.status, str(refused.value)


def test_a_delegation_runs_from_today_for_at_most_31_days(node: Node) -> None:
    teacher = staff(node, "T1")
    month = TODAY + dt.timedelta(days=31)

    def grant(start: dt.date, end: dt.date) -> object:
        return delegates.grant(node.desk, teacher, "S2", "张阿姨", "139 0000 1111", start, end)

    assert refusal(lambda: grant(TODAY, month)) == (
        422, "from 2026-11-23 to 2026-12-24 is not a range of at most 31 days")  # fmt: skip
    assert refusal(lambda: grant(YESTERDAY, TODAY)) == (
        422, "from 2026-11-22 is in the past: a delegation starts today or later")  # fmt: skip
    assert node.projection.book.delegates == {}  # nothing refused was recorded
    made = delegates.grant(node.desk, teacher, "S2", "张阿姨", "139 0000 1111", TODAY,
                           month - dt.timedelta(days=1))  # fmt: skip
    assert (made["from"], made["to"]) == ("2026-11-23", "2026-12-23")  # 31 days, both counted
    shown = delegates.standing(node.desk, staff(node, "GU"), "S2")
    assert [(d["grant_id"], d["name"]) for d in shown] == [(made["grant_id"], "张阿姨")]


def test_a_delegation_needs_a_teacher_with_a_pin_and_a_real_photo(node: Node) -> None:
    desk, zhang = node.desk, ("S2", "张阿姨", "13900001111")
    guard, by_card_only = staff(node, "GU"), staff(node, "T1", scope="view")
    assert refusal(lambda: delegates.grant(desk, guard, *zhang))[0] == 403  # may look, not grant
    assert "needs your PIN" in refusal(lambda: delegates.grant(desk, by_card_only, *zhang))[1]
    gif = base64.b64encode(b"GIF89a, not a photo a kiosk shows").decode()
    assert refusal(lambda: delegates.grant(desk, staff(node, "T1"), *zhang, photo=gif)) == (
        422, "photo: is not a JPEG, PNG or WebP image")  # fmt: skip
    photo = png(10, 20, 30)
    made = delegates.grant(desk, staff(node, "T1"), *zhang, photo=base64.b64encode(photo).decode())
    assert (desk.photos / made["photo"]).read_bytes() == photo  # kept under its content's hash


def test_a_code_is_only_for_an_adult_who_may_collect_the_child(node: Node) -> None:
    admin = staff(node, "A1")
    assert refusal(lambda: codes.issue(node.desk, admin, "S1", "guardian", "P3")) == (
        409, "P3 may not collect S1")  # fmt: skip
    other = delegates.grant(node.desk, admin, "S2", "张阿姨", "13900001111")["grant_id"]
    assert refusal(lambda: codes.issue(node.desk, admin, "S1", "delegate", other)) == (
        409, f"no delegation '{other}' for S1 on 2026-11-23")  # fmt: skip
    assert refusal(lambda: codes.issue(node.desk, admin, "S1", "guardian", "P1", YESTERDAY)) == (
        422, "2026-11-22 is in the past")  # fmt: skip
    assert node.projection.book.codes == {}


def test_a_code_opens_a_pickup_once(node: Node, clock: ManualClock) -> None:
    tap(node, "K1", "S1")
    code = codes.issue(node.desk, staff(node, "A1"), "S1", "guardian", "P1")["code"]
    assert enter(node, code) == "pickup_opened"
    assert tap(node, "P1", "S1") == "released"
    clock.advance(seconds=11)  # past the debounce
    assert enter(node, code) == "code_used"


def test_wrong_codes_lock_the_pickup_point_out(node: Node, clock: ManualClock) -> None:
    tap(node, "K1", "S1")
    code = codes.issue(node.desk, staff(node, "A1"), "S1", "guardian", "P1")["code"]
    for _ in range(CODE_FAILURES):
        clock.advance(seconds=11)
        assert enter(node, "00000000") == "unknown_code"
    assert refusal(lambda: enter(node, code)) == (
        429, "too many wrong codes here: wait 10 minutes, or use 无卡接送")  # fmt: skip


def test_a_plan_closes_at_the_cut_off(node: Node, clock: ManualClock) -> None:
    teacher = staff(node, "T1")
    assert refusal(lambda: plans.set_plan(node.desk, teacher, "S1", batch="17:00")) == (
        409,
        "the plan for 2026-11-23 can no longer change: today's plans close at 14:00 "
        "(school setting plan_cutoff); tell the class teacher and the gate instead",
    )
    assert plans.plan_of(node.desk, teacher, "S1") is None
    plans.set_plan(node.desk, teacher, "S1", TOMORROW, batch="17:00", point="P1")
    assert plans.plan_of(node.desk, teacher, "S1", TOMORROW) == {
        "student_id": "S1", "date": "2026-11-24", "batch": "17:00", "point": "P1",
        "mode": "guardian", "club_until": None, "by": "T1"}  # fmt: skip
    clock.set(local("13:59"))
    teacher = staff(node, "T1")  # signed in then
    plans.set_plan(node.desk, teacher, "S1", batch="16:00")
    assert refusal(lambda: plans.set_plan(node.desk, teacher, "S1", mode="alone")) == (
        409, "小明 has no written consent to leave alone (students.csv walk_alone)")  # fmt: skip


def test_one_manual_release_waits_at_a_time_until_signed_cancelled_or_60_s_old(
    node: Node, clock: ManualClock
) -> None:
    tap(node, "K1", "S1")
    tap(node, "K1", "S2")
    asked = releases.ask(node.desk, "P1", "display:P1", "S1", "guardian", "P1", " 忘带卡 ")
    assert (asked["student"], asked["adult"]) == ("小明", "王妈妈")
    assert node.writer.pending["P1"].asked_by == "display:P1"
    assert refusal(lambda: releases.ask(node.desk, "P1", "T1", "S2", "guardian", "P2", "忘带")) == (
        409,
        "a release of 小明 is waiting for a staff card here until 15:31:00: sign it with a "
        "staff card, or cancel it first",
    )
    assert releases.cancel(node.desk, "P1")["student"] == "小明"
    assert refusal(lambda: releases.cancel(node.desk, "P1")) == (
        404, "no release is waiting for a staff card here")  # fmt: skip
    releases.ask(node.desk, "P1", "T1", "S2", "guardian", "P2", "忘带")
    clock.advance(seconds=61)  # nobody signed it
    releases.ask(node.desk, "P1", "display:P1", "S1", "guardian", "P1", "忘带卡")
    assert tap(node, "P1", "GU") == "released_manually"
    assert refusal(lambda: releases.ask(node.desk, "K1", "T1", "S2", "guardian", "P2", "忘带")) == (
        409, "station 'K1' is a classroom door, not a pickup point")  # fmt: skip


def test_a_screen_searches_adults_20_times_a_minute(node: Node) -> None:
    limit, _ = SEARCHES
    for _ in range(limit):
        found = adults.find(node.desk, "P1", "display:P1", "0001")
    assert [(a["name"], [c["name"] for c in a["children"]]) for a in found] == [
        ("王妈妈", ["小明", "小丽"])]  # fmt: skip
    assert "phone" not in found[0]
    assert refusal(lambda: adults.find(node.desk, "P1", "display:P1", "王妈妈")) == (
        429, "too many searches here in the last minute: wait a minute")  # fmt: skip
    assert adults.find(node.desk, "P1", "T1", "王妈妈")[0]["adult_id"] == "P1"  # its own count


def test_a_pass_runs_at_most_181_days_and_is_issued_at_the_hub(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = staff(node, "A1")
    half_year = TODAY + dt.timedelta(days=181)
    too_long = refusal(lambda: passes.issue(node.desk, admin, "S1", "王姥姥", TODAY, half_year))
    assert too_long == (
        422,
        "from 2026-11-23 to 2027-05-23 is not a range from today of at most 181 days",
    )
    issued = passes.issue(node.desk, admin, "S1", "王姥姥", TODAY, TOMORROW)
    assert issued["text"].startswith("CE1.")
    assert refusal(lambda: passes.revoke(node.desk, admin, "X12"))[0] == 404
    passes.revoke(node.desk, admin, issued["pass_id"])
    monkeypatch.setattr(node.settings, "upstream", "http://hub.local:8080")  # a kiosk of a hub
    assert refusal(lambda: passes.issue(node.desk, admin, "S1", "王姥姥")) == (
        409, "passes are issued at the campus hub, whose key every kiosk knows")  # fmt: skip


def test_a_wrong_sign_in_is_corrected_once(node: Node) -> None:
    tapped = node.writer.submit_nowait(node.writer.make_tap("K1", CARD["S1"])).result(10)
    wrong = tapped.event.event_id
    guard = staff(node, "GU")
    fixed = asyncio.run(corrections.correct(node.desk, guard, wrong, " 刷错了学生的卡 "))
    assert (fixed.data["corrects"], fixed.data["reason"]) == (wrong, "刷错了学生的卡")
    again = refusal(lambda: asyncio.run(corrections.correct(node.desk, guard, wrong, "再来")))
    assert again == (409, f"record '{wrong}' was already corrected by {fixed.event_id}")
