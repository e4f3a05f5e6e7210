"""The long mode of the kill harness: 1,000 SIGKILLs under load (tests run 30 in CI).

Prints kills survived and acknowledged taps lost (must be 0).
Run: `python bench/crash.py [--kills 1000]` (about 25 minutes for 1,000).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.ops.test_e2e import kill_harness  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\\n")[0])
    parser.add_argument("--kills", type=int, default=1000)
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        report = kill_harness(Path(tmp), kills=args.kills)
    print(f"kills survived: {report.kills} in {time.monotonic() - started:.0f} s")
    print(
        f"taps acknowledged: {len(report.acknowledged)}; events stored: {len(report.stored)} "
        f"(the difference: taps killed in flight, stored but never acknowledged)"
    )
    print(
        f"acknowledged taps lost: {len(report.lost)}; duplicates: "
        f"{len(report.stored) - len(set(report.stored))}; integrity: {report.integrity}; "
        f"hash chain breaks: {len(report.chain_problems)}"
    )
    if report.lost or report.integrity != "ok" or report.chain_problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
