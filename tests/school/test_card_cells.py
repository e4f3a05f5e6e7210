"""A card number in a roster file is read one way only, or refused (issue 14, item 17).

Excel drops the leading zeros of a number: the card printed ``0012345678`` typed into
a number cell becomes ``12345678``, which is also how a reader shows the hex UID of a
different physical card. A cell that may name two cards is refused with the file,
row and column and what to do (keep the column as text, write the number in full, or
say the form with ``card_form`` in school.toml); nothing of the roster is imported.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook

from edge.errors import RosterError
from edge.school import roster as roster_mod
from edge.school.cards import normalize
from edge.store.ledger import Ledger
from tests import roster_files
from tests.roster_files import FILES

HEX_KEY = normalize("12345678", form="hex")  # the card a reader shows as 12345678
PRINTED_KEY = "0012345678"  # the card printed 0012345678: another physical card


def workbook(
    path: Path, p1_card: object, school_toml: str = FILES["school.toml"], number_format: str = ""
) -> Path:
    """Write the test roster as a real .xlsx, with guardian P1's card cell set to a value."""
    book = Workbook()
    book.remove(book.active)
    for name, text in FILES.items():
        if not name.endswith(".csv"):
            continue
        sheet = book.create_sheet(name.removesuffix(".csv"))
        for row in csv.reader(io.StringIO(text)):
            cells: list[object] = list(row)
            if name == "guardians.csv" and row[0] == "P1":
                cells[3] = p1_card
            sheet.append(cells)
            if name == "guardians.csv" and row[0] == "P1" and number_format:
                sheet.cell(sheet.max_row, 4).number_format = number_format
    book.save(path)
    (path.parent / "school.toml").write_text(school_toml, encoding="utf-8")
    return path


def csv_bundle(folder: Path, p1_card: str, school_toml: str = FILES["school.toml"]) -> Path:
    """Write the test roster as CSV files, with guardian P1's card cell set to a text."""
    guardians = FILES["guardians.csv"].replace("P1,王妈妈,13800000001,0723140494", "")
    guardians = guardians.replace("card_uid\n", f"card_uid\nP1,王妈妈,13800000001,{p1_card}\n")
    return roster_files.write(folder, **{"guardians.csv": guardians, "school.toml": school_toml})


def refused(path: Path) -> RosterError:
    with pytest.raises(RosterError) as caught:
        roster_mod.load(path, version=1)
    return caught.value


def test_an_eight_digit_number_cell_in_excel_is_refused_not_read_as_hex(tmp_path: Path) -> None:
    # The admin typed the printed 0012345678; Excel kept 12345678.
    err = refused(workbook(tmp_path / "roster.xlsx", 12345678))
    assert (err.file, err.row, err.column) == ("roster.xlsx:guardians", 2, "card_uid")
    text = err.sentence()
    assert "0012345678" in text
    assert "hex UID 12345678 " in text
    assert "Text" in text
    assert 'card_form = "decimal"' in text


def test_a_seven_digit_hex_uid_stored_as_a_number_is_refused_not_read_as_decimal(
    tmp_path: Path,
) -> None:
    # The reader shows 04123456; Excel kept 4123456.
    err = refused(workbook(tmp_path / "roster.xlsx", 4123456))
    assert (err.row, err.column) == (2, "card_uid")
    assert "04123456" in err.sentence()


@pytest.mark.parametrize(
    ("cell", "school", "key"),
    [
        ("12345678", "", HEX_KEY),  # a text cell keeps what was typed: the reader's hex
        (723140494, "", "0723140494"),  # a printed number that lost one zero: 10 digits
        (723140494.0, "", "0723140494"),  # the same, as openpyxl may give it
        ("0012345678", "", PRINTED_KEY),  # the printed number kept as text
        ("04A2B3C4D5E6F7", "", "04A2B3C4D5E6F7"),  # CONTRACT.md's forms keep working
        ("8E3F1A2B", "", "0723140494"),
        (12345678, 'card_form = "decimal"\n', PRINTED_KEY),  # the school says which
        (12345678, 'card_form = "hex"\n', HEX_KEY),
        (4123456, 'card_form = "hex"\n', normalize("04123456", form="hex")),
        (1193047, 'card_form = "decimal"\n', "0001193047"),
        (12345678901234, "", "12345678901234"),  # 14 digits: only a 7-byte UID is so long
    ],
)
def test_a_cell_with_one_reading_is_enrolled_under_it(
    tmp_path: Path, cell: object, school: str, key: str
) -> None:
    roster = roster_mod.load(
        workbook(tmp_path / "roster.xlsx", cell, school + FILES["school.toml"]), version=1
    )
    assert roster.cards[key] == ("guardian", "P1")
    assert roster.guardians["P1"].card == key


