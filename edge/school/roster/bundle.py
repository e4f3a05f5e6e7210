"""Reading a roster bundle: CSV files or an .xlsx workbook, into tables of cleaned text.

A roster bundle is a folder of CSV files or one .xlsx workbook with sheets of the
same names (CONTRACT.md). ``read_bundle`` maps each file's header onto the columns of
``FILES`` (Chinese header names accepted), refuses card cells that could name two
cards, and takes in the photos the rows name under content-addressed names. Whether
the tables make a roster is checked apart (edge.school.roster.check).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
from collections.abc import Callable
from pathlib import Path

from edge import text as text_rules
from edge.errors import RosterError
from edge.school import calendar as calendar_mod
from edge.school.calendar import CalendarError
from edge.school.cards import CardNumberError, CellKind, roster_cell
from edge.school.roster.model import FILES, Table

Progress = Callable[[str, int, int], None]


def read_bundle(
    path: Path, progress: Progress | None = None
) -> tuple[dict[str, Table], str, dict[str, bytes]]:
    """Read a folder of CSV files or an .xlsx workbook into tables of cleaned text.

    Returns the tables (each row a dict keyed by canonical column name, with a
    ``_row`` key holding the spreadsheet row number), the text of school.toml, and
    the photos the rows name, keyed by the content-addressed name that replaces the
    file name in the ``photo`` cell.
    """
    path = Path(path)
    if not path.exists():
        raise RosterError(f"{path} does not exist")
    if path.is_dir():
        raw = _read_csv_folder(path, progress)
        toml_path = path / "school.toml"
    elif path.suffix.lower() == ".xlsx":
        raw = _read_workbook(path, progress)
        toml_path = path.with_name("school.toml")
    else:
        raise RosterError(f"{path.name} is neither a folder of CSV files nor an .xlsx workbook")
    school_toml = ""
    if toml_path.exists():
        try:
            school_toml = toml_path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as err:
            raise RosterError("school.toml is not UTF-8 text", file="school.toml") from err
    try:
        card_form = calendar_mod.parse(school_toml).card_form if school_toml.strip() else ""
    except CalendarError as err:
        raise RosterError(str(err), file="school.toml") from err
    sheet = None if path.is_dir() else path.name
    tables = {
        name: _map_columns(name, header, rows, sheet, card_form)
        for name, (header, rows) in raw.items()
    }
    base = path if path.is_dir() else path.parent
    photos: dict[str, bytes] = {}
    for name in ("students", "guardians"):
        for row in tables.get(name, []):
            if row.get("photo"):
                row["photo"] = _photo(base, row, f"{name}.csv", photos)
    return tables, school_toml, photos


PHOTO_TYPES = {b"\x89PNG": "png", b"\xff\xd8\xff": "jpg", b"RIFF": "webp"}
PHOTO_LIMIT = 2 * 1024 * 1024
PHOTO_NAME = re.compile(r"^[0-9a-f]{64}\.(png|jpg|webp)$")


def _photo(base: Path, row: dict[str, str], filename: str, photos: dict[str, bytes]) -> str:
    """Check a row's photo file and return its content-addressed name."""
    given = row["photo"]
    where = {"file": filename, "row": int(row["_row"]), "column": "photo"}
    file = (base / given).resolve()
    if not file.is_relative_to(base.resolve()):
        raise RosterError(f"photo '{given}' lies outside the roster folder", **where)  # type: ignore[arg-type]
    if not file.is_file():
        raise RosterError(f"photo '{given}' is not in the roster folder", **where)  # type: ignore[arg-type]
    data = file.read_bytes()
    if len(data) > PHOTO_LIMIT:
        raise RosterError(
            f"photo '{given}' is {len(data) // 1024} KB; make it smaller than 2 MB",
            **where,  # type: ignore[arg-type]
        )
    kind = next((k for magic, k in PHOTO_TYPES.items() if data.startswith(magic)), None)
    if kind is None or (kind == "webp" and data[8:12] != b"WEBP"):
        raise RosterError(f"photo '{given}' is not a JPEG, PNG or WebP image", **where)  # type: ignore[arg-type]
    name = f"{hashlib.sha256(data).hexdigest()}.{kind}"
    photos[name] = data
    return name


def _decode(data: bytes, filename: str) -> str:
    # Excel on a Chinese Windows saves "CSV" in GB18030/GBK, elsewhere in UTF-8 with
    # or without a BOM: accept both rather than make the admin re-save the file.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterError("is neither UTF-8 nor GBK text; save it as CSV UTF-8", file=filename)


RawTable = tuple[list[str], list[tuple[int, list[str]]]]


def _read_csv_folder(folder: Path, progress: Progress | None) -> dict[str, RawTable]:
    raw: dict[str, RawTable] = {}
    for name, (must_exist, _) in FILES.items():
        filename = f"{name}.csv"
        file = folder / filename
        if not file.exists():
            if must_exist:
                raise RosterError(f"{filename} is missing from {folder}", file=filename)
            continue
        text = _decode(file.read_bytes(), filename)
        if "\x00" in text:
            raise RosterError("holds NUL bytes: it is not a CSV text file", file=filename)
        try:
            records = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as err:
            raise RosterError(f"cannot be read as CSV: {err}", file=filename) from err
        raw[name] = _split_header(records, filename, progress)
    return raw


