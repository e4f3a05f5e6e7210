"""CONTRACT.md's table "What a tap does", row by row, on the pure decision."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from edge.school import roster as roster_mod
from edge.school.events import Tap
from edge.school.pickup import Code, Delegate, PickupBook
from edge.school.roster import Roster
from tests import roster_files
from tests.afternoon import Afternoon
from tests.roster_files import CARD, TODAY, UNKNOWN
from tests.servers import local


@pytest.fixture
def day(roster: Roster) -> Afternoon:
    return Afternoon(roster, TODAY)


def test_classroom_student_signs_in_to_the_stations_group(day: Afternoon) -> None:
    e = day.tap("K1", CARD["S1"], local("15:40"))
    assert (e.outcome, e.kind, e.subject_id, e.data["group_id"]) == (
        "accepted",
        "signed_in",
        "S1",
        "G1",
    )
    assert day.state.students["S1"].state == "present"


def test_classroom_student_moves_from_another_group(day: Afternoon) -> None:
    day.tap("K2", CARD["S1"], local("15:40"))
    e = day.tap("K1", CARD["S1"], local("16:10"))
    assert (e.outcome, e.code, e.data["from_group"]) == ("accepted", "moved", "G2")
    assert day.state.students["S1"].group_id == "G1"


def test_classroom_staff_takes_custody_with_head_count_naming_the_missing(day: Afternoon) -> None:
    day.tap("K1", CARD["S1"], local("15:40"))
    day.tap("K2", CARD["S2"], local("15:41"))  # signed in elsewhere: not missing
    e = day.tap("K1", CARD["T2"], local("15:45"))  # any staff member may take over
    assert (e.outcome, e.kind, e.subject_id) == ("accepted", "custody_taken", "T2")
    assert e.data["head_count"] == 1
    assert e.data["present"] == ["S1"]
    # S3 is expected in G1 today and seen nowhere; S4 is on leave; S5 is not in G1.
    assert e.data["missing"] == ["S3"]
    assert e.data["on_leave"] == ["S4"]
    assert day.state.custodians["G1"][0] == "T2"
    handover = day.tap("K1", CARD["T1"], local("15:50"))
    assert handover.data["previous_custodian"] == "T2"


def test_pickup_guardian_opens_a_context_listing_their_children(day: Afternoon) -> None:
    day.tap("K1", CARD["S1"], local("15:40"))
    e = day.tap("P1", CARD["P1"], local("17:00"))
    assert (e.outcome, e.kind, e.subject_id) == ("accepted", "pickup_opened", "P1")
    listed = {c["student_id"]: (c["state"], c["group_id"]) for c in e.data["students"]}
    assert listed == {"S1": ("present", "G1"), "S4": ("on_leave", None)}


def test_pickup_student_is_released_to_the_context_guardian(day: Afternoon) -> None:
    day.tap("K1", CARD["S1"], local("15:40"))
    day.tap("P1", CARD["P1"], local("17:00"))
    e = day.tap("P1", CARD["S1"], local("17:00:30"))
    assert (e.outcome, e.kind, e.data["guardian_id"]) == ("accepted", "released", "P1")
    assert day.state.students["S1"].state == "released"
    assert day.state.students["S1"].released_to == "P1"


def test_pickup_walk_alone_student_without_a_matching_context_leaves_alone(day: Afternoon) -> None:
    day.tap("P1", CARD["P2"], local("17:00"))  # another family's guardian is at the desk
    e = day.tap("P1", CARD["S3"], local("17:00:20"))
    assert (e.outcome, e.kind) == ("accepted", "left_alone")
    assert day.state.students["S3"].state == "left_alone"


def test_pickup_student_without_a_guardian_is_refused(day: Afternoon) -> None:
    e = day.tap("P1", CARD["S2"], local("17:00"))
    assert (e.outcome, e.kind, e.code) == ("denied", "refused", "needs_guardian")
    assert "S2" not in day.state.students


def test_pickup_student_with_another_guardian_raises_an_unauthorized_pickup_alert(
    day: Afternoon,
) -> None:
    day.tap("P1", CARD["P1"], local("17:00"))
    e = day.tap("P1", CARD["S2"], local("17:00:10"))
    assert (e.outcome, e.code, e.data["alert"], e.data["guardian_id"]) == (
        "denied",
        "unauthorized_pickup",
        "alert",
        "P1",
    )


def test_a_barred_guardian_raises_a_loud_alert(day: Afternoon) -> None:
    day.tap("K1", CARD["S1"], local("15:40"))
    day.tap("P1", CARD["P3"], local("17:00"))
    e = day.tap("P1", CARD["S1"], local("17:00:10"))
    assert (e.outcome, e.code, e.data["alert"]) == ("denied", "barred_guardian", "loud")
    assert day.state.students["S1"].state == "present"


@pytest.mark.parametrize("station", ["K1", "P1"])
def test_an_unknown_card_is_refused_and_recorded(day: Afternoon, station: str) -> None:
    e = day.tap(station, UNKNOWN, local("16:00"))
    assert (e.outcome, e.kind, e.card) == ("denied", "unknown_card", "4022250974")


@pytest.mark.parametrize(
    ("first", "second", "seconds", "outcome"),
    [
        ("S1", "S1", 9.9, "ignored"),
        ("S1", "S1", 10, "denied"),  # decided again: no guardian, so refused
        ("S2", "S2", 3, "ignored"),  # the first tap was refused: still debounced
        (UNKNOWN, UNKNOWN, 1, "ignored"),
    ],
)
def test_the_same_card_within_ten_seconds_has_no_new_effect(
    day: Afternoon, first: str, second: str, seconds: float, outcome: str
) -> None:
    start = local("17:00")
    day.tap("P1", CARD.get(first, first), start)
    e = day.tap("P1", CARD.get(second, second), start.replace(microsecond=0) + _s(seconds))
    assert e.outcome == outcome


@pytest.mark.parametrize(
    ("back", "outcome"),
    [
        (28, "ignored"),  # a 30 s step back, the card again 2 s later
        (1, "ignored"),
        (290, "ignored"),  # within the largest step back taken as one
        (3 * 3600, "denied"),  # hours: a clock that was far ahead, not a repeat
    ],
)
def test_a_step_back_of_the_wall_clock_counts_as_within_the_window(
    day: Afternoon, back: int, outcome: str
) -> None:
    # Taps given a moment (no monotonic reading): the wall clock is all there is.
    day.tap("P1", CARD["S2"], local("17:00"))
    e = day.tap("P1", CARD["S2"], local("17:00") - _s(back))
    assert e.outcome == outcome


def test_debounce_is_per_station_and_spans_printed_forms(day: Afternoon) -> None:
    day.tap("P1", "8E3F1A2B", local("17:00"))
    assert day.tap("P1", "0723140494", local("17:00:05")).outcome == "ignored"
    assert day.tap("K1", CARD["S1"], local("17:00:05")).outcome == "accepted"


def test_the_pickup_context_lasts_120_seconds(day: Afternoon) -> None:
    day.tap("P1", CARD["P1"], local("17:00"))
    assert day.tap("P1", CARD["S1"], local("17:01:59")).kind == "released"
    day.tap("P1", CARD["P2"], local("17:05"))
    assert day.tap("P1", CARD["S2"], local("17:07:00")).code == "needs_guardian"


def test_the_next_guardian_replaces_the_open_context(day: Afternoon) -> None:
    day.tap("P1", CARD["P1"], local("17:00"))
    e = day.tap("P1", CARD["P2"], local("17:00:30"))
    assert e.data["replaced_guardian"] == "P1"
    assert day.tap("P1", CARD["S1"], local("17:00:40")).code == "unauthorized_pickup"
    assert day.tap("P1", CARD["S2"], local("17:00:50")).kind == "released"


def test_the_context_is_per_station(day: Afternoon) -> None:
    day.tap("P1", CARD["P1"], local("17:00"))
    e = day.tap("K1", CARD["S1"], local("17:00:10"))  # a classroom tap signs in, as ever
    assert e.kind == "signed_in"


def test_reentry_after_release_signs_in_again_with_a_warning(day: Afternoon) -> None:
    day.tap("P1", CARD["P1"], local("17:00"))
    day.tap("P1", CARD["S1"], local("17:00:10"))
    e = day.tap("K1", CARD["S1"], local("17:10"))
    assert (e.outcome, e.kind, e.code, e.data["warning"]) == (
        "accepted",
        "signed_in",
        "reentry",
        "reentry",
    )
    assert day.state.students["S1"].state == "present"


def test_a_walk_alone_child_with_their_guardian_present_is_released_to_them(
    roster: Roster,
) -> None:
    # Row order matters: "whom the open context's guardian may collect" comes first.
    day = Afternoon(roster, TODAY)
    day.tap("P1", CARD["P1"], local("17:00"))
    assert day.tap("P1", CARD["S1"], local("17:00:05")).kind == "released"


def test_a_guardian_card_at_a_classroom_is_refused(day: Afternoon) -> None:
    assert day.tap("K1", CARD["P1"], local("16:00")).code == "guardian_at_classroom"


# P3 is barred from S1 and from S3 (who may walk home alone), and collects S5.
BARRED_FROM_A_WALKER = roster_files.FILES["pickup.csv"] + "S3,P3,父亲,0\nS5,P3,父亲,1\n"


@pytest.fixture
def family(tmp_path: Path) -> Roster:
    folder = roster_files.write(tmp_path / "family", **{"pickup.csv": BARRED_FROM_A_WALKER})
    return roster_mod.load(folder, version=1)


def _book() -> PickupBook:
    book = PickupBook()
    book.codes[(TODAY, "11111111")] = Code("11111111", TODAY, "S1", "guardian", "P1")
    book.codes[(TODAY, "33333333")] = Code("33333333", TODAY, "S5", "guardian", "P3")
    book.codes[(TODAY, "22222222")] = Code("22222222", TODAY, "S2", "delegate", "D1")
    book.delegates["D1"] = Delegate("D1", "S2", "张阿姨", "13900001111", None, TODAY, TODAY, "T1")
    return book


def _open(day: Afternoon, context: str, at: dt.datetime) -> None:
    """Open a pickup context at P1: a guardian's card, a code, or a pass for S1."""
    if context.startswith("card:"):
        opened = day.tap("P1", CARD[context[5:]], at)
    elif context.startswith("code:"):
        opened = day.tap("P1", context, at, Tap("P1", context, context[5:], at))
    else:
        payload = {"id": "X1", "s": "S1", "n": "外婆", "f": TODAY.isoformat(),
                   "t": TODAY.isoformat()}  # fmt: skip
        opened = day.tap("P1", "X1", at, Tap("P1", "pass:X1", "X1", at, payload))
    assert opened.kind == "pickup_opened", opened