def test_a_negative_number_is_no_card(tmp_path: Path) -> None:
    err = refused(workbook(tmp_path / "roster.xlsx", -12345678, 'card_form = "hex"\n'))
    assert (err.row, err.column) == (2, "card_uid")


def test_a_long_number_excel_rounded_is_refused(tmp_path: Path) -> None:
    err = refused(workbook(tmp_path / "roster.xlsx", 12345678901234567890))
    assert err.row == 2
    assert "15 digits" in err.sentence()


def test_a_hex_uid_excel_read_as_scientific_notation_is_refused(tmp_path: Path) -> None:
    # The reader shows 123456E3; Excel made it 1.23456E+08, nine digits like a printed number.
    err = refused(workbook(tmp_path / "roster.xlsx", 123456000, number_format="0.00E+00"))
    assert (err.row, err.column) == (2, "card_uid")
    assert "scientific notation" in err.sentence()


@pytest.mark.parametrize("cell", ["1193046", "4123456"])
def test_a_csv_cell_that_may_have_lost_zeros_is_refused(tmp_path: Path, cell: str) -> None:
    # A CSV has no types, and Excel saves a number cell into it without its zeros.
    err = refused(csv_bundle(tmp_path / "r", cell))
    assert (err.file, err.row, err.column) == ("guardians.csv", 2, "card_uid")
    text = err.sentence()
    assert f"{cell:0>10}" in text
    assert "card_form" in text


@pytest.mark.parametrize(
    ("cell", "school", "key"),
    [
        ("0x12345678", "", HEX_KEY),  # hex said in the cell
        ("0012345678", "", PRINTED_KEY),  # the printed number in full
        ("12345678", "", HEX_KEY),  # CONTRACT.md: 8 digits in a CSV are the reader's hex
        ("12345678", 'card_form = "hex"\n', HEX_KEY),  # or said once for the files
        ("12345678", 'card_form = "decimal"\n', PRINTED_KEY),
        ("1193047", 'card_form = "decimal"\n', "0001193047"),
        ("0723140494", 'card_form = "hex"\n', "0723140494"),  # ten digits stay the printed one
    ],
)
def test_a_csv_cell_is_read_as_written_or_as_school_toml_says(
    tmp_path: Path, cell: str, school: str, key: str
) -> None:
    roster = roster_mod.load(csv_bundle(tmp_path / "r", cell, school + FILES["school.toml"]), 1)
    assert roster.cards[key] == ("guardian", "P1")


def test_an_unknown_card_form_is_refused_naming_school_toml(tmp_path: Path) -> None:
    err = refused(csv_bundle(tmp_path / "r", "0x12345678", 'card_form = "octal"\n'))
    assert err.file == "school.toml"
    assert "card_form" in err.sentence()


def test_the_cli_refuses_the_workbook_and_keeps_the_roster_in_force(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {**os.environ, "CAMPUS_EDGE_DATA_DIR": str(data)}

    def cli(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "edge", "roster", "import", str(path)],
            capture_output=True, text=True, env=env, check=False, timeout=60,
        )  # fmt: skip

    assert cli(roster_files.write(tmp_path / "good")).returncode == 0
    (tmp_path / "bad").mkdir()
    answer = cli(workbook(tmp_path / "bad" / "roster.xlsx", 12345678))
    assert answer.returncode == 1
    assert "nothing was imported" in answer.stderr
    assert "roster.xlsx:guardians, row 2, column card_uid" in answer.stderr
    assert "0012345678" in answer.stderr
    ledger = Ledger(data / "campus-edge.db", "t")
    assert ledger.roster_version() == 1
    roster = ledger.load_roster()
    assert HEX_KEY not in roster.cards
    assert PRINTED_KEY not in roster.cards
    assert roster.cards["0723140494"] == ("guardian", "P1")
