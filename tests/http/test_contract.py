"""Docs stay honest: CONTRACT.md's commands and routes exist; README's are the Makefile's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from edge.cli.app import app
from edge.http.app import create_app
from edge.node import Node
from edge.store.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = ROOT.parent / "shared" / "CONTRACT.md"


def contract_text() -> str:
    """Return CONTRACT.md up to the features it lists as still to build."""
    assert CONTRACT.exists(), f"CONTRACT.md is expected beside the checkout at {CONTRACT}"
    text = CONTRACT.read_text(encoding="utf-8")
    ahead = re.search(r"^#+ .*\(to build", text, re.M)
    return text[: ahead.start()] if ahead else text


def contract_routes() -> set[str]:
    """Return the routes CONTRACT.md names, as regular expressions over the app's paths.

    `/api/v1/sync/{hello,events}` names two routes; an upper-case segment (ID, NAME,
    STATION_ID) is a path parameter; `reports/*` any route below; a lone `/code` or
    `.../stream` in a list continues the route before it (a suffix).
    """
    spans = re.findall(r"`(?:GET |POST |PUT |DELETE )?((?:\.\.\.)?/[^`\s?]*)", contract_text())
    names: set[str] = set()
    for span in spans:
        group = re.search(r"\{([^{}]*,[^{}]*)\}", span)
        parts = group.group(1).split(",") if group else [""]
        for part in parts:
            names.add(span[: group.start()] + part + span[group.end() :] if group else span)
    patterns = set()
    for name in names:
        suffix = name.startswith("...") or name.count("/") == 1 and name[1:] in {
            "manual-release", "code", "stream"
        }  # fmt: skip
        segments = []
        for segment in name.removeprefix("...").split("/"):
            if segment == "*":
                segments.append(".+")
            elif re.fullmatch(r"[A-Z_]+", segment):
                segments.append(r"\{[^/]+\}")
            else:
                segments.append(re.escape(segment))
        patterns.add(("(?:/.*)?" if suffix else "") + "/".join(segments))
    return patterns


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
    named = contract_routes()
    assert {
        re.escape("/healthz"),
        re.escape("/api/v1/sim/taps"),
        re.escape("/api/v1/presence"),
        re.escape("/dashboard"),
        re.escape("/api/v1/pickup-codes"),
        r"/kiosk/\{[^/]+\}",
        re.escape("/api/v1/sync/status"),
    } <= named
    for pattern in named:
        assert any(re.fullmatch(pattern, r) for r in routes), (
            f"CONTRACT.md names {pattern}, the app has no such route"
        )


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
