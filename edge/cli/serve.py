"""`campus-edge serve` and `demo`: run a node (or the central) until interrupted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edge.cli.common import DataDir, fail, node_settings, open_ledger
from edge.errors import CampusEdgeError
from edge.school import auth
from edge.school import roster as roster_mod
from edge.settings import Settings


def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    simulate: Annotated[bool, typer.Option(help="simulated readers on every station")] = False,
    reader: Annotated[
        list[str] | None, typer.Option(help="STATION=SPEC, e.g. K-3A=nfc:usb (repeatable)")
    ] = None,
    upstream: Annotated[
        str | None, typer.Option(help="the hub (or, for a hub, the central) to sync with")
    ] = None,
    device_token: Annotated[
        str | None, typer.Option(help="this node's device token, from `device add` upstream")
    ] = None,
    role: Annotated[str | None, typer.Option(help="kiosk (default), hub or central")] = None,
    database: Annotated[
        str | None, typer.Option(help="central only: postgresql://... (kiosks and hubs: SQLite)")
    ] = None,
    node_id: Annotated[
        str | None, typer.Option(help="this node's name (default: hostname)")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Run the service: readers, tap pipeline, HTTP API and pages; sync with --upstream."""
    if bool(upstream) != bool(device_token):
        fail("--upstream and --device-token go together: the hub's URL and this node's token")
    if role not in (None, "kiosk", "hub", "central"):
        fail(f"--role {role}: a node is a kiosk, a hub or the central")
    if database is not None and not database.startswith(("postgresql://", "postgres://")):
        fail(f"--database {database}: give a PostgreSQL URL, postgresql://USER@HOST/DB")
    if (role == "central") != (database is not None):
        fail("the central runs on PostgreSQL: give both --role central and --database URL")
    from edge.devices.registry import ReaderUnavailable, parse_binding

    for binding in reader or []:
        try:
            parse_binding(binding)
        except ReaderUnavailable as err:
            fail(str(err))
    settings = node_settings(
        data_dir,
        host=host,
        port=port,
        node_id=node_id,
        simulate=simulate or None,
        readers=reader or None,
        upstream=upstream,
        device_token=device_token,
        role=role,
        database_url=database,
    )
    if settings.role == "central":
        from edge.http.central import serve_central

        try:
            serve_central(settings)
        except CampusEdgeError as err:
            fail(str(err))
        return
    if settings.upstream and node_id is None and not settings.database.exists():
        settings = _adopt_device_name(settings)
    run(settings)


def _adopt_device_name(settings: Settings) -> Settings:
    """Take the name the device token was registered under as a new kiosk's node id."""
    import httpx

    from edge.sync.client import ask_hello

    try:
        answer = ask_hello(settings)
    except httpx.HTTPError:
        typer.echo("the hub cannot be reached yet; starting under the host name", err=True)
        return settings
    if answer.status_code == 401:
        fail(f"the hub refused this device token: {answer.json().get('detail')}")
    if answer.status_code != 200:
        return settings
    name = answer.json()["device"]
    typer.echo(f"registered at the hub as '{name}': that is this node's id", err=True)
    return settings.model_copy(update={"node_id": name})


def run(settings: Settings) -> None:
    """Start a node and serve it until interrupted (under systemd: notify, watchdog)."""
    import gc

    import uvicorn

    from edge import systemd
    from edge.http.app import create_app
    from edge.node import Node

    systemd.configure_logging()
    try:
        node = Node(settings)
    except CampusEdgeError as err:
        fail(str(err))
    node.start()
    # The roster and what start-up built live all day: the cyclic GC need not walk them
    # again (full collections over them were presence's periodic spikes). Also each
    # day's kept picture once built (Projection.freeze_gc).
    gc.collect()
    gc.freeze()
    node.projection.freeze_gc = True
    watchdog: systemd.Watchdog | None = None
    try:
        config = uvicorn.Config(
            create_app(node),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            timeout_graceful_shutdown=2,  # open live streams must not hold a restart
            access_log=False,
            log_config=None,  # keep our handler (journald priorities under systemd)
        )
        server = uvicorn.Server(config)
        where = (
            f"campus-edge {settings.role} '{node.ledger.node_id}' on "
            f"http://{settings.host}:{settings.port} (roster version {node.roster.version}, "
            f"{len(node.roster.students)} students)"
        )
        typer.echo(where, err=True)

        systemd.ready_when_serving(server, where)
        systemd.stop_gracefully_on_signals()
        interval = systemd.watchdog_interval()
        if interval:
            watchdog = systemd.Watchdog(lambda: server.started and node.responsive(), interval)
            watchdog.start()
        server.run()
    finally:
        systemd.notify("STOPPING=1")
        if watchdog is not None:
            watchdog.stop()
        node.stop()


def demo(
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    students: Annotated[int, typer.Option(help="how many students the demo campus has")] = 300,
    data_dir: DataDir = None,
) -> None:
    """Build a demo campus (roster, simulated readers) and serve it."""
    from edge.cli import demo as demo_mod

    settings = node_settings(
        data_dir or Path(".demo"), host=host, port=port, simulate=True, node_id="demo-kiosk"
    )
    bundle = settings.data_dir / "roster"
    demo_mod.write_bundle(bundle, students=students)
    ledger = open_ledger(settings)
    new = roster_mod.load(bundle, version=ledger.roster_version() + 1)
    version = ledger.save_roster(new, source=str(bundle))
    secret = auth.load_secret(settings.data_dir)
    leader = next(s for s in new.staff.values() if s.role == "duty_leader")
    admin = next(s for s in new.staff.values() if s.role == "admin")
    now = ledger.clock.now()  # the node's clock: its tokens are checked against it
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
