"""Reports over a whole term at 5,000 students (issue 8), beside baselines of the same run.

A term of school days (2026-09-01 to 2027-01-15, National Day week closed) is written
into a ledger: every day each group's custody tap, each child's sign-in, and their
guardian's pickup tap and release (or a walk home). Then, each timed once:

- attendance and workload for the term, the parents' summary for a month, a group's
  supervision record and a child's day, beside a bare scan of the same rows
  (``SELECT * ... ORDER BY`` the fold order, with nothing built from them);
- the Excel files of the term's attendance and workload, beside openpyxl writing the
  same cells with no widths or formats.

Run with `python bench/reports.py [--students 5000]` (part of `make bench`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge import reports  # noqa: E402
from edge.cli import demo  # noqa: E402
from edge.clock import to_millis  # noqa: E402
from edge.reports import files as report_files  # noqa: E402
from edge.school import events as ev  # noqa: E402
from edge.school import roster as roster_mod  # noqa: E402
from edge.school.events import Event  # noqa: E402
from edge.school.roster import Roster  # noqa: E402
from edge.store.db import transaction  # noqa: E402
from edge.store.ledger import Ledger  # noqa: E402

TERM = """
[[term]]
name = "2026秋季学期"
from = "2026-09-01"
to = "2027-01-15"
[days]
closed = ["2026-10-01..2026-10-07"]
[service]
start = "15:40"
"""


def one_day(roster: Roster, day: dt.date, seq: int, rng: random.Random) -> list[Event]:
    """Return a plausible day of events: custody, sign-ins, pickups and releases."""
    tz = roster.calendar.tz
    made: list[Event] = []

    def add(at: dt.datetime, station: str, kind: str, kind_of: str, ident: str,
            data: dict[str, Any]) -> None:  # fmt: skip
        nonlocal seq
        seq += 1
        made.append(Event(
            "kiosk-bench", "e1", seq, (to_millis(at) << 16) + seq % 65536, at, day, station,
            kind, ev.ACCEPTED, kind, None, None, kind_of, ident, data, roster.version, True,
        ))  # fmt: skip

    base = dt.datetime.combine(day, dt.time(15, 30), tzinfo=tz)
    first_guardian: dict[str, str] = {}
    for (sid, gid), right in roster.pickup.items():
        if right.allowed:
            first_guardian.setdefault(sid, gid)
    stations = {s.group_id: s.station_id for s in roster.stations.values() if s.group_id}
    for gid, group in roster.groups.items():
        if group.staff_id and group.kind == "basic" and roster.expected_in_group(gid, day):
            late = rng.random() < 0.05
            at = base + dt.timedelta(minutes=rng.randrange(20, 30) if late else 8)
            add(at, stations[gid], ev.CUSTODY_TAKEN, "staff", group.staff_id,
                {"group_id": gid, "head_count": 30, "expected": 40, "missing": [],
                 "present": []})  # fmt: skip
    for sid, student in roster.students.items():
        groups = roster.expected_groups(sid, day)
        if not groups or rng.random() < 0.06:
            continue  # absent or on leave
        gid = groups[0]
        add(base + dt.timedelta(seconds=rng.randrange(0, 900)), stations[gid], ev.SIGNED_IN,
            "student", sid, {"group_id": gid})  # fmt: skip
        out = base + dt.timedelta(minutes=60, seconds=rng.randrange(0, 5400))
        if student.walk_alone:
            add(out, "P-EAST", ev.LEFT_ALONE, "student", sid, {"from_group": gid})
            continue
        guardian = first_guardian[sid]
        add(out - dt.timedelta(seconds=5), "P-EAST", ev.PICKUP_OPENED, "guardian", guardian,
            {"students": [{"student_id": sid, "state": "present", "group_id": gid}]})  # fmt: skip
        add(out, "P-EAST", ev.RELEASED, "student", sid,
            {"guardian_id": guardian, "relation": "母亲", "from_group": gid})  # fmt: skip
    return made


def timed(run: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(8)
    with tempfile.TemporaryDirectory() as tmp:
        folder = demo.write_bundle(Path(tmp) / "roster", args.students)
        (folder / "school.toml").write_text(demo.SCHOOL_TOML + TERM, encoding="utf-8")
        ledger = Ledger(Path(tmp) / "ledger.db", "kiosk-bench")
        roster = roster_mod.load(folder, version=1)
        ledger.save_roster(roster, "bench")
        roster = ledger.load_roster()
        term = roster.calendar.term("2026秋季学期")
        assert term is not None
        span = reports.Period(term.start, term.end, term.name)
        start = time.perf_counter()
        seq = days = 0
        conn = ledger.writer()
        day = term.start
        while day <= term.end:
            if roster.calendar.timetable_weekday(day) in (1, 2, 3, 4, 5):
                events = one_day(roster, day, seq, rng)
                seq += len(events)
                days += 1
                with transaction(conn):
                    ledger.insert_events(conn, events)
            day += dt.timedelta(days=1)
        print(f"term: {days} school days, {seq:,} events at {args.students:,} students "
              f"(written in {time.perf_counter() - start:.1f} s)")  # fmt: skip

        scan_conn = ledger.reader()

        def bare_scan() -> int:
            rows = scan_conn.execute(
                "SELECT * FROM events WHERE day BETWEEN ? AND ? "
                "ORDER BY day, hlc, node_id, epoch, seq",
                (term.start.isoformat(), term.end.isoformat()),
            )
            return sum(1 for _ in rows)

        scan, count = timed(bare_scan)
        print(f"baseline: bare scan of the term's {count:,} rows in fold order: {scan:.2f} s")
        source = reports.LedgerSource(ledger, roster)
        today = term.end + dt.timedelta(days=1)
        busy = dt.date(2026, 11, 18)
        group = next(iter(roster.groups))
        child = next(iter(roster.students))
        runs = {
            "attendance, the term": lambda: reports.attendance(source, span, today),
            "workload, the term": lambda: reports.workload(source, span, today),
            "parents, one month": lambda: reports.parents(
                source, reports.period(roster, month="2026-11"), today
            ),
            "supervision, one group-day": lambda: reports.supervision(source, busy, group),
            "timeline, one child-day": lambda: reports.timeline(source, busy, child),
        }
        made: dict[str, reports.Report] = {}
        for name, run in runs.items():
            seconds, made[name] = timed(run)
            print(f"{name:28s} {seconds:7.2f} s  ({seconds / scan:5.1f}x the bare scan)")
        for name in ("attendance, the term", "workload, the term"):
            report = made[name]
            seconds, data = timed(lambda report=report: report_files.to_xlsx(report))
            bare, _ = timed(lambda report=report: bare_xlsx(report))
            cells = sum(len(t.rows) * len(t.columns) for t in report.tables)
            print(f"{name} .xlsx: {seconds:.2f} s for {cells:,} cells, {len(data) // 1024} KB "
                  f"(bare openpyxl, same cells: {bare:.2f} s; {seconds / bare:.1f}x)")  # fmt: skip


def bare_xlsx(report: reports.Report) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    for table in report.tables:
        sheet = book.create_sheet(table.name)
        for row in table.rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


if __name__ == "__main__":
    main()
