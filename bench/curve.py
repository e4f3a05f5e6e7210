"""The dashboard's chart at 5,000 students: one day's curve, beside baselines of the same run.

One busy day (every group's custody tap, each child's sign-in, their guardian's tap and
release or a walk home: bench/reports.py's ``one_day``) is written into a ledger. Then:

- baseline: the day's picture as it stood at the service end (``picture_at``: the
  fold of the same events, as GET /api/v1/presence?at= answers);
- the curve (GET /api/v1/presence/curve's work): the same fold, counted every 5 minutes;
- asked again with the ledger unchanged: the cache's answer.

Run with `python bench/curve.py [--students 5000]` (part of `make bench`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from reports import one_day  # noqa: E402

from edge.cli import demo  # noqa: E402
from edge.projection import picture_at  # noqa: E402
from edge.school import roster as roster_mod  # noqa: E402
from edge.school.curve import CurveCache  # noqa: E402
from edge.store.db import transaction  # noqa: E402
from edge.store.ledger import Ledger  # noqa: E402

DAY = dt.date(2026, 11, 18)


def best(run: object, times: int = 3) -> float:
    took = []
    for _ in range(times):
        start = time.perf_counter()
        run()  # type: ignore[operator]
        took.append(time.perf_counter() - start)
    return min(took)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--students", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = demo.write_bundle(Path(tmp) / "roster", args.students, today=DAY)
        ledger = Ledger(Path(tmp) / "ledger.db", "kiosk-bench")
        ledger.save_roster(roster_mod.load(folder, version=1), "bench")
        roster = ledger.load_roster()
        events = one_day(roster, DAY, 0, random.Random(8))
        later = sorted(events, key=lambda e: e.key)[-10:]  # the dismissal's last 10 taps
        with transaction(ledger.writer()) as conn:
            ledger.insert_events(conn, [e for e in events if e not in later])
        end = roster.calendar.service_end_at(DAY)
        print(f"one day: {len(events):,} events at {args.students:,} students")
        base = best(lambda: picture_at(roster, DAY, end, ledger.iter_day(DAY)))
        print(f"baseline: the picture at the service end (fold + answer): {base * 1000:6.1f} ms")
        fresh = best(lambda: CurveCache(ledger).answer(roster, DAY, end))
        print(f"the curve, folded once, every 5 minutes:           {fresh * 1000:6.1f} ms "
              f"({fresh / base:.2f}x the baseline)")  # fmt: skip
        cache = CurveCache(ledger)
        cache.answer(roster, DAY, end)
        kept = best(lambda: cache.answer(roster, DAY, end), 20)
        print(f"asked again, ledger unchanged:                     {kept * 1000:6.2f} ms")
        with transaction(ledger.writer()) as conn:
            ledger.insert_events(conn, later)
        start = time.perf_counter()
        cache.answer(roster, DAY, end)
        moved = time.perf_counter() - start
        assert cache.folds == 1, "moved forward, not folded again"
        print(f"asked after 10 more taps (moved forward):          {moved * 1000:6.2f} ms")


if __name__ == "__main__":
    main()
