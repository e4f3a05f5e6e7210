"""The shape of edge/ (README, "Where things are"): layers, no cycles, small functions.

The limits are the layers issue's: no import cycle inside edge/, no function over 80
lines, no module over 600 lines, imports inside functions counted. The layer contract
is import-linter's, in pyproject.toml; these tests also prove each check can fail, on
a copy of the tree with one bad import added.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import shape  # noqa: E402

LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of the tree's code and its pyproject, to break on purpose."""
    shutil.copytree(ROOT / "edge", tmp_path / "edge", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_edge_keeps_its_shape() -> None:
    assert shape.problems() == []


def test_edge_imports_only_downward() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(copy: Path) -> None:
    cards = copy / "edge" / "school" / "cards.py"
    cards.write_text(cards.read_text() + "\n\ndef _late() -> None:\n    import edge.node  # noqa\n")
    result = lint_imports(copy)
    assert result.returncode != 0
    assert "edge.school is not allowed to import edge.node" in result.stdout


def test_a_cycle_and_a_long_function_are_found(copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (copy / "edge" / "clock.py").write_text(
        (ROOT / "edge" / "clock.py").read_text()
        + "\n\ndef _long() -> None:\n"
        + "    import edge.errors\n" * 90
    )
    errors = copy / "edge" / "errors.py"
    errors.write_text(errors.read_text() + "\nfrom edge import clock  # noqa\n")
    monkeypatch.setattr(shape, "ROOT", copy)
    monkeypatch.setattr(shape, "PACKAGE", copy / "edge")
    found = shape.problems()
    assert "import cycle: edge.clock <-> edge.errors" in found
    assert any(p.startswith("function edge.clock._long:") and "91 lines" in p for p in found)
