"""What the commands share: the --data-dir and --database options, settings, the ledger.

Errors are printed as sentences and exit with status 1 (2 for bad usage).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, NoReturn

import typer

from edge.clock import CorrectedClock, SystemClock
from edge.settings import Settings
from edge.store.ledger import Ledger

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="where the node keeps its database (or CAMPUS_EDGE_DATA_DIR)"),
]
Database = Annotated[str | None, typer.Option(help="on the central: its postgresql://... database")]


def node_settings(data_dir: Path | None, **values: object) -> Settings:
    """Return the node's settings, with the options given on the command line."""
    given = {k: v for k, v in values.items() if v is not None}
    if data_dir is not None:
        given["data_dir"] = data_dir
    return Settings(**given)  # type: ignore[arg-type]


def open_ledger(settings: Settings) -> Ledger:
    """Open the node's ledger; its actions are stamped by the node's clock (a drill's too)."""
    offset = settings.sim_clock_offset_seconds if settings.simulate else 0.0
    return Ledger(settings.database, settings.node_id, clock=CorrectedClock(SystemClock(), offset))


def fail(message: str) -> NoReturn:
    """Print the sentence on stderr, in red, and exit with status 1."""
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(1)
