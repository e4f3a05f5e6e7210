"""The shape of every report: a titled ``Report`` of ``Table``s of ``Column``s.

Cells are plain values (text, whole numbers, ratios), so the JSON answer, the CSV and
the Excel file hold the same cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge.errors import ReportError


@dataclass(frozen=True)
class Column:
    """A column: its key in JSON, its Chinese and English headers, and how to show it."""

    key: str
    zh: str
    en: str
    kind: str = "text"  # text | int | units | percent


@dataclass
class Table:
    """One table of a report; each row is a list of cells in ``columns`` order."""

    name: str
    zh: str
    en: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    empty: str = ""  # what an empty table says instead of "none" (e.g. 未启用 not enabled)

    def records(self) -> list[dict[str, Any]]:
        """Return the rows as dicts keyed by column key."""
        keys = [c.key for c in self.columns]
        return [dict(zip(keys, row, strict=True)) for row in self.rows]


@dataclass
class Report:
    """A titled report: facts about it (period, school, when made) and its tables."""

    name: str
    zh: str
    en: str
    meta: list[tuple[str, str, Any]]
    tables: list[Table]

    def table(self, name: str) -> Table:
        """Return the table of that name."""
        for table in self.tables:
            if table.name == name:
                return table
        known = ", ".join(t.name for t in self.tables)
        raise ReportError(f"the {self.name} report has no table '{name}' (it has {known})")

    def to_json(self) -> dict[str, Any]:
        """Return the report as the HTTP API answers it."""
        return {
            "report": self.name,
            "title": self.zh,
            "title_en": self.en,
            "meta": [{"label": zh, "label_en": en, "value": v} for zh, en, v in self.meta],
            "tables": [
                {
                    "name": t.name,
                    "title": t.zh,
                    "title_en": t.en,
                    "columns": [
                        {"key": c.key, "title": c.zh, "title_en": c.en, "kind": c.kind}
                        for c in t.columns
                    ],
                    "rows": t.records(),
                    **({"empty": t.empty} if t.empty else {}),
                }
                for t in self.tables
            ],
        }