@pytest.mark.parametrize(
    ("context", "child", "code", "alert"),
    [
        # A code or pass names one child; another child is not theirs to take.
        ("code:11111111", "S2", "unauthorized_pickup", "alert"),
        ("code:11111111", "S4", "unauthorized_pickup", "alert"),  # P1's niece: not by a code
        ("code:11111111", "S3", "left_alone", None),  # walk-alone, P1 not barred from S3
        ("code:22222222", "S1", "unauthorized_pickup", "alert"),  # a delegate's code
        ("code:22222222", "S3", "left_alone", None),
        ("pass", "S2", "unauthorized_pickup", "alert"),
        ("pass", "S3", "left_alone", None),
        # The code's adult is barred from the other child: loud, walk-alone or not.
        ("code:33333333", "S1", "barred_guardian", "loud"),
        ("code:33333333", "S3", "barred_guardian", "loud"),
        # A barred guardian's own card and their walk-alone child: never left alone.
        ("card:P3", "S3", "barred_guardian", "loud"),
        ("card:P3", "S1", "barred_guardian", "loud"),
        ("card:P2", "S3", "left_alone", None),
        # The context's own child goes with its adult.
        ("code:11111111", "S1", "released", None),
        ("code:22222222", "S2", "released", None),
        ("code:33333333", "S5", "released", None),
        ("pass", "S1", "released", None),
    ],
)
def test_a_context_and_another_child_follow_the_tap_table(
    family: Roster, context: str, child: str, code: str, alert: str | None
) -> None:
    day = Afternoon(family, TODAY, book=_book())
    day.tap("K1", CARD[child], local("16:00"))
    _open(day, context, local("17:00"))
    e = day.tap("P1", CARD[child], local("17:00:10"))
    assert (e.code, e.data.get("alert")) == (code, alert)
    assert e.outcome == ("denied" if alert else "accepted")
    if alert:
        assert day.state.students[child].state == "present"


def _s(seconds: float):  # noqa: ANN202
    import datetime as dt

    return dt.timedelta(seconds=seconds)
