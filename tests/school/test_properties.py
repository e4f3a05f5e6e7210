"""Properties of rules + fold over random afternoons (hypothesis)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from edge.clock import HybridLogicalClock
from edge.projection import picture
from edge.school import cards
from edge.school import roster as roster_mod
from edge.school.events import Event, Tap
from edge.school.fold import fold
from edge.school.pickup import fold_book
from edge.school.rules import Timing, decide
from tests.afternoon import Afternoon
from tests.roster_files import CARD, FILES, TODAY, UNKNOWN
from tests.servers import local

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
CARD_KEYS = {who: cards.normalize(uid) for who, uid in CARD.items()}

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


# -- authority that has ended never releases, whatever the clocks and the delivery order --

PICKUPS = ["P1", "P2", "P3"]  # one pickup point per node
_NODE_FILES = {
    **FILES,
    "stations.csv": FILES["stations.csv"] + "P2,西门接送点,pickup,\nP3,北门接送点,pickup,\n",
}
_BARRED_FILES = {
    **_NODE_FILES,
    "pickup.csv": FILES["pickup.csv"].replace("S1,P1,母亲,1", "S1,P1,母亲,0"),
}


def _build(files: dict[str, str]) -> roster_mod.Roster:
    return roster_mod.build(
        {
            name.removesuffix(".csv"): [
                {"_row": str(i + 2), **row}
                for i, row in enumerate(csv.DictReader(io.StringIO(text)))
            ]
            for name, text in files.items()
            if name.endswith(".csv")
        },
        files["school.toml"],
        version=1,
    )


OPEN_ROSTER, BARRED_ROSTER = _build(_NODE_FILES), _build(_BARRED_FILES)
PASS = {"id": "X1", "s": "S1", "n": "外婆", "f": TODAY.isoformat(), "t": TODAY.isoformat()}


class Node:
    """One node of the model: its own clock offset and HLC, the events it has received."""

    def __init__(self, index: int, offset: int) -> None:
        self.node_id, self.offset, self.station = f"n{index}", offset, PICKUPS[index]
        self.hlc = HybridLogicalClock()
        self.events: dict[str, Event] = {}
        self.barred = False  # the roster barring P1 from S1 has reached this node
        self.seq = 0

    def record(self, at: dt.datetime, kind: str, code: str, card: str | None,
               subject: tuple[str | None, str | None], data: dict, outcome: str = "accepted",
               station: str | None = None) -> Event:  # fmt: skip
        self.seq += 1
        event = Event(self.node_id, "e", self.seq, self.hlc.stamp(at), at, TODAY,
                      station or self.station, kind, outcome, code, card, card, subject[0],
                      subject[1], data, 1, True)  # fmt: skip
        self.events[event.event_id] = event
        return event

    def tap(self, card: str, at: dt.datetime, credential: dict | None = None) -> Event:
        roster = BARRED_ROSTER if self.barred else OPEN_ROSTER
        book = fold_book([e for e in self.events.values() if e.kind == "action"])
        state = fold(TODAY, [e for e in self.events.values() if e.kind != "action"])
        tap = Tap(self.station, card, card, at, credential)
        d = decide(tap, roster, state, Timing(), book)
        return self.record(at, d.kind, d.code, card, (d.subject_kind, d.subject_id), d.data,
                           d.outcome)  # fmt: skip

    def ended(self, event: Event) -> str | None:
        """Return how the adult of a release had lost authority by what this node knew."""
        data, known = event.data, self.events.values()
        if data.get("guardian_id") == "P1" and self.barred:
            return "barred"
        revoked = {e.data.get("grant_id") for e in known if e.code == "delegate_revoked"}
        if data.get("delegate_id") in revoked:
            return "revoked"
        if data.get("pass_id") and any(e.code == "pass_revoked" for e in known):
            return "pass revoked"
        return None


steps = st.lists(
    st.one_of(
        st.tuples(st.just("grant"), st.integers(0, 2)),
        st.tuples(st.just("revoke"), st.integers(0, 2), st.integers(0, 5)),
        st.tuples(st.just("code"), st.integers(0, 2), st.integers(0, 5)),
        st.tuples(st.just("bar"), st.integers(0, 2)),
        st.tuples(st.just("unpass"), st.integers(0, 2)),
        st.tuples(st.just("deliver"), st.integers(0, 2), st.integers(0, 2)),
        st.tuples(st.just("deliver"), st.integers(0, 2), st.integers(0, 2)),
        st.tuples(st.just("pickup"), st.integers(0, 2), st.sampled_from(["card", "code", "pass"])),
        st.tuples(st.just("pickup"), st.integers(0, 2), st.just("code")),
    ),
    min_size=8,
    max_size=30,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps, st.lists(st.sampled_from([-600, -5, 0, 7, 600]), min_size=3, max_size=3),
       st.lists(st.tuples(st.integers(1, 40), st.sampled_from([-900, 0, 0, 900])), min_size=30,
                max_size=30), st.randoms(use_true_random=False))  # fmt: skip
@example(  # the hub granted with its clock 10 minutes ahead; a kiosk 10 minutes behind revoked
    [("grant", 0), ("deliver", 0, 1), ("code", 1, 0), ("revoke", 1, 0), ("pickup", 1, "code")],
    [600, -600, 0],
    [(5, 0)] * 30,
    random.Random(1),
)
def test_no_release_to_an_adult_whose_authority_had_ended_whatever_the_clocks(
    plan, offsets, moves, rnd: random.Random
) -> None:
    """Each node has its own offset; an action's wall time may also jump (a Pi booted
    with an old time): a revocation may be stamped before the grant it ends."""
    nodes = [Node(i, offset) for i, offset in enumerate(offsets)]
    real = local("16:00")
    grants: list[str] = []
    for n, step in enumerate(plan):
        real += dt.timedelta(seconds=moves[n][0])
        node = nodes[step[1]]
        what = step[0]
        skew = moves[n][1] if what not in ("pickup", "deliver") else 0
        at = real + dt.timedelta(seconds=node.offset + skew)
        if what == "grant" and len(grants) < 2:
            grants.append(f"D{len(grants)}")
            node.record(at, "action", "delegate_granted", None, ("staff", "A1"), {
                "grant_id": grants[-1], "student_id": "S2", "name": "张阿姨",
                "phone": "13900001111", "from": TODAY.isoformat(), "to": TODAY.isoformat()},
                station="api")  # fmt: skip
        elif what == "revoke" and grants:
            node.record(at, "action", "delegate_revoked", None, ("staff", "A1"),
                        {"grant_id": grants[step[2] % len(grants)]}, station="api")  # fmt: skip
        elif what == "code":
            to_delegate = bool(grants) and step[2] < 4
            adult = (
                ("delegate", grants[step[2] % len(grants)]) if to_delegate else ("guardian", "P1")
            )
            node.record(at, "action", "pickup_code_issued", None, ("staff", "A1"), {
                "code": f"{n:08d}", "day": TODAY.isoformat(),
                "student_id": "S2" if to_delegate else "S1", "adult_kind": adult[0],
                "adult_id": adult[1]}, station="api")  # fmt: skip
        elif what == "bar":
            node.barred = True  # the roster swap reaches nodes one by one (deliver carries it)
        elif what == "unpass":
            node.record(at, "action", "pass_revoked", None, ("staff", "A1"), {"pass_id": "X1"},
                        station="api")  # fmt: skip
        elif what == "deliver":
            target = nodes[step[2]]
            batch = [e for k, e in node.events.items() if k not in target.events]
            rnd.shuffle(batch)
            for event in batch:  # whatever order; the clocks are not fed: any offsets hold
                target.events[event.event_id] = event
            target.barred = target.barred or node.barred
        elif what == "pickup":
            how = step[2]
            if how == "card":
                node.tap(CARD_KEYS["P1"], at)
                child = "S1"
            elif how == "pass":
                node.tap("pass:X1", at, PASS)
                child = "S1"
            else:
                codes = [e for e in node.events.values() if e.code == "pickup_code_issued"]
                if not codes:
                    continue
                issued = codes[-1]  # the last one this node heard of
                node.tap("code:" + issued.data["code"], at)
                child = issued.data["student_id"]
            released = node.tap(CARD_KEYS[child], at + dt.timedelta(seconds=3))
            if released.kind == "released":
                assert node.ended(released) is None, (released.data, node.ended(released))
