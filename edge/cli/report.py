"""`campus-edge report` and `export-child`: the school's records, taken out as files."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from edge import reports, text
from edge.cli.common import Database, DataDir, fail, node_settings, open_ledger
from edge.errors import CampusEdgeError, ReportError
from edge.files import write_atomic
from edge.reports import files as report_files
from edge.reports.records import child_record, copy_photos
from edge.store.ledger import Ledger

if TYPE_CHECKING:
    from edge.sync.central import CentralStore


def export_child(
    student: Annotated[str, typer.Argument(help="the student_id from students.csv")],
    output: Annotated[Path, typer.Option(help="a new folder for record.json and photos")],
    data_dir: DataDir = None,
) -> None:
    """Write everything held about one child (a parent's request) into a new folder."""
    import json

    if output.exists():
        fail(f"{output} exists already; choose a new folder")
    wrong = text.problem(str(output))  # the export is recorded with its folder's name
    if wrong is not None:
        fail(f"the folder name {output!r} {wrong}: choose another")
    settings = node_settings(data_dir)
    ledger = open_ledger(settings)
    try:
        record = child_record(ledger, ledger.load_roster(), student)
    except CampusEdgeError as err:
        fail(str(err))
    output.mkdir(parents=True)
    (output / "record.json").write_text(
        json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    photos = copy_photos(ledger, record["photos"], output / "photos")
    ledger.append_action("child_record_exported", {"student_id": student, "to": str(output)})
    typer.echo(
        f"Wrote {output}/record.json: {len(record['guardians'])} adults, "
        f"{len(record['events'])} events, {photos} photos. It holds personal data: hand it "
        "to the parent, and keep no copy."
    )


def report(
    name: Annotated[
        str, typer.Argument(help="attendance, workload, supervision, timeline, parents or duty")
    ],
    month: Annotated[str | None, typer.Option(help="a month, e.g. 2026-11")] = None,
    term: Annotated[str | None, typer.Option(help="a term named in school.toml")] = None,
    start: Annotated[
        dt.datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="first day")
    ] = None,
    end: Annotated[
        dt.datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="last day")
    ] = None,
    date: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"], help="the day (supervision, timeline, duty; default today)"
        ),
    ] = None,
    group: Annotated[str | None, typer.Option(help="supervision: the group_id")] = None,
    student: Annotated[str | None, typer.Option(help="timeline: the student_id")] = None,
    out: Annotated[
        Path | None, typer.Option(help="write a file: .xlsx, .csv, .html or .json")
    ] = None,
    table: Annotated[str | None, typer.Option(help="only this table (CSV)")] = None,
    lang: Annotated[str, typer.Option(help="zh (default) or en headers")] = "zh",
    campus: Annotated[
        str | None, typer.Option(help="on the central: one campus (default: every campus)")
    ] = None,
    database: Database = None,
    data_dir: DataDir = None,
) -> None:
    """Make a report from the ledger; without --out, print one table as CSV."""
    fmt = (out.suffix.lstrip(".").lower() if out else "csv") or "csv"
    if fmt not in report_files.FORMATS:
        fail(f"{out}: write .xlsx, .csv, .html or .json")
    settings = node_settings(data_dir)
    asked: dict[str, Any] = {
        "month": month, "term": term,
        "start": start.date() if start else None, "end": end.date() if end else None,
        "date": date.date() if date else None, "group": group, "student": student,
        "progress": _progress,
    }  # fmt: skip
    store: CentralStore | None = None
    ledger: Ledger | None = None
    now = dt.datetime.now(dt.UTC)
    try:
        if database:
            from edge.sync.central import CentralStore

            store = CentralStore(database)
            result = reports.across(store, name, campus, now=now, tell=_tell, **asked)
        else:
            ledger = open_ledger(settings)
            result = reports.make(name, reports.LedgerSource(ledger), now=now, **asked)
        chosen = [result.table(table)] if table else result.tables
    except (ReportError, CampusEdgeError) as err:
        fail(str(err))
    if out is None:
        sys.stdout.write(report_files.to_csv(chosen[0], lang).decode("utf-8").lstrip("\ufeff"))
        return
    files = report_files.to_files(result, chosen, out, fmt, lang)
    for path, data in files.items():
        write_atomic(path, data)  # a file appears whole or not at all
        typer.echo(f"Wrote {path} ({len(data) // 1024 + 1} KB)")
    details = {"report": name, "files": [str(p) for p in files], **{
        k: str(v) for k, v in asked.items() if v is not None and k != "progress"}}  # fmt: skip
    log = ledger or store
    if log is not None:
        log.append_action("report_exported", details)
    if store is not None:
        store.close()


def _progress(done: int, total: int, day: dt.date) -> None:
    """Say every tenth day read, and the last."""
    if done == total or done % 10 == 0:
        typer.echo(f"  read {day.isoformat()} ({done}/{total} days)", err=True)


def _tell(line: str) -> None:
    typer.echo(line, err=True)
