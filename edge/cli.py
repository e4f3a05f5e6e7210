"""The ``campus-edge`` command (CONTRACT.md, CLI).

Every command takes ``--data-dir DIR`` after its own name; CAMPUS_EDGE_DATA_DIR sets
the same. Errors are printed as sentences and exit with status 1 (2 for bad usage).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from edge import auth
from edge import roster as roster_mod
from edge.errors import CampusEdgeError, RosterError
from edge.ledger import Ledger
from edge.settings import Settings

app = typer.Typer(
    help="campus-edge: after-school custody chain at the school gate.",
    no_args_is_help=True,
    add_completion=False,
)
roster_app = typer.Typer(help="The school roster.", no_args_is_help=True)
app.add_typer(roster_app, name="roster")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="where the node keeps its database (or CAMPUS_EDGE_DATA_DIR)"),
]


def _settings(data_dir: Path | None, **values: object) -> Settings:
    given = {k: v for k, v in values.items() if v is not None}
    if data_dir is not None:
        given["data_dir"] = data_dir
    return Settings(**given)  # type: ignore[arg-type]


def _fail(message: str) -> None:
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


@roster_app.command("import")
def roster_import(
    path: Annotated[Path, typer.Argument(help="a folder of CSV files or one .xlsx workbook")],
    data_dir: DataDir = None,
) -> None:
    """Import a roster bundle, all or nothing; it replaces the roster in force."""
    settings = _settings(data_dir)
    last_shown: dict[str, int] = {}

    def progress(name: str, done: int, total: int) -> None:
        if last_shown.get(name) != done:
            last_shown[name] = done
            typer.echo(f"  reading {name}: {done}/{total} rows", err=True)

    typer.echo(f"Checking {path} ...", err=True)
    try:
        ledger = Ledger(settings.database, settings.node_id)
        before = ledger.roster_version()
        new = roster_mod.load(path, version=before + 1, progress=progress)
        typer.echo("  all rows checked; storing ...", err=True)
        version = ledger.save_roster(new, source=str(path))
    except RosterError as err:
        _fail(
            f"Roster refused, nothing was imported (the previous roster stays in force):\n"
            f"  {err.sentence()}"
        )
        return
    except CampusEdgeError as err:
        _fail(str(err))
        return
    typer.echo(
        f"Roster version {version} imported: {len(new.students)} students, "
        f"{len(new.guardians)} guardians, {len(new.staff)} staff, {len(new.groups)} groups, "
        f"{len(new.stations)} stations."
    )


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    simulate: Annotated[bool, typer.Option(help="simulated readers on every station")] = False,
    reader: Annotated[
        list[str] | None, typer.Option(help="STATION=SPEC, e.g. K-3A=nfc:usb (repeatable)")
    ] = None,
    upstream: Annotated[str | None, typer.Option(help="hub URL to sync with")] = None,
    device_token: Annotated[str | None, typer.Option(help="this kiosk's device token")] = None,
    node_id: Annotated[
        str | None, typer.Option(help="this node's name (default: hostname)")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Run the service: readers, tap pipeline, HTTP API and pages."""
    if upstream or device_token:
        _fail(
            "Sync with a hub (--upstream, --device-token) is not part of this build yet; "
            "run the kiosk on its own for now."
        )
    from edge.devices.registry import ReaderUnavailable, parse_binding

    for binding in reader or []:
        try:
            parse_binding(binding)
        except ReaderUnavailable as err:
            _fail(str(err))
    settings = _settings(
        data_dir,
        host=host,
        port=port,
        node_id=node_id,
        simulate=simulate or None,
        readers=reader or None,
    )
    run(settings)


def run(settings: Settings) -> None:
    """Start a node and serve it until interrupted."""
    import uvicorn

    from edge.api import create_app
    from edge.node import Node

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        node = Node(settings)
    except CampusEdgeError as err:
        _fail(str(err))
        return
    node.start()
    try:
        config = uvicorn.Config(
            create_app(node),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            timeout_graceful_shutdown=2,  # open live streams must not hold a restart
            access_log=False,
        )
        server = uvicorn.Server(config)
        typer.echo(
            f"campus-edge {settings.role} '{node.ledger.node_id}' on "
            f"http://{settings.host}:{settings.port} (roster version {node.roster.version}, "
            f"{len(node.roster.students)} students)",
            err=True,
        )
        server.run()
    finally:
        node.stop()


