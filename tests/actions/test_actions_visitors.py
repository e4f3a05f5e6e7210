"""The gate register's actions, without HTTP: what the guard is told, what is recorded.

A real node over a temporary data directory with the test roster (tests/roster_files.py:
P3 赵先生 must not collect S1), its clock at 15:30 on Monday 2026-11-23.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from edge.actions import visitors
from edge.errors import AuthError, TapError
from edge.node import Node
from edge.school import auth
from tests.roster_files import TODAY, png
from tests.servers import local


@pytest.fixture
def node(make_node: Callable[..., Node]) -> Node:
    return make_node()


def staff(node: Node, staff_id: str, scope: str = "full") -> auth.Principal:
    """Sign a staff member in as the node would: a token it issued, verified."""
    member = node.roster.staff[staff_id]
    token = auth.issue(node.secret, staff_id, member.role, node.clock.now(), 12, scope)
    return node.staff_of(token)


def test_a_card_signed_guard_registers_with_a_photo_and_checks_out(node: Node) -> None:
    guard = staff(node, "GU", scope="view")  # a card sign-in without PIN is enough here
    photo = base64.b64encode(png(10, 20, 30)).decode()
    answer = visitors.register(node.desk, guard, " 王建国 ", "陈老师", "家长会", photo=photo)
    assert answer["name"] == "王建国"
    assert answer["document"] is None
    assert answer["alert"] is None
    (listed,) = visitors.listing(node.desk, guard, node.gate, TODAY)
    assert listed["photo"] is not None
    assert (node.ledger.photos / listed["photo"]).is_file()
    assert listed["valid_until"] == local("18:00").isoformat()
    visitors.leave(node.desk, guard, answer["visitor_id"], gate_book=node.gate)
    assert visitors.listing(node.desk, guard, node.gate, TODAY, inside_only=True) == []


def test_the_watchlist_holds_barred_adults_and_the_banned_list(node: Node) -> None:
    found = visitors.watchlist(node.roster)
    assert [(w.name, w.reason, w.students) for w in found] == [("赵先生", "barred", ("S1",))]


def test_a_teacher_is_refused_and_nothing_is_written(node: Node) -> None:
    before = node.ledger.count_events()
    with pytest.raises(AuthError):
        visitors.register(node.desk, staff(node, "T1"), "王建国", "陈老师", "家长会")
    with pytest.raises(TapError, match="证件号"):
        visitors.register(node.desk, staff(node, "GU"), "王建国", "陈老师", "家长会", "??")
    with pytest.raises(TapError, match="photo"):
        visitors.register(node.desk, staff(node, "GU"), "王建国", "陈老师", "家长会",
                          photo=base64.b64encode(b"not an image").decode())  # fmt: skip
    assert node.ledger.count_events() == before
