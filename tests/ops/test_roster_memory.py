"""A serving node keeps its roster packed: nothing of it may change on the way.

The node reads the roster in force back from its ledger, keeps its tables packed
(edge.school.roster.model.pack) and unpacks them only when an import, an export or a
sync asks; what comes out must be exactly what was imported, cell for cell, or a
kiosk and its hub would name one roster differently (its content digest).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from edge.school import roster as roster_mod
from edge.store.ledger import Ledger
from tests.services import imported_campus


def test_the_roster_read_back_is_the_roster_imported_cell_for_cell(tmp_path: Path) -> None:
    bundle = imported_campus(tmp_path, students=400, seed=3)
    tables, school_toml, _ = roster_mod.read_bundle(bundle)
    ledger = Ledger(tmp_path / "data" / "campus-edge.db", "gate-1")
    served = ledger.load_roster()
    assert {name: rows for name, rows in served.tables.items() if rows} == {
        name: rows for name, rows in tables.items() if rows
    }
    digest = hashlib.sha256(
        json.dumps([tables, school_toml], sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    assert ledger.roster_tag() == f"1:{digest}"
    # the picture the rules use is the same as a fresh check of the files gives
    fresh = roster_mod.load(bundle, version=1)
    assert served.students == fresh.students
    assert served.pickup == fresh.pickup
    assert served.enrollments == fresh.enrollments
    assert served.cards == fresh.cards
