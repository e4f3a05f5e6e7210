"""Taps made on a wrong clock are placed by the kiosk's later clock step (edge.school.placement)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.clock import to_millis
from edge.school import schema
from edge.school.events import Event
from edge.school.placement import CLOCK_STEPPED, usable
from edge.store.events import insert_events
from edge.store.ledger import Ledger

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = dt.date(2026, 11, 26)
REAL = dt.datetime(2026, 11, 26, 16, 5, tzinfo=SHANGHAI)  # when the child really tapped
DAY = dt.timedelta(days=1)


def made(seq: int, at: dt.datetime, *, synced: bool, kind: str = "signed_in",
         code: str = "signed_in", data: dict | None = None, node: str = "kiosk-c",
         subject: str | None = "S1") -> Event:  # fmt: skip
    """Return one event of a kiosk's chain as its writer would have stamped it."""
    return Event(
        node_id=node, epoch="e1", seq=seq, hlc=to_millis(at) << 16, at=at,
        day=at.astimezone(SHANGHAI).date(), station="K1", kind=kind, outcome="accepted",
        code=code, card=None, uid=None, subject_kind="student" if subject else None,
        subject_id=subject, data={"group_id": "G1"} if data is None else data,
        roster_version=1, clock_synced=synced,
    )  # fmt: skip


def stepped(seq: int, at: dt.datetime, seconds: object, since: object = 1) -> Event:
    """Return a clock_stepped action: ``since`` is the first seq of its process (boot)."""
    return made(seq, at, synced=True, kind="action", code=CLOCK_STEPPED,
                data={"step_seconds": seconds, "since_seq": since}, subject=None)  # fmt: skip


def ledger_with(tmp_path: Path, events: list[Event]) -> Ledger:
    ledger = Ledger(tmp_path / "ledger.db", "hub")
    ledger.write(lambda conn: insert_events(conn, events))
    return ledger


def test_a_day_behind_sign_in_counts_on_the_day_it_happened(tmp_path: Path) -> None:
    wrong = REAL - DAY  # the Pi booted on yesterday's date
    ledger = ledger_with(tmp_path, [
        made(1, wrong, synced=False),
        stepped(2, REAL + dt.timedelta(minutes=1), 86400.0),
        made(3, REAL + dt.timedelta(minutes=2), synced=True, subject="S2"),
    ])  # fmt: skip
    today = list(ledger.iter_day(TODAY, tz=SHANGHAI))
    assert [(e.subject_id, e.at) for e in today if e.kind == "signed_in"] == [
        ("S1", REAL),
        ("S2", REAL + dt.timedelta(minutes=2)),
    ]  # placed at its real moment, in order before the later tap
    assert all(e.day == TODAY for e in today)
    assert not [e for e in ledger.iter_day(TODAY - DAY, tz=SHANGHAI) if e.kind == "signed_in"]
    # As stamped, without the school's zone (the chain itself is left as it was made):
    assert [e.subject_id for e in ledger.iter_day(TODAY - DAY)] == ["S1"]
    # A picture as of a moment takes the placed moment:
    before = list(ledger.iter_day(TODAY, until=REAL - dt.timedelta(seconds=1), tz=SHANGHAI))
    assert not [e for e in before if e.subject_id == "S1"]
    assert [e.subject_id for e in ledger.iter_day(TODAY, until=REAL, tz=SHANGHAI)] == ["S1"]


def test_each_step_corrects_only_the_taps_made_before_it_since_the_last(tmp_path: Path) -> None:
    # Yesterday the Pi was an hour fast until it reached the hub; today it booted a day
    # behind and is still offline: no step follows today's taps yet, they stay put.
    hour = dt.timedelta(hours=1)
    ledger = ledger_with(tmp_path, [
        made(1, REAL - DAY + hour, synced=False),
        stepped(2, REAL - DAY + dt.timedelta(minutes=5), -3600.0),
        made(3, REAL - DAY, synced=False, subject="S2"),
    ])  # fmt: skip
    yesterday = [e for e in ledger.iter_day(TODAY - DAY, tz=SHANGHAI) if e.kind == "signed_in"]
    assert [(e.subject_id, e.at) for e in yesterday] == [("S1", REAL - DAY), ("S2", REAL - DAY)]


