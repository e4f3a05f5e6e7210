"""The ``campus-edge`` command (CONTRACT.md, CLI): the typer app, one module per group.

Every command takes ``--data-dir DIR`` after its own name; CAMPUS_EDGE_DATA_DIR sets
the same. Errors are printed as sentences and exit with status 1 (2 for bad usage).

- ``serve``: serve, demo;  ``access``: token, pin, display;
- ``maintenance``: purge, wait, doctor, verify, backup;
- ``report``: report, export-child;  ``roster``: roster import;
- ``devices``: device add / revoke / list, node-key.
"""

from __future__ import annotations

import sys

import typer

from edge.cli import access, devices, maintenance, report, roster, serve

app = typer.Typer(
    help="campus-edge: after-school custody chain at the school gate.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(roster.app, name="roster")
app.add_typer(devices.app, name="device")
for command in (
    serve.serve,
    access.token,
    access.pin,
    access.display,
    maintenance.purge,
    report.export_child,
    maintenance.wait,
    maintenance.doctor,
    maintenance.verify,
    maintenance.backup,
    report.report,
    devices.node_key,
    serve.demo,
):
    app.command()(command)  # in this order in --help


def main() -> None:
    """Run the CLI."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