@app.command()
def token(
    staff: Annotated[str, typer.Option("--staff", help="the staff_id from staff.csv")],
    hours: Annotated[float | None, typer.Option(help="how long it is valid")] = None,
    data_dir: DataDir = None,
) -> None:
    """Print a bearer token for a staff member's role."""
    settings = _settings(data_dir)
    ledger = Ledger(settings.database, settings.node_id)
    roster = ledger.load_roster()
    member = roster.staff.get(staff)
    if member is None:
        _fail(f"staff_id '{staff}' is not in the roster in force (version {roster.version}).")
        return
    secret = auth.load_secret(settings.data_dir)
    typer.echo(
        auth.issue(
            secret,
            member.staff_id,
            member.role,
            dt.datetime.now(dt.UTC),
            hours or settings.token_hours,
        )
    )


@app.command()
def verify(data_dir: DataDir = None) -> None:
    """Walk the ledger's hash chains and report the first break of each (exit 1 if any)."""
    settings = _settings(data_dir)
    ledger = Ledger(settings.database, settings.node_id)
    checked, problems = ledger.verify(
        progress=lambda n: typer.echo(f"  {n} events checked ...", err=True)
    )
    integrity = ledger.integrity_ok()
    if problems or not integrity:
        if not integrity:
            problems.insert(0, "SQLite's integrity check failed: restore the last backup")
        _fail(f"The ledger is NOT intact ({checked} events checked):\n  " + "\n  ".join(problems))
    typer.echo(f"The ledger is intact: {checked} events, every hash chain unbroken.")


@app.command()
def backup(
    destination: Annotated[
        Path, typer.Argument(help="a new file, e.g. /media/usb/ce-2026-11-23.db")
    ],
    data_dir: DataDir = None,
) -> None:
    """Copy the database while the service runs (SQLite online backup), then check the copy."""
    settings = _settings(data_dir)
    try:
        Ledger(settings.database, settings.node_id).backup(destination)
    except CampusEdgeError as err:
        _fail(str(err))
        return
    typer.echo(f"Backed up to {destination} (integrity checked). To restore, see README, Backup.")


device_app = typer.Typer(help="Kiosks registered with this hub.", no_args_is_help=True)
app.add_typer(device_app, name="device")


@device_app.command("add")
def device_add(
    name: Annotated[str, typer.Argument(help="the kiosk's name, e.g. K-3A or gate-east")],
    data_dir: DataDir = None,
) -> None:
    """Register a kiosk with this hub and print its device token (shown only once)."""
    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", name):
        _fail(f"'{name}' is not a device name: use letters, digits, '-', '_' and '.'")
    settings = _settings(data_dir)
    try:
        token = Ledger(settings.database, settings.node_id).add_device(name)
    except CampusEdgeError as err:
        _fail(str(err))
        return
    typer.echo(token)


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    students: Annotated[int, typer.Option(help="how many students the demo campus has")] = 300,
    data_dir: DataDir = None,
) -> None:
    """Build a demo campus (roster, simulated readers) and serve it."""
    from edge import demo as demo_mod

    settings = _settings(
        data_dir or Path(".demo"), host=host, port=port, simulate=True, node_id="demo-kiosk"
    )
    bundle = settings.data_dir / "roster"
    demo_mod.write_bundle(bundle, students=students)
    ledger = Ledger(settings.database, settings.node_id)
    new = roster_mod.load(bundle, version=ledger.roster_version() + 1)
    version = ledger.save_roster(new, source=str(bundle))
    secret = auth.load_secret(settings.data_dir)
    leader = next(s for s in new.staff.values() if s.role == "duty_leader")
    admin = next(s for s in new.staff.values() if s.role == "admin")
    now = dt.datetime.now(dt.UTC)
    base = f"http://{host}:{port}"
    lines = [
        f"Demo campus: {len(new.students)} students, {len(new.groups)} groups, "
        f"{len(new.stations)} stations (roster version {version}, in {settings.data_dir}).",
        "Open:",
        *[f"  {base}/kiosk/{s.station_id}   {s.name}" for s in list(new.stations.values())[:4]],
        f"  {base}/dashboard   (duty leader; token below)",
        f"  {base}/docs        (the API)",
        f"Duty leader token ({leader.name}): "
        + auth.issue(secret, leader.staff_id, leader.role, now, 24),
        f"Admin token ({admin.name}): " + auth.issue(secret, admin.staff_id, admin.role, now, 24),
        "Tap a card:",
        f"  curl -s -XPOST {base}/api/v1/sim/taps -H 'content-type: application/json' "
        f'-d \'{{"station": "{next(iter(new.stations))}", '
        f'"uid": "{demo_mod.first_card(new)}"}}\'',
    ]
    typer.echo("\n".join(lines))
    run(settings)


def main() -> None:
    """Run the CLI."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
