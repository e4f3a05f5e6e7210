"""The duty log (值班日志) of one busy day at 5,000 students, beside a bare scan of that day.

Five school days are written as bench/reports.py writes a term (custody, sign-ins,
pickups, releases, walks home); then the duty log of the busiest day is made as
`GET /api/v1/duty` makes it (the day and the day before, for its open items), and as a
printable page and an Excel file, each beside a bare scan of the day's rows in fold
order (``SELECT * ... ORDER BY``, nothing built from them).

Run with `python bench/duty.py [--students 5000]`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from edge import reports  # noqa: E402
from edge.cli import demo  # noqa: E402
from edge.reports import files as report_files  # noqa: E402
from edge.reports.duty import duty as duty_log  # noqa: E402
from edge.school import roster as roster_mod  # noqa: E402
from edge.store.db import transaction  # noqa: E402
from edge.store.ledger import Ledger  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_reports", ROOT / "bench" / "reports.py")
assert _spec is not None
assert _spec.loader is not None
term_bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(term_bench)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(8)
    with tempfile.TemporaryDirectory() as tmp:
        folder = demo.write_bundle(Path(tmp) / "roster", args.students)
        ledger = Ledger(Path(tmp) / "ledger.db", "kiosk-bench")
        ledger.save_roster(roster_mod.load(folder, version=1), "bench")
        roster = ledger.load_roster()
        first, seq, conn = dt.date(2026, 11, 16), 0, ledger.writer()
        for n in range(5):
            events = term_bench.one_day(roster, first + dt.timedelta(days=n), seq, rng)
            seq += len(events)
            with transaction(conn):
                ledger.insert_events(conn, events)
        day = first + dt.timedelta(days=2)
        scan_conn = ledger.reader()

        def bare_scan() -> int:
            rows = scan_conn.execute(
                "SELECT * FROM events WHERE day = ? ORDER BY day, hlc, node_id, epoch, seq",
                (day.isoformat(),),
            )
            return sum(1 for _ in rows)

        scan, count = term_bench.timed(bare_scan)
        print(f"{seq:,} events over 5 days at {args.students:,} students")
        print(f"baseline: bare scan of {day}'s {count:,} rows in fold order: {scan * 1000:.0f} ms")
        source = reports.LedgerSource(ledger, roster)
        seconds, log = term_bench.timed(lambda: duty_log(source, day))
        print(
            f"duty log, one day          {seconds * 1000:6.0f} ms ({seconds / scan:4.1f}x the scan)"
        )
        both, _ = term_bench.timed(
            lambda: (duty_log(source, day), duty_log(source, day - dt.timedelta(days=1)))
        )
        print(f"GET /api/v1/duty's two days {both * 1000:5.0f} ms ({both / scan:4.1f}x the scan)")
        page, _ = term_bench.timed(lambda: report_files.to_html(log))
        book, _ = term_bench.timed(lambda: report_files.to_xlsx(log))
        late = len(log.table("late").rows)
        print(
            f"printable page {page * 1000:.0f} ms, Excel {book * 1000:.0f} ms "
            f"({late} late pickups, {len(log.table('handovers').rows)} handovers)"
        )


if __name__ == "__main__":
    main()
