"""Roster import: all or nothing, every broken file named by file, row and column."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook

from edge.errors import RosterError
from edge.school import roster as roster_mod
from edge.store.ledger import Ledger
from tests import roster_files
from tests.roster_files import FILES

CLI = [sys.executable, "-m", "edge"]


def cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CAMPUS_EDGE_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=env, check=False, timeout=60
    )


def test_a_good_bundle_builds_the_roster(roster: roster_mod.Roster) -> None:
    assert set(roster.students) == {"S1", "S2", "S3", "S4", "S5"}
    assert roster.cards["0723140494"] == ("guardian", "P1")
    assert roster.cards["0001193046"] == ("guardian", "P3")
    assert roster.students["S3"].walk_alone
    assert not roster.pickup[("S1", "P3")].allowed
    assert roster.expected_in_group("G1", roster_files.TODAY) == ["S1", "S2", "S3", "S4"]
    assert roster.on_leave("S4", roster_files.TODAY)


def test_chinese_headers_and_a_gbk_csv_from_chinese_excel(tmp_path: Path) -> None:
    folder = roster_files.write(tmp_path / "r")
    students = (
        "学号,姓名,年级,班级,卡号,自行离校\n"
        "S1,小明,一年级,一年级1班,04A1A1A1,否\nS2,小红,1,一年级1班,04B2B2B2,0\n"
        "S3,小刚,五,五年级2班,04C3C3C3,是\nS4,小丽,1,一年级2班,04D4D4D4,\n"
        "S5,小强,2,二年级1班,04E5E5E5,0\n"
    )
    (folder / "students.csv").write_bytes(students.encode("gb18030"))
    (folder / "guardians.csv").write_text(
        "\ufeff家长编号,姓名,手机,接送卡号\n" + FILES["guardians.csv"].split("\n", 1)[1],
        encoding="utf-8",
    )
    roster = roster_mod.load(folder, version=1)
    assert roster.students["S1"].name == "小明"
    assert roster.students["S1"].grade == 1
    assert roster.students["S3"].walk_alone
    assert roster.guardians["P1"].phone == "13800000001"


def _workbook(path: Path, drop: str | None = None) -> Path:
    import csv
    import io

    book = Workbook()
    book.remove(book.active)
    for name, text in FILES.items():
        if not name.endswith(".csv") or name.removesuffix(".csv") == drop:
            continue
        sheet = book.create_sheet(name.removesuffix(".csv"))
        for row in csv.reader(io.StringIO(text)):
            # Excel stores card numbers typed as digits as numbers, losing leading zeros.
            sheet.append([int(c) if c.isdigit() and len(c) == 10 else c for c in row])
    book.save(path)
    (path.parent / "school.toml").write_text(FILES["school.toml"], encoding="utf-8")
    return path


def test_an_xlsx_workbook_with_sheets_of_the_same_names(tmp_path: Path) -> None:
    roster = roster_mod.load(_workbook(tmp_path / "roster.xlsx"), version=1)
    assert roster.cards["0723140494"] == ("guardian", "P1")
    assert roster.calendar.timezone == "Asia/Shanghai"


BROKEN = [
    # (file changed, its new text, file named, row, column, words)
    (
        "students.csv",
        "student_id,name,grade,class\nS1,小明,1,一年级1班\n",
        "students.csv",
        None,
        None,
        "no 'card_uid' column",
    ),
    (
        "students.csv",
        FILES["students.csv"] + "S1,重复,1,一年级1班,04FFFFFF,0\n",
        "students.csv",
        7,
        "student_id",
        "also on row 2",
    ),
    (
        "students.csv",
        FILES["students.csv"] + "S9,新生,七年半,一年级1班,04FFFFFF,0\n",
        "students.csv",
        7,
        "grade",
        "not a grade",
    ),
    (
        "students.csv",
        FILES["students.csv"] + "S9,新生,1,一年级1班,04A1A1A1,0\n",
        "students.csv",
        7,
        "card_uid",
        "already the card of students.csv row 2",
    ),
    (
        "students.csv",
        FILES["students.csv"] + "S9,新生,1,一年级1班,XYZ,0\n",
        "students.csv",
        7,
        "card_uid",
        "neither hex",
    ),
    (
        "students.csv",
        FILES["students.csv"] + "S9,新生,1,一年级1班,04FFFFFF,maybe\n",
        "students.csv",
        7,
        "walk_alone",
        "not 1 or 0",
    ),
    (
        "students.csv",
        FILES["students.csv"] + "S9,,1,一年级1班,04FFFFFF,0\n",
        "students.csv",
        7,
        "name",
        "'name' is empty",
    ),
    (
        "students.csv",
        FILES["students.csv"] + "S9,张,三,1,一年级1班,04FFFFFF,0\n",
        "students.csv",
        7,
        None,
        "unquoted comma",
    ),
    (
        "guardians.csv",
        FILES["guardians.csv"] + "P9,某人,call me,\n",
        "guardians.csv",
        5,
        "phone",
        "not a phone number",
    ),
    (
        "pickup.csv",
        FILES["pickup.csv"] + "S99,P1,母亲,1\n",
        "pickup.csv",
        6,
        "student_id",
        "not in students.csv",
    ),
    (
        "pickup.csv",
        FILES["pickup.csv"] + "S2,P1,母亲,\n",
        "pickup.csv",
        6,
        "allowed",
        "'allowed' is empty",
    ),
    (
        "staff.csv",
        FILES["staff.csv"] + "T9,某老师,janitor,\n",
        "staff.csv",
        7,
        "role",
        "not one of",
    ),
    (
        "groups.csv",
        FILES["groups.csv"] + "G9,某组,party,T1,1\n",
        "groups.csv",
        4,
        "kind",
        "not basic or club",
    ),
    (
        "groups.csv",
        FILES["groups.csv"] + "G9,某组,basic,T99,1\n",
        "groups.csv",
        4,
        "staff_id",
        "not in staff.csv",
    ),
    (
        "enrollments.csv",
        FILES["enrollments.csv"] + 'S1,G1,"1,8"\n',
        "enrollments.csv",
        7,
        "weekdays",
        "not a list of days",
    ),
    (
        "enrollments.csv",
        FILES["enrollments.csv"] + "S1,G9,1\n",
        "enrollments.csv",
        7,
        "group_id",
        "not in groups.csv",
    ),
    (
        "stations.csv",
        FILES["stations.csv"] + "K9,某教室,classroom,\n",
        "stations.csv",
        5,
        "group_id",
        "needs its group_id",
    ),
    (
        "students.csv",
        FILES["students.csv"] + "S" * 65 + ",甲,1,1班,04FFFFF1,0\n",
        "students.csv",
        7,
        "student_id",
        "ids have at most 64",
    ),
    (
        "guardians.csv",
        FILES["guardians.csv"] + "P\x1b9,乙,13800000009,04FFFFF3\n",
        "guardians.csv",
        5,
        "guardian_id",
        "control character",
    ),
    (
        "stations.csv",
        FILES["stations.csv"] + "K 9/x,某教室,classroom,G1\n",
        "stations.csv",
        5,
        "station_id",
        "may hold only",
    ),
    (
        "leave.csv",
        FILES["leave.csv"] + "S1,2026-13-40,病假\n",
        "leave.csv",
        3,
        "date",
        "not a date",
    ),
    (
        "school.toml",
        'timezone = "Nowhere/Land"\n',
        "school.toml",
        None,
        None,
        "not a known time zone",
    ),
    (  # an escape sequence in a name would reach the screen, the ledger's sentences, logs
        "students.csv",
        FILES["students.csv"].replace("小明", "小\x1b[31m明"),
        "students.csv",
        2,
        "name",
        "holds a control character (U+001B)",
    ),
    (  # a right-to-left override would show the name backwards on the guard's screen
        "students.csv",
        FILES["students.csv"].replace("小明", "小\u202e明"),
        "students.csv",
        2,
        "name",
        "(U+202E)",
    ),
    ("staff.csv", "", "staff.csv", None, None, "missing"),
    ("groups.csv", "\n\n", "groups.csv", None, None, "is empty"),
]


@pytest.mark.parametrize(("name", "text", "file", "row", "column", "words"), BROKEN)
def test_a_broken_file_is_refused_naming_file_row_and_column(
    tmp_path: Path,
    name: str,
    text: str,
    file: str,
    row: int | None,
    column: str | None,
    words: str,
) -> None:
    folder = roster_files.write(tmp_path / "r")
    if text == "":
        (folder / name).unlink()
    else:
        (folder / name).write_text(text, encoding="utf-8")
    with pytest.raises(RosterError) as caught:
        roster_mod.load(folder, version=1)
    err = caught.value
    assert err.file == file
    if row is not None:
        assert err.row == row
    if column is not None:
        assert err.column == column
    assert words in err.sentence()


def test_several_problems_are_all_listed(tmp_path: Path) -> None:
    folder = roster_files.write(tmp_path / "r")
    (folder / "students.csv").write_text(
        FILES["students.csv"] + "S8,甲,0,x,04FFFFF1,0\nS9,乙,1,x,04FFFFF2,2\n", encoding="utf-8"
    )
    with pytest.raises(RosterError) as caught:
        roster_mod.load(folder, version=1)
    text = caught.value.sentence()
    assert "row 7, column grade" in text
    assert "row 8, column walk_alone" in text


def test_binary_garbage_and_a_fake_workbook_are_refused(tmp_path: Path) -> None:
    folder = roster_files.write(tmp_path / "r")
    (folder / "students.csv").write_bytes(b"\x00\x01\x02\xff\xfe" * 50)
    with pytest.raises(RosterError, match="students.csv"):
        roster_mod.load(folder, version=1)
    fake = tmp_path / "roster.xlsx"
    fake.write_text("this is not a workbook")
    with pytest.raises(RosterError, match="cannot be opened as an Excel workbook"):
        roster_mod.load(fake, version=1)
    with pytest.raises(RosterError, match="has no sheet named 'stations'"):
        roster_mod.load(_workbook(tmp_path / "w.xlsx", drop="stations"), version=1)


def test_cli_import_shows_progress_and_a_refusal_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    good = roster_files.write(tmp_path / "good")
    first = cli("roster", "import", str(good), data_dir=data)
    assert first.returncode == 0, first.stderr
    assert "Roster version 1 imported: 5 students" in first.stdout
    assert "reading students.csv: 5/5 rows" in first.stderr

    bad = roster_files.write(
        tmp_path / "bad",
        **{
            "students.csv": "student_id,name,grade,class,card_uid,walk_alone\n"
            "S1,小明,1,一年级1班,04A1A1A1,0\nS2,小红,9x,一年级1班,,0\n"
        },
    )
    refused = cli("roster", "import", str(bad), "--data-dir", str(data), data_dir=tmp_path / "x")
    assert refused.returncode == 1
    assert "students.csv, row 3, column grade" in refused.stderr
    assert "nothing was imported" in refused.stderr

    ledger = Ledger(data / "campus-edge.db", "t")
    assert ledger.roster_version() == 1
    assert len(ledger.load_roster().students) == 5
    tables = {r[0] for r in ledger.reader().execute("SELECT name FROM sqlite_master")}
    assert not any(t.endswith("_staging") for t in tables)


def test_reimport_replaces_the_roster_and_keeps_events(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ledger = Ledger(data / "campus-edge.db", "t")
    ledger.save_roster(roster_mod.load(roster_files.write(tmp_path / "a"), 1), "a")
    smaller = roster_files.write(
        tmp_path / "b",
        **{
            "students.csv": FILES["students.csv"].replace("S5,小强,2,二年级1班,04E5E5E5,0\n", ""),
            "enrollments.csv": FILES["enrollments.csv"].replace("S5,G2,1\n", ""),
        },
    )
    assert cli("roster", "import", str(smaller), data_dir=data).returncode == 0
    assert ledger.roster_version() == 2
    assert "S5" not in ledger.load_roster().students


def test_photos_are_checked_and_stored_by_content(tmp_path: Path) -> None:
    roster = roster_mod.load(roster_files.with_photos(tmp_path / "r"), version=1)
    s1 = roster.students["S1"].photo
    assert s1 is not None
    assert s1.endswith(".png")
    assert roster.photos[s1] == roster_files.png(30, 120, 200)
    assert roster.guardians["P1"].photo in roster.photos
    ledger = Ledger(tmp_path / "data" / "campus-edge.db", "t")
    ledger.save_roster(roster, "r")
    assert (tmp_path / "data" / "photos" / s1).read_bytes() == roster_files.png(30, 120, 200)
    assert ledger.load_roster().students["S1"].photo == s1


@pytest.mark.parametrize(
    ("photo", "content", "words"),
    [
        ("missing.png", None, "is not in the roster folder"),
        ("../outside.png", b"\x89PNG", "outside the roster folder"),
        ("notes.png", b"just some text", "not a JPEG, PNG or WebP image"),
    ],
)
def test_a_bad_photo_is_refused_naming_its_row(
    tmp_path: Path, photo: str, content: bytes | None, words: str
) -> None:
    folder = roster_files.with_photos(tmp_path / "r")
    if content is not None:
        (folder / photo).resolve().write_bytes(content)
    text = (folder / "students.csv").read_text(encoding="utf-8")
    (folder / "students.csv").write_text(text.replace("photos/s1.png", photo), encoding="utf-8")
    with pytest.raises(RosterError) as caught:
        roster_mod.load(folder, version=1)
    assert (caught.value.file, caught.value.row, caught.value.column) == (
        "students.csv",
        2,
        "photo",
    )
    assert words in caught.value.sentence()
