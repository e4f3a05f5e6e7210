"""`campus-edge serve` and `demo`: run a node (or the central) until interrupted."""

from __future__ import annotations

import ctypes
import datetime as dt
import gc
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from edge.cli.common import DataDir, fail, node_settings
from edge.errors import CampusEdgeError
from edge.school import auth
from edge.school import roster as roster_mod
from edge.settings import Settings

if TYPE_CHECKING:
    from edge.clock import Clock
    from edge.node import Node


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


def run(
    settings: Settings,
    clock: Clock | None = None,
    started: Callable[[Node], Callable[[], None]] | None = None,
) -> None:
    """Start a node and serve it until interrupted (under systemd: notify, watchdog).

    ``clock`` replaces the machine's (the demo's); ``started`` is called once the node
    runs and returns what stops what it started (the demo's afternoon).
    """
    import uvicorn

    from edge import systemd
    from edge.http.app import create_app
    from edge.node import Node

    systemd.configure_logging()
    try:
        node = Node(settings, clock)
    except CampusEdgeError as err:
        fail(str(err))
    node.start()
    settle()
    # Also each day's kept picture once built (Projection.freeze_gc): the GC need not
    # walk it again (full collections over it were presence's periodic spikes).
    node.projection.freeze_gc = True
    stop_started: Callable[[], None] | None = None
    watchdog: systemd.Watchdog | None = None
    try:
        if started is not None:
            stop_started = started(node)
        config = uvicorn.Config(
            create_app(node),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            timeout_graceful_shutdown=2,  # open live streams must not hold a restart
            access_log=False,
            log_config=None,  # keep our handler (journald priorities under systemd)
            ws="none",  # no WebSocket routes (screens use SSE): not imported at all
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
        if stop_started is not None:
            stop_started()
        node.stop()


def settle() -> None:
    """Make what start loaded (the roster, the day so far) cheap to keep for the afternoon.

    The collector stops walking those objects at every full collection (gc.freeze:
    they live as long as the process), and the memory freed while loading goes back
    to the system (glibc's malloc_trim; elsewhere nothing is done).
    """
    gc.collect()
    gc.freeze()
    try:
        ctypes.CDLL(None).malloc_trim(0)  # the C library's, where it has one
    except (OSError, AttributeError):
        pass


def demo(
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    students: Annotated[int, typer.Option(help="how many students the demo campus has")] = 300,
    speed: Annotated[
        float, typer.Option(help="how many times faster than real time the demo's clock runs")
    ] = 30.0,
    start: Annotated[
        str, typer.Option(help="the demo clock's first moment today, HH:MM school time")
    ] = "15:30",
    seed: Annotated[int, typer.Option(help="the same seed plays the same afternoon")] = 2026,
    data_dir: DataDir = None,
) -> None:
    """Build a demo campus and play an afternoon on it, on a clock that runs fast."""
    from zoneinfo import ZoneInfo

    from edge.cli import afternoon
    from edge.cli import demo as demo_mod
    from edge.clock import ScaledClock
    from edge.store.ledger import Ledger

    if not 0 < speed <= 1000:  # beyond, a guardian's 120 s lasts less than a tap's commit
        fail(f"--speed {speed:g}: give how many times faster than real time, up to 1000")
    if not 20 <= students <= 5000:
        fail(f"--students {students}: a demo campus has 20 to 5000 students")
    begin = _hhmm(start)
    settings = node_settings(
        data_dir or Path(".demo"), host=host, port=port, simulate=True, node_id="demo-kiosk",
        clock_trusted=True,  # the demo's clock is its world's time
    )  # fmt: skip
    # The demo's made-up campus never reaches a real school's hub, central or parents,
    # whatever this machine's environment says (a kiosk's CAMPUS_EDGE_UPSTREAM...).
    settings = settings.model_copy(update={
        "upstream": None, "device_token": None, "database_url": None, "role": "kiosk",
        "webhook_url": None, "webhook_secret": None, "readers": [],
    })  # fmt: skip
    day = demo_mod.demo_day()
    try:
        demo_mod.fresh_start(settings.data_dir, settings.database)
        bundle = demo_mod.write_bundle(settings.data_dir / "roster", students=students, today=day)
    except (CampusEdgeError, OSError) as err:  # not a demo's directory; a full or read-only disk
        fail(str(err))
    first = dt.datetime.combine(day, begin, tzinfo=ZoneInfo(demo_mod.DEMO_ZONE))
    roster = roster_mod.load(bundle, version=1)
    steps = afternoon.plan(roster, day, seed, begin=first)
    last = max([first, *(s.at for s in steps)]) + dt.timedelta(minutes=10)
    clock = ScaledClock(first, speed, slow_after=last)
    Ledger(settings.database, settings.node_id, clock=clock).save_roster(roster, str(bundle))
    base = f"http://{host}:{port}"
    secret = auth.load_secret(settings.data_dir)

    def play(node: Node) -> Callable[[], None]:
        clock.restart()  # the afternoon begins once the node is up; tokens from then on
        typer.echo(demo_mod.welcome(roster, clock, secret, base, settings.data_dir, last))
        player = afternoon.Player(node, clock, steps, typer.echo)
        player.start()
        return player.stop

    run(settings, clock, play)


def _hhmm(text: str) -> dt.time:
    """Return a time of day written HH:MM; fail with a sentence otherwise."""
    try:
        if len(text) != 5 or text[2] != ":":
            raise ValueError(text)
        return dt.time(int(text[:2]), int(text[3:]))
    except ValueError:
        fail(f"--start {text}: give a time of day as HH:MM, e.g. 15:30")
