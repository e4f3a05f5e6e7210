"""The errors campus-edge raises at its boundaries, each a sentence an admin can act on.

    CampusEdgeError
    ├── RosterError      a roster bundle is refused: carries file, row and column
    ├── TapError         a tap request cannot be taken (unknown station, bad card number)
    ├── StorageError     the ledger cannot commit (disk full, read-only): nothing acknowledged
    ├── AuthError        no token, a bad or expired one, or too small a role
    └── ReportError      a report cannot be made as asked (a bad period, an unknown group)

A few more subclass CampusEdgeError beside the code that raises them (a synced batch
whose chain is broken, an upstream's refusal), so one ``except CampusEdgeError`` still
catches every error of ours.

Library errors (sqlite3, openpyxl, tomllib) are wrapped with ``raise ... from err``
where they cross into these, so callers catch ours and show the message as it is.
"""

from __future__ import annotations


class CampusEdgeError(Exception):
    """Base of every error campus-edge raises on purpose."""


class RosterError(CampusEdgeError):
    """A roster bundle is refused; nothing of it was imported."""

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        more: list[RosterError] | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.row = row
        self.column = column
        self.more = more or []
        super().__init__(self.sentence())

    def where(self) -> str:
        """Name the place: 'students.csv, row 14, column card_uid'."""
        parts = [
            p
            for p in (
                self.file,
                f"row {self.row}" if self.row is not None else None,
                f"column {self.column}" if self.column else None,
            )
            if p
        ]
        return ", ".join(parts)

    def sentence(self) -> str:
        """Return the message, with every further problem on its own line."""
        where = self.where()
        text = f"{where}: {self.reason}" if where else self.reason
        if self.more:
            text += "".join(f"\n  {p.sentence()}" for p in self.more)
        return text


class TapError(CampusEdgeError):
    """A tap request that cannot be decided: it is refused and nothing is recorded."""

    def __init__(self, message: str, status: int = 422) -> None:
        self.status = status
        super().__init__(message)


class StorageError(CampusEdgeError):
    """The ledger could not commit; the tap was not acknowledged and must be retried."""


class AuthError(CampusEdgeError):
    """A request without the right to what it asks."""

    def __init__(self, message: str, status: int = 401) -> None:
        self.status = status
        super().__init__(message)


class ReportError(CampusEdgeError):
    """A report cannot be made as asked (a bad period, an unknown group or student)."""

    def __init__(self, message: str, status: int = 422) -> None:
        self.status = status
        super().__init__(message)
