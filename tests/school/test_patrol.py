"""Patrol rounds as pure rules: [patrol] in school.toml, checkpoints.csv, rounds at a moment."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.errors import RosterError
from edge.school import calendar, cards, patrol
from edge.school import roster as roster_mod
from edge.school.calendar import CalendarError
from edge.school.events import Event, Tap
from tests import roster_files
from tests.afternoon import Afternoon
from tests.roster_files import CARD, TODAY
from tests.servers import local

TZ = ZoneInfo("Asia/Shanghai")
POINT = "checkpoint_id,name,card_uid,place\nCP1,东楼梯,04CC000001,东楼二层\n"


def at(hhmm: str) -> dt.datetime:
    hour, minute = (int(p) for p in hhmm.split(":"))
    return dt.datetime.combine(TODAY, dt.time(hour, minute), tzinfo=TZ)


def plan(text: str) -> patrol.PatrolPlan:
    found = calendar.parse(text).patrol
    assert found is not None
    return found


def test_rounds_are_due_every_n_minutes_to_the_service_end() -> None:
    every = plan('[patrol]\nevery_minutes = 40\nfrom = "16:00"\n')
    dues = every.due_times(TODAY, TZ, at("18:00"))
    assert [d.strftime("%H:%M") for d in dues] == ["16:40", "17:20", "18:00"]
    assert every.roles == {"duty_leader", "guard"}  # the default patrollers
    fixed = plan('[patrol]\ntimes = ["17:15", "16:30"]\nfrom = "16:00"\nroles = ["guard"]\n')
    assert [d.strftime("%H:%M") for d in fixed.due_times(TODAY, TZ, at("18:00"))] == [
        "16:30",
        "17:15",
    ]
    assert calendar.parse("").patrol is None  # no [patrol]: no rounds


def test_a_round_is_done_open_incomplete_or_missed_at_a_moment() -> None:
    every = plan('[patrol]\nevery_minutes = 30\nfrom = "16:00"\n')
    visits = [
        patrol.Visit("K1", at("16:05"), "L1", "n:e:1", "station"),
        patrol.Visit("CP1", at("16:20"), "L1", "n:e:2", "checkpoint"),
        patrol.Visit("K1", at("16:45"), "GU", "n:e:3", "station"),
    ]
    found = patrol.rounds(every, TODAY, TZ, at("17:30"), ["K1", "CP1"], visits, at("17:10"))
    assert [(r.due.strftime("%H:%M"), r.state) for r in found] == [
        ("16:30", "done"),
        ("17:00", "incomplete"),
        ("17:30", "open"),
    ]
    assert found[1].not_yet == ("CP1",)
    assert found[1].alert
    later = patrol.rounds(every, TODAY, TZ, at("17:30"), ["K1", "CP1"], visits, at("17:31"))
    assert later[2].state == "missed"
    assert later[2].alert
    # A visit at the very moment a round is due belongs to the next one.
    edge = [patrol.Visit("K1", at("16:30"), "L1", "n:e:4", "station")]
    split = patrol.rounds(every, TODAY, TZ, at("17:00"), ["K1"], edge, at("17:00"))
    assert [r.state for r in split] == ["missed", "done"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[patrol]\n", "needs every_minutes"),
        ("[patrol]\nevery_minutes = 1\n", "from 5 to 240"),
        ("[patrol]\nevery_minutes = true\n", "from 5 to 240"),
        ('[patrol]\nevery_minutes = 30\nroles = ["student"]\n', "role 'student'"),
        ('[patrol]\nevery_minutes = 30\nfrom = "25:00"\n', "time of day"),
        ("[patrol]\nevery_minutes = 30\nevery = 5\n", "'every' is not a setting"),
        ('[patrol]\ntimes = "16:00"\n', "must be a list"),
        ('[patrol]\nevery_minutes = 30\nplaces = ["a b"]\n', "not a station or checkpoint id"),
        ("patrol = 3\n", "must be a table"),
    ],
)
def test_a_wrong_patrol_setting_says_what_is_wrong(text: str, words: str) -> None:
    with pytest.raises(CalendarError, match=words):
        calendar.parse(text)


def test_checkpoints_are_read_with_their_tags_as_cards(tmp_path: Path) -> None:
    folder = roster_files.write(tmp_path / "r", **{"checkpoints.csv": POINT})
    roster = roster_mod.load(folder, version=1)
    assert roster.checkpoints["CP1"].name == "东楼梯"
    assert roster.cards[roster.checkpoints["CP1"].card] == ("checkpoint", "CP1")
    # absent: the feature is off, nothing else changes
    assert roster_mod.load(roster_files.write(tmp_path / "plain"), version=1).checkpoints == {}


@pytest.mark.parametrize(
    ("text", "row", "column", "words"),
    [
        (f"checkpoint_id,name,card_uid\nCP1,东楼梯,{CARD['S1']}\n", 2, "card_uid", "already"),
        ("checkpoint_id,name,card_uid\nCP1,东楼梯,\n", 2, "card_uid", "empty"),
        ("checkpoint_id,name,card_uid\nK1,东楼梯,04CC000001\n", 2, "checkpoint_id", "station"),
        ("checkpoint_id,name,card_uid\nCP 1,东楼梯,04CC000001\n", 2, "checkpoint_id", "letters"),
        ("checkpoint_id,name,card_uid\nCP1,东\x1b[2J楼梯,04CC000001\n", 2, "name", "control"),
        ("checkpoint_id,name,card_uid\nCP1,,04CC000001\n", 2, "name", "empty"),
        ("checkpoint_id,name\nCP1,东楼梯\n", 1, "card_uid", "no 'card_uid' column"),
        (
            "checkpoint_id,name,card_uid\nCP1,东楼梯,04CC000001\nCP2,西楼梯,04cc000001\n",
            3,
            "card_uid",
            "already the card of checkpoints.csv row 2",
        ),
    ],
)
def test_a_broken_checkpoint_row_is_named_by_file_row_and_column(
    tmp_path: Path, text: str, row: int, column: str, words: str
) -> None:
    folder = roster_files.write(tmp_path / "r", **{"checkpoints.csv": text})
    with pytest.raises(RosterError) as caught:
        roster_mod.load(folder, version=1)
    assert (caught.value.file, caught.value.row, caught.value.column) == (
        "checkpoints.csv",
        row,
        column,
    )
    assert words in caught.value.sentence()


def test_patrol_places_must_be_stations_or_checkpoints(tmp_path: Path) -> None:
    toml = roster_files.FILES["school.toml"] + '[patrol]\nevery_minutes = 30\nplaces = ["K9"]\n'
    folder = roster_files.write(tmp_path / "r", **{"school.toml": toml})
    with pytest.raises(RosterError, match="place 'K9'"):
        roster_mod.load(folder, version=1)


@pytest.fixture
def patrolled(tmp_path: Path) -> Afternoon:
    toml = roster_files.FILES["school.toml"] + '[patrol]\nevery_minutes = 30\nfrom = "16:00"\n'
    folder = roster_files.write(tmp_path / "r", **{"school.toml": toml, "checkpoints.csv": POINT})
    return Afternoon(roster_mod.load(folder, version=1), TODAY)


def test_a_patrol_tap_records_a_visit_and_moves_no_custody(patrolled: Afternoon) -> None:
    patrolled.tap("K1", CARD["S1"], local("15:40"))
    patrolled.tap("K1", CARD["T1"], local("15:45"))
    visit = patrolled.tap("K1", CARD["L1"], local("16:05"))
    assert (visit.kind, visit.code, visit.subject_id) == ("patrol_visit", "patrol_visit", "L1")
    assert (visit.data["head_count"], visit.data["missing"]) == (1, ["S2", "S3"])
    assert visit.data["custodian"] == "T1"
    assert patrolled.state.custodians["G1"][0] == "T1"
    # A minute later (past the 60 s window) the same card is another visit, not a takeover.
    late = patrolled.tap("K1", CARD["L1"], local("16:06:05"))
    assert late.kind == "patrol_visit"
    taken = patrolled.tap("K1", CARD["L1"], local("16:06:50"))  # 45 s after that visit
    assert (taken.kind, taken.data["confirms"], taken.data["confirmed"]) == (
        "custody_taken",
        late.event_id,
        "tap",
    )
    assert patrolled.state.custodians["G1"][0] == "L1"
    # A teacher's card at a classroom takes custody as before; a guard's visits elsewhere.
    assert patrolled.tap("K2", CARD["T2"], local("16:10")).kind == "custody_taken"
    guard = patrolled.tap("K2", CARD["GU"], local("16:11"))
    assert guard.kind == "patrol_visit"
    # The screen's confirm: never debounced; naming another visit, it takes nothing over.
    card = cards.normalize(CARD["GU"])

    def confirm(visit: str, hhmmss: str) -> Event:
        sent = Tap("K2", card, CARD["GU"], local(hhmmss), {"patrol_confirm": visit})
        return patrolled.tap("K2", CARD["GU"], local(hhmmss), sent)

    wrong = confirm("x:0:1", "16:11:02")
    assert (wrong.outcome, wrong.code) == ("denied", "patrol_confirm_expired")
    right = confirm(guard.event_id, "16:11:03")
    assert (right.code, right.data["confirmed"]) == ("patrol_custody_taken", "screen")
    assert patrolled.state.custodians["G2"][0] == "GU"
    assert confirm(guard.event_id, "16:11:04").outcome == "denied"  # done once


def test_without_patrol_a_duty_leader_takes_custody_as_before(day_plain: Afternoon) -> None:
    day_plain.tap("K1", CARD["S1"], local("15:40"))
    assert day_plain.tap("K1", CARD["L1"], local("16:05")).kind == "custody_taken"


@pytest.fixture
def day_plain(roster: roster_mod.Roster) -> Afternoon:
    return Afternoon(roster, TODAY)
