"""Records the school must keep, computed from the ledger (DOMAIN.md, "Records ...").

Six reports, each a ``Report`` of titled tables whose cells are plain values (text,
whole numbers, ratios), so the JSON answer, the CSV and the Excel file hold the same
cells; one module each:

- ``attendance``: per student and per group over a month, a term or any range: days
  enrolled, attended, on leave, absent without leave (fees are settled on these);
- ``workload``: each staff session (a group on a day) on time, late, complete,
  incomplete or absent, with the school's pay units, and a total per staff member;
- ``supervision``: the daily supervision record of one group (看管记录);
- ``timeline``: one child's day, every tap and decision, and the chain of custody;
- ``parents``: the month's summary for parents, per group, with no one's name;
- ``duty``: the duty leader's log of one day (值班日志), notes and sign-off included.

Beside them: ``tables`` (the Report, Table and Column shapes), ``period`` (the days a
report covers), ``source`` (where a report reads), ``cells`` (cells several reports
show alike), ``catalog`` (``make``: a report by name, as the CLI and the API ask),
``central`` (reports on the district central), ``files`` (CSV, Excel, printable
HTML) and ``records`` (everything held about one child).

Everything comes from the events and the roster in force, in the school's timezone,
on the calendar's school days. The roster is the current one: a school re-imports it
each term, and leave.csv keeps the term's leave. Events name students by id, so a
replaced card or a changed class does not split a child's record. A ``Source`` gives
the events: the node's ledger (a kiosk, or a hub with the whole campus) or the
district central's PostgreSQL, one campus at a time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edge.reports.attendance import attendance
    from edge.reports.catalog import NAMES, make
    from edge.reports.cells import KIND_ZH
    from edge.reports.central import CentralSource, across, district
    from edge.reports.duty import duty
    from edge.reports.parents import parents
    from edge.reports.period import Period, period
    from edge.reports.source import LedgerSource, Source
    from edge.reports.supervision import supervision
    from edge.reports.tables import Column, Report, Table
    from edge.reports.timeline import timeline
    from edge.reports.workload import workload

# Each name's module, imported when the name is first asked for: a serving node that
# nobody asks for a report does not hold the report modules (nor what they import).
_HOME = {
    "attendance": "attendance", "NAMES": "catalog", "make": "catalog", "KIND_ZH": "cells",
    "CentralSource": "central", "across": "central", "district": "central", "duty": "duty",
    "parents": "parents", "Period": "period", "period": "period", "LedgerSource": "source",
    "Source": "source", "supervision": "supervision", "Column": "tables", "Report": "tables",
    "Table": "tables", "timeline": "timeline", "workload": "workload",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    """Return one of the package's names, importing every report module on first use.

    All at once, names bound after every import: several modules share a name with the
    function they hold (``attendance``), and the function is what the package names.
    Until a first name is asked for, importing such a module directly (``from
    edge.reports.duty import ...``) leaves the package's ``duty`` naming the module:
    code that imports a report module directly takes the function from it too.
    """
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    found = {n: getattr(importlib.import_module(f"edge.reports.{m}"), n) for n, m in _HOME.items()}
    globals().update(found)
    return found[name]


__all__ = [
    "KIND_ZH",
    "NAMES",
    "CentralSource",
    "Column",
    "LedgerSource",
    "Period",
    "Report",
    "Source",
    "Table",
    "across",
    "attendance",
    "district",
    "duty",
    "make",
    "parents",
    "period",
    "supervision",
    "timeline",
    "workload",
]
