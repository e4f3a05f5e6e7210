"""The gate register's roster parts: outside instructors' columns and the banned list.

Each problem is refused with file, row and column named; an instructor's card is
decided by the contract's dates, on a trusted clock only (edge.school.rules).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from edge.errors import RosterError
from edge.school import gate
from edge.school import roster as roster_mod
from edge.school.events import Tap
from edge.school.fold import DayState
from edge.school.rules import decide
from tests import roster_files
from tests.servers import local

HEADER = "staff_id,name,role,card_uid,external,organization,valid_from,valid_to\n"
CARD = "04112233445601"


def staff(row: str) -> str:
    rows = roster_files.FILES["staff.csv"].splitlines()[1:]
    return HEADER + "".join(r + ",,,,\n" for r in rows) + row + "\n"


def load(tmp_path: Path, **files: str) -> roster_mod.Roster:
    return roster_mod.load(roster_files.write(tmp_path / "r", **files), version=1)


@pytest.mark.parametrize(
    ("row", "says"),
    [
        (f"X1,黄教练,teacher,{CARD},1,星火,2026-09-01,", "column valid_to: an outside instructor"),
        (f"X1,黄教练,teacher,{CARD},1,星火,2026-09-01,明年", "valid_to '明年' is not a date"),
        (f"X1,黄教练,teacher,{CARD},0,,2026-09-01,2026-12-31", "column external: contract dates"),
        (f"X1,黄教练,teacher,{CARD},1,,2026-12-01,2026-09-01", "is before valid_from"),
        (f"X1,黄教练,teacher,{CARD},maybe,,,2026-12-31", "column external: 'maybe' is not 1 or 0"),
    ],
)
def test_an_outside_instructors_row_is_checked(tmp_path, row, says) -> None:
    with pytest.raises(RosterError, match=says) as caught:
        load(tmp_path, **{"staff.csv": staff(row)})
    assert caught.value.file == "staff.csv"


def test_the_banned_list_keeps_only_a_keyed_hash_of_each_number(tmp_path) -> None:
    number = "44030119750505567" + "X"
    total = sum(int(d) * w for d, w in zip(number[:17], (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9,
                                                         10, 5, 8, 4, 2), strict=True))  # fmt: skip
    number = number[:17] + "10X98765432"[total % 11]
    school = roster_files.FILES["school.toml"] + '[gate]\ndocument_key = "campus-7f3a9c0d1e2b"\n'
    roster = load(tmp_path, **{"visitors_banned.csv": f"姓名,证件号,原因\n钱某,{number},滋事\n",
                               "school.toml": school})  # fmt: skip
    (banned,) = roster.banned
    key = gate.document_key(school)
    assert banned.document_hash == gate.document_hash(key, number)
    assert banned.last4 == number[-4:]
    cell = roster.tables["visitors_banned"][0]["document_no"]
    assert number not in cell
    assert cell.startswith("hmac:")
    again = roster_mod.build(roster.tables, roster.school_toml, version=2)  # as the store reads
    assert again.banned == roster.banned


def test_a_banned_rows_bad_document_is_refused(tmp_path) -> None:
    with pytest.raises(RosterError, match="visitors_banned.csv, row 2, column document_no"):
        load(tmp_path, **{"visitors_banned.csv": "name,document_no,reason\n钱某,12,x\n"})


def test_an_instructors_card_follows_the_contract_and_a_trusted_clock(tmp_path) -> None:
    roster = load(tmp_path, **{"staff.csv": staff(f"X1,黄教练,teacher,{CARD},1,星火,,2026-11-30")})
    key = next(k for k, v in roster.cards.items() if v == ("staff", "X1"))
    last = dt.date(2026, 11, 30)
    state = DayState(last)
    inside = decide(Tap("P1", key, CARD, local("15:40", last)), roster, state)
    assert (inside.outcome, inside.code, inside.data) == (
        "accepted",
        "instructor_in",
        {"gate": "in"},
    )
    after = DayState(last + dt.timedelta(days=1))
    refused = decide(
        Tap("P1", key, CARD, local("15:40", last + dt.timedelta(days=1))), roster, after
    )
    assert (refused.outcome, refused.code) == ("denied", "contract_ended")
    unsure = decide(Tap("P1", key, CARD, local("15:40", last)), roster, state, clock_trusted=False)
    assert unsure.code == "clock_untrusted"
