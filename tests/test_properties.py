"""Properties of rules + fold over random afternoons (hypothesis)."""

from __future__ import annotations

import datetime as dt
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge import roster as roster_mod
from edge.projection import fold, picture
from tests.afternoon import Afternoon
from tests.conftest import local
from tests.roster_files import CARD, FILES, TODAY, UNKNOWN

ROSTER = roster_mod.build(
    {
        name.removesuffix(".csv"): [
            {"_row": str(i + 2), **row}
            for i, row in enumerate(__import__("csv").DictReader(__import__("io").StringIO(text)))
        ]
        for name, text in FILES.items()
        if name.endswith(".csv")
    },
    FILES["school.toml"],
    version=1,
)
STATIONS = ["K1", "K2", "P1"]
CARDS = [*CARD.values(), UNKNOWN, "0723140494"]

taps = st.lists(
    st.tuples(st.sampled_from(STATIONS), st.sampled_from(CARDS), st.integers(0, 200)),
    min_size=1,
    max_size=60,
)


def play(sequence: list[tuple[str, str, int]], node_id: str = "k") -> Afternoon:
    day = Afternoon(ROSTER, TODAY, node_id)
    moment = local("15:30")
    for station, card, gap in sequence:
        moment += dt.timedelta(seconds=gap)
        day.tap(station, card, moment)
    return day


def judged() -> dt.datetime:
    return local("18:30")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(taps, st.randoms(use_true_random=False))
def test_folding_in_any_arrival_order_gives_the_same_picture(sequence, rnd: random.Random) -> None:
    day = play(sequence)
    shuffled = list(day.events)
    rnd.shuffle(shuffled)
    assert picture(ROSTER, fold(TODAY, shuffled), judged()) == picture(ROSTER, day.state, judged())


@settings(max_examples=150, deadline=None)
@given(taps, taps)
def test_two_kiosks_events_merge_to_one_picture_whatever_order(first, second) -> None:
    a, b = play(first, "kiosk-a"), play(second, "kiosk-b")
    merged = a.events + b.events
    assert picture(ROSTER, fold(TODAY, merged), judged()) == picture(
        ROSTER, fold(TODAY, list(reversed(merged))), judged()
    )


@settings(max_examples=200, deadline=None)
@given(taps)
def test_a_released_child_always_had_an_allowed_guardian(sequence) -> None:
    for event in play(sequence).events:
        if event.kind == "released":
            right = ROSTER.pickup.get((event.subject_id, event.data["guardian_id"]))
            assert right is not None
            assert right.allowed


@settings(max_examples=200, deadline=None)
@given(taps)
def test_no_child_is_in_two_places(sequence) -> None:
    day = play(sequence)
    snapshot = picture(ROSTER, day.state, judged())
    ids = [s["student_id"] for s in snapshot["students"]]
    assert len(ids) == len(set(ids))
    present = [s for s in snapshot["students"] if s["state"] == "present"]
    assert all(s["group_id"] in ROSTER.groups for s in present)
    assert sum(g["present"] for g in snapshot["groups"]) == len(present)
    assert sum(
        snapshot["counts"][k] for k in ("expected", "on_leave", "present", "released", "left_alone")
    ) == len(ids)


@settings(max_examples=100, deadline=None)
@given(taps)
def test_an_ignored_or_denied_tap_changes_no_one(sequence) -> None:
    day = Afternoon(ROSTER, TODAY)
    moment = local("15:30")
    for station, card, gap in sequence:
        moment += dt.timedelta(seconds=gap)
        before = dict(day.state.students), dict(day.state.custodians)
        event = day.tap(station, card, moment)
        if event.outcome != "accepted":
            assert (dict(day.state.students), dict(day.state.custodians)) == before
