"""The school roster: who the students, guardians and staff are, and who may collect whom.

A roster bundle is a folder of CSV files or one .xlsx workbook with sheets of the
same names (CONTRACT.md). ``read_bundle`` (bundle.py) turns files into tables of
cleaned text cells; ``build`` (check.py) checks those tables as a whole and returns an
immutable ``Roster`` (model.py). The store keeps the cleaned tables, so a roster read
back from the database goes through the same ``build`` and the same checks. Nothing
here does I/O beyond reading the bundle's files; a ``Roster`` is immutable and safe to
share between threads.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from edge.errors import RosterError
from edge.school.roster.bundle import PHOTO_LIMIT, PHOTO_NAME, PHOTO_TYPES, Progress, read_bundle
from edge.school.roster.check import build
from edge.school.roster.model import (
    FILES,
    ROLES,
    Checkpoint,
    Column,
    Group,
    Guardian,
    PickupRight,
    Roster,
    Staff,
    Station,
    Student,
    Table,
)

__all__ = [
    "FILES",
    "PHOTO_LIMIT",
    "PHOTO_NAME",
    "PHOTO_TYPES",
    "ROLES",
    "Checkpoint",
    "Column",
    "Group",
    "Guardian",
    "PickupRight",
    "Progress",
    "Roster",
    "RosterError",
    "Staff",
    "Station",
    "Student",
    "Table",
    "build",
    "empty",
    "load",
    "read_bundle",
]


def empty() -> Roster:
    """Return the roster of a kiosk that has not been given one yet."""
    return build({name: [] for name in FILES}, "", version=0)


def load(path: Path, version: int, progress: Progress | None = None) -> Roster:
    """Read and check a bundle in one go (what ``roster import`` does before storing)."""
    tables, school_toml, photos = read_bundle(path, progress)
    return dataclasses.replace(build(tables, school_toml, version), photos=photos)
