"""Docs stay honest: CONTRACT.md's commands and routes exist; README's are the Makefile's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge.api import create_app
from edge.cli import app
from edge.ledger import Ledger
from edge.node import Node

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = ROOT.parent / "shared" / "CONTRACT.md"


def contract_text() -> str:
    assert CONTRACT.exists(), f"CONTRACT.md is expected beside the checkout at {CONTRACT}"
    return CONTRACT.read_text(encoding="utf-8")


def contract_commands() -> list[list[str]]:
    found = re.findall(r"`campus-edge ((?:[a-z]+\s)?[a-z]+)[\s`]", contract_text())
    commands = []
    for text in sorted(set(found)):
        words = text.split()  # a line break may fall inside the backticks
        # "roster import PATH" -> [roster, import]; "serve [--host" -> [serve]
        commands.append([w for w in words if w.islower() and w.isalpha()])
    return commands


def test_contract_names_the_commands_we_check() -> None:
    names = {" ".join(c) for c in contract_commands()}
    assert {"roster import", "serve", "token", "device add"} <= names


@pytest.mark.parametrize("command", contract_commands(), ids=" ".join)
def test_every_contract_command_exists_and_takes_data_dir(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--data-dir" in result.output


def test_every_contract_route_exists(make_node) -> None:  # noqa: ANN001
    node: Node = make_node(simulate=True)
    routes = {getattr(r, "path", "") for r in create_app(node).routes}
    named = set(re.findall(r"`(?:GET |POST )?(/[a-z0-9_/{}A-Z]+)", contract_text()))
    named = {re.sub(r"/STATION_ID", "/{station}", p) for p in named}
    assert {
        "/healthz",
        "/api/v1/sim/taps",
        "/api/v1/presence",
        "/api/v1/events",
        "/dashboard",
        "/kiosk/{station}",
    } <= named
    for path in named:
        assert path in routes, f"CONTRACT.md names {path}, the app has no such route"


def test_readme_make_commands_are_makefile_targets() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))
    used = set(re.findall(r"\bmake ([a-z][a-z-]*)", readme))
    assert {"demo", "test"} <= used
    assert used <= targets, f"README uses make targets the Makefile lacks: {used - targets}"


def test_ci_runs_make_test() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_token_and_device_add_from_the_command_line(tmp_path: Path, bundle: Path) -> None:
    env_args = ["--data-dir", str(tmp_path)]
    run = [sys.executable, "-m", "edge"]
    subprocess.run(
        [*run, "roster", "import", str(bundle), *env_args],
        check=True,
        capture_output=True,
        timeout=60,
    )
    token = subprocess.run(
        [*run, "token", "--staff", "L1", *env_args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    assert token.startswith("ce1.")
    unknown = subprocess.run(
        [*run, "token", "--staff", "NOBODY", *env_args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert unknown.returncode == 1
    assert "'NOBODY' is not in the roster" in unknown.stderr
    device = subprocess.run(
        [*run, "device", "add", "gate-east", *env_args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    ledger = Ledger(tmp_path / "campus-edge.db", "t")
    registered = ledger.device_for(device)
    assert registered is not None
    assert registered.name == "gate-east"
    stored = ledger.reader().execute("SELECT token_sha256 FROM devices").fetchone()[0]
    assert device not in stored  # only the hash is kept
    again = subprocess.run(
        [*run, "device", "add", "gate-east", *env_args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 1
    assert "already registered" in again.stderr