def test_a_step_never_moves_the_taps_of_an_earlier_boot(tmp_path: Path) -> None:
    # Yesterday the Pi's unsynced taps got no step of their own (NTP set its clock before
    # it reached the hub); today it boots a day behind (its process starts at seq 2) and
    # steps: yesterday's taps stay on yesterday, today's move to today.
    ledger = ledger_with(tmp_path, [
        made(1, REAL - DAY, synced=False),
        made(2, REAL - DAY, synced=False, subject="S2"),
        stepped(3, REAL + dt.timedelta(minutes=1), 86400.0, since=2),
    ])  # fmt: skip
    assert [e.subject_id for e in ledger.iter_day(TODAY - DAY, tz=SHANGHAI)] == ["S1"]
    today = [e for e in ledger.iter_day(TODAY, tz=SHANGHAI) if e.kind == "signed_in"]
    assert [(e.subject_id, e.at) for e in today] == [("S2", REAL)]


def test_a_forged_step_cannot_carry_taps_past_itself_or_weeks_back(tmp_path: Path) -> None:
    # A stolen kiosk signs a step that would move its taps after the step (into the
    # future) or a month before it: neither moves anything.
    ledger = ledger_with(tmp_path, [
        made(1, REAL, synced=False),
        stepped(2, REAL + dt.timedelta(minutes=1), 2 * 86400.0),
        made(3, REAL, synced=False, subject="S2"),
        stepped(4, REAL + dt.timedelta(minutes=2), -30 * 86400.0, since=3),
    ])  # fmt: skip
    today = [e for e in ledger.iter_day(TODAY, tz=SHANGHAI) if e.kind == "signed_in"]
    assert [(e.subject_id, e.at) for e in today] == [("S1", REAL), ("S2", REAL)]


def test_a_step_across_days_is_found_from_either_side(tmp_path: Path) -> None:
    ahead = REAL + 2 * DAY  # two days fast: stamped on a day after today
    ledger = ledger_with(
        tmp_path,
        [made(1, ahead, synced=False), stepped(2, REAL + dt.timedelta(minutes=1), -2 * 86400.0)],
    )
    assert [e.at for e in ledger.iter_day(TODAY, tz=SHANGHAI) if e.kind == "signed_in"] == [REAL]
    assert not list(ledger.iter_days(TODAY + DAY, TODAY + 3 * DAY, tz=SHANGHAI))


@pytest.mark.parametrize(
    ("seconds", "since"),
    [
        ("86400", 1),
        (None, 1),
        (True, 1),
        (1e12, 1),
        (-400 * 86400 - 1, 1),
        (60, 0),
        (60, "1"),
        (60, True),
    ],
)
def test_a_clock_step_that_is_not_a_bounded_number_is_refused(
    seconds: object, since: object
) -> None:
    wrong = schema.event_problem(stepped(2, REAL, seconds, since), REAL)
    assert wrong is not None
    assert "step_seconds" in wrong or "since_seq" in wrong
    assert schema.event_problem(stepped(2, REAL, 86400.0), REAL) is None
    assert not usable(float("nan"))


def test_a_refused_step_in_a_ledger_moves_nothing(tmp_path: Path) -> None:
    # A step the schema would refuse (as if written by hand into a file) is left out.
    ledger = ledger_with(
        tmp_path,
        [made(1, REAL - DAY, synced=False), stepped(2, REAL, "86400"), stepped(3, REAL, 1e12)],
    )
    assert not ledger.clock_steps()
    assert [e.at for e in ledger.iter_day(TODAY - DAY, tz=SHANGHAI)] == [REAL - DAY]