def _read_workbook(path: Path, progress: Progress | None) -> dict[str, RawTable]:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as err:
        raise RosterError(f"{path.name} cannot be opened as an Excel workbook: {err}") from err
    try:
        sheets = {s.strip().lower().removesuffix(".csv"): s for s in book.sheetnames}
        raw: dict[str, RawTable] = {}
        for name, (must_exist, _) in FILES.items():
            if name not in sheets:
                if must_exist:
                    raise RosterError(
                        f"{path.name} has no sheet named '{name}'", file=f"{path.name}:{name}"
                    )
                continue
            records = [
                [_cell_text(c.value, getattr(c, "number_format", "")) for c in row]
                for row in book[sheets[name]].iter_rows()
            ]
            raw[name] = _split_header(records, f"{path.name}:{name}", progress)
        return raw
    finally:
        book.close()


class _Number(str):
    """The text of a cell Excel stored as a number (its leading zeros are gone)."""


class _Scientific(_Number):
    """A number Excel shows in scientific notation: typed like 123456E3, a hex UID."""


def _cell_text(value: object, number_format: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return _Scientific(value) if "E+" in number_format.upper() else _Number(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _split_header(records: list[list[str]], filename: str, progress: Progress | None) -> RawTable:
    records = [r for r in records if any(str(c).strip() for c in r)]
    if not records:
        raise RosterError("is empty: it needs a header row", file=filename)
    header = [str(c).strip().lstrip("\ufeff") for c in records[0]]
    rows: list[tuple[int, list[str]]] = []
    total = len(records) - 1
    for number, record in enumerate(records[1:], start=2):
        rows.append((number, [c if isinstance(c, _Number) else str(c).strip() for c in record]))
        if progress and ((number - 1) % 500 == 0 or number - 1 == total):
            progress(filename, number - 1, total)
    if progress and total == 0:
        progress(filename, 0, 0)
    return header, rows


def _map_columns(
    name: str,
    header: list[str],
    rows: list[tuple[int, list[str]]],
    workbook: str | None = None,
    card_form: str = "",
) -> Table:
    """Key each row by canonical column name; refuse card cells that read two ways.

    ``workbook`` names the .xlsx the rows came from (None: a CSV file); a card cell
    that may name two cards (cards.roster_cell) is refused naming its sheet and row.
    """
    positions = _positions(name, header)
    table: Table = []
    cards: list[RosterError] = []  # and cells holding what no screen or ledger may show
    for number, values in rows:
        if len(values) > len(header) and any(values[len(header) :]):
            raise RosterError(
                f"has {len(values)} cells but the header has {len(header)}; "
                "is there an unquoted comma in a name?",
                file=f"{name}.csv",
                row=number,
            )
        row = {"_row": str(number)}
        for column_name, index in positions.items():
            row[column_name] = str(values[index]) if index < len(values) else ""
        if row.get("card_uid"):
            wrong = _card_cell(row, values[positions["card_uid"]], name, workbook, card_form)
            if wrong is not None:
                cards.append(wrong)
        cards.extend(_unshowable(row, name))
        table.append(row)
    if cards:
        raise RosterError(
            cards[0].reason,
            file=cards[0].file,
            row=cards[0].row,
            column=cards[0].column,
            more=cards[1:21],
        )
    return table


def _unshowable(row: dict[str, str], name: str) -> list[RosterError]:
    """Refuse cells with a control character or a direction override (edge.text's rule).

    A name goes onto the guard's screen, into the ledger's sentences and the logs: an
    escape sequence or a right-to-left override would show it other than it was typed.
    The card cell has its own reading (cards.normalize), which drops spaces and tabs.
    """
    found = []
    for column, value in row.items():
        wrong = text_rules.problem(value.strip()) if column not in ("_row", "card_uid") else None
        if wrong is not None:
            found.append(RosterError(
                f"{wrong}: type the cell again without it",
                file=f"{name}.csv", row=int(row["_row"]), column=column,
            ))  # fmt: skip
    return found


def _positions(name: str, header: list[str]) -> dict[str, int]:
    """Find where each of a file's columns is in its header (by name or alias)."""
    filename = f"{name}.csv"
    columns = FILES[name][1]
    lookup: dict[str, str] = {}
    for column in columns:
        lookup[column.name.lower()] = column.name
        for alias in column.aliases:
            lookup.setdefault(alias.lower(), column.name)
    positions: dict[str, int] = {}
    for index, title in enumerate(header):
        canonical = lookup.get(title.lower())
        if canonical is None:
            continue  # extra columns (notes, phone of a second parent) are allowed
        if canonical in positions:
            raise RosterError(
                f"has two columns for '{canonical}'", file=filename, row=1, column=title
            )
        positions[canonical] = index
    for column in columns:
        if column.name not in positions and not column.optional_column:
            known = ", ".join([column.name, *column.aliases])
            raise RosterError(
                f"has no '{column.name}' column (header names accepted: {known})",
                file=filename,
                row=1,
                column=column.name,
            )
    return positions


def _card_cell(
    row: dict[str, str], cell: str, name: str, workbook: str | None, card_form: str
) -> RosterError | None:
    """Read a row's card cell into its card key; return the problem if it reads two ways."""
    kind: CellKind = (
        "csv" if workbook is None
        else "number" if isinstance(cell, _Number)
        else "text"
    )  # fmt: skip
    where = f"{workbook}:{name}" if workbook else f"{name}.csv"
    number = int(row["_row"])
    if isinstance(cell, _Scientific):
        reason = (
            f"Excel turned card number {row['card_uid']} into a number in scientific "
            "notation, as it does with a hex UID like 123456E3, so the card number is "
            "no longer the one typed. In Excel, format the card_uid column as Text "
            "and type the number again as the reader shows it."
        )
        return RosterError(reason, file=where, row=number, column="card_uid")
    try:
        row["card_uid"] = roster_cell(row["card_uid"], kind, card_form)
    except CardNumberError as err:
        return RosterError(str(err), file=where, row=number, column="card_uid")
    return None
