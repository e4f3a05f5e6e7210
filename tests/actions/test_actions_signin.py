"""Staff sign-in by a kiosk's code, without HTTP: what a staff member at a dashboard sees."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from edge.actions.signin import SignInCodes
from edge.errors import AuthError
from edge.node import Node
from edge.school import auth
from edge.school.events import ACTION

HERE = "192.168.1.20"


class Ticking:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def codes_of(node: Node, clock: Ticking) -> SignInCodes:
    return SignInCodes(node.writer, node.ledger, node.secret, node.clock, 12, monotonic=clock)


def refusal(redeem: Callable[[], object]) -> AuthError:
    with pytest.raises(AuthError) as caught:
        redeem()
    return caught.value


def test_a_code_signs_its_staff_member_in_once_and_the_sign_in_is_recorded(make_node) -> None:
    node = make_node()
    code = node.signin_codes.issue("L1")

    signed = node.signin_codes.redeem(code, None, HERE)

    assert (signed.staff_id, signed.name, signed.role, signed.scope) == (
        "L1", node.roster.staff["L1"].name, node.roster.staff["L1"].role, "view"
    )  # fmt: skip
    assert node.staff_of(signed.token).staff_id == "L1"  # the token works
    again = refusal(lambda: node.signin_codes.redeem(code, None, HERE))
    assert again.status == 401
    assert "wrong or has expired" in str(again)
    recorded = [e for e in node.ledger.events_after(0, 1000) if e.kind == ACTION]
    assert [(e.code, e.subject_id, e.data["scope"]) for e in recorded] == [
        ("staff_signed_in", "L1", "view")
    ]


def test_a_code_expires_after_a_minute(make_node) -> None:
    node = make_node()
    clock = Ticking()
    codes = codes_of(node, clock)
    fresh, stale = codes.issue("L1"), codes.issue("A1")
    clock.now += 59
    assert codes.redeem(fresh, None, HERE).staff_id == "L1"
    clock.now += 2  # 61 s after it was shown
    assert stale not in codes
    assert refusal(lambda: codes.redeem(stale, None, HERE)).status == 401


def test_a_wrong_code_is_refused_and_voids_nobody_elses(make_node) -> None:
    node = make_node()
    valid = node.signin_codes.issue("L1")
    wrong = f"{(int(valid) + 1) % 1_000_000:06d}"

    assert refusal(lambda: node.signin_codes.redeem(wrong, None, "10.0.0.9")).status == 401
    assert valid in node.signin_codes
    assert node.signin_codes.redeem(valid, None, HERE).staff_id == "L1"


def test_a_caller_with_five_wrong_codes_is_locked_out_even_with_a_right_one(make_node) -> None:
    node = make_node()
    clock = Ticking()
    codes = codes_of(node, clock)
    valid = codes.issue("L1")
    wrong = [f"{n:06d}" for n in range(6) if f"{n:06d}" != valid][:5]
    for code in wrong:
        assert refusal(lambda code=code: codes.redeem(code, None, HERE)).status == 401
    locked = refusal(lambda: codes.redeem(valid, None, HERE))
    assert locked.status == 429
    assert "wait 10 minutes" in str(locked)
    assert codes.redeem(valid, None, "192.168.1.21").staff_id == "L1"  # another device


def test_the_pin_makes_a_full_token_and_a_wrong_one_is_refused(make_node) -> None:
    node = make_node()
    node.ledger.set_pin("A1", auth.hash_pin("4321"))
    codes = node.signin_codes

    wrong = refusal(lambda: codes.redeem(codes.issue("A1"), "1111", HERE))
    assert (wrong.status, "PIN is wrong" in str(wrong)) == (401, True)
    full = codes.redeem(codes.issue("A1"), "4321", HERE)
    assert full.scope == "full"
    auth.require(node.staff_of(full.token), frozenset({"admin"}), full=True)
    unset = refusal(lambda: codes.redeem(codes.issue("L1"), "1234", HERE))
    assert "no PIN is set for you" in str(unset)
