"""The ``campus-edge`` command (CONTRACT.md, CLI).

Every command takes ``--data-dir DIR`` after its own name; CAMPUS_EDGE_DATA_DIR sets
the same. Errors are printed as sentences and exit with status 1 (2 for bad usage).
"""

from __future__ import annotations

import datetime as dt
import re
import socket
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from edge.clock import CorrectedClock, SystemClock
from edge.errors import CampusEdgeError, RosterError
from edge.files import write_atomic
from edge.school import auth
from edge.school import roster as roster_mod
from edge.settings import Settings
from edge.store.ledger import Ledger

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


def _ledger(settings: Settings) -> Ledger:
    """Open the node's ledger; its actions are stamped by the node's clock (a drill's too)."""
    offset = settings.sim_clock_offset_seconds if settings.simulate else 0.0
    return Ledger(settings.database, settings.node_id, clock=CorrectedClock(SystemClock(), offset))


def _fail(message: str) -> None:
    typer.secho(message, err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


@roster_app.command("import")
def roster_import(
    path: Annotated[Path, typer.Argument(help="a folder of CSV files or one .xlsx workbook")],
    campus: Annotated[
        str | None, typer.Option(help="on the central: the campus (its hub's device name)")
    ] = None,
    database: Annotated[
        str | None, typer.Option(help="on the central: its postgresql://... database")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Import a roster bundle, all or nothing; it replaces the roster in force."""
    if bool(campus) != bool(database):
        _fail("on the central, give both --campus NAME and --database URL")
    settings = _settings(data_dir)
    last_shown: dict[str, int] = {}

    def progress(name: str, done: int, total: int) -> None:
        if last_shown.get(name) != done:
            last_shown[name] = done
            typer.echo(f"  reading {name}: {done}/{total} rows", err=True)

    typer.echo(f"Checking {path} ...", err=True)
    try:
        if database and campus:
            from edge.sync.central import CentralStore

            new = roster_mod.load(path, version=0, progress=progress)
            typer.echo("  all rows checked; storing ...", err=True)
            central = CentralStore(database)
            version = central.save_roster(campus, new, source=str(path))
            central.record_action(
                "roster_imported", {"campus": campus, "version": version, "source": str(path)}
            )
        else:
            ledger = _ledger(settings)
            before = ledger.roster_version()
            new = roster_mod.load(path, version=before + 1, progress=progress)
            typer.echo("  all rows checked; storing ...", err=True)
            version = ledger.save_roster(new, source=str(path))
            counts = {name: len(rows) for name, rows in new.tables.items()}
            ledger.append_action(
                "roster_imported", {"version": version, "source": str(path), "counts": counts}
            )
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
        _fail("--upstream and --device-token go together: the hub's URL and this node's token")
    if role not in (None, "kiosk", "hub", "central"):
        _fail(f"--role {role}: a node is a kiosk, a hub or the central")
    if database is not None and not database.startswith(("postgresql://", "postgres://")):
        _fail(f"--database {database}: give a PostgreSQL URL, postgresql://USER@HOST/DB")
    if (role == "central") != (database is not None):
        _fail("the central runs on PostgreSQL: give both --role central and --database URL")
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
            _fail(str(err))
        return
    if settings.upstream and node_id is None and not settings.database.exists():
        settings = _adopt_device_name(settings)
    run(settings)


def _adopt_device_name(settings: Settings) -> Settings:
    """Take the name the device token was registered under as a new kiosk's node id."""
    import httpx

    try:
        answer = httpx.get(
            f"{(settings.upstream or '').rstrip('/')}/api/v1/sync/hello",
            headers={"Authorization": f"Bearer {settings.device_token}"},
            timeout=5,
        )
    except httpx.HTTPError:
        typer.echo("the hub cannot be reached yet; starting under the host name", err=True)
        return settings
    if answer.status_code == 401:
        _fail(f"the hub refused this device token: {answer.json().get('detail')}")
    if answer.status_code != 200:
        return settings
    name = answer.json()["device"]
    typer.echo(f"registered at the hub as '{name}': that is this node's id", err=True)
    return settings.model_copy(update={"node_id": name})


def run(settings: Settings) -> None:
    """Start a node and serve it until interrupted (under systemd: notify, watchdog)."""
    import uvicorn

    from edge import systemd
    from edge.http.app import create_app
    from edge.node import Node

    systemd.configure_logging()
    try:
        node = Node(settings)
    except CampusEdgeError as err:
        _fail(str(err))
        return
    node.start()
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


@app.command()
def token(
    staff: Annotated[str, typer.Option("--staff", help="the staff_id from staff.csv")],
    hours: Annotated[float | None, typer.Option(help="how long it is valid")] = None,
    revoke: Annotated[
        bool, typer.Option("--revoke", help="refuse every token issued to them until now")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Print a bearer token for a staff member's role (or revoke all they hold)."""
    settings = _settings(data_dir)
    ledger = _ledger(settings)
    roster = ledger.load_roster()
    member = roster.staff.get(staff)
    if revoke:
        ledger.revoke_staff(staff, ledger.clock.now().timestamp())  # the node's clock
        ledger.append_action("staff_tokens_revoked", {"staff_id": staff}, subject_id=staff)
        typer.echo(f"every token issued to {staff} until now is refused from now on", err=True)
        return
    if member is None:
        _fail(f"staff_id '{staff}' is not in the roster in force (version {roster.version}).")
        return
    if hours is not None and not 0 < hours <= auth.MAX_TOKEN_HOURS:
        _fail(
            f"--hours {hours:g}: a token is valid for more than 0 and at most "
            f"{auth.MAX_TOKEN_HOURS:.0f} hours (a week); issue a new one when it runs out"
        )
        return
    secret = auth.load_secret(settings.data_dir)
    lifetime = hours or settings.token_hours
    # On the node's clock, as its sign-ins: a token stamped ahead of it is refused there.
    issued = auth.issue(secret, member.staff_id, member.role, ledger.clock.now(), lifetime)
    ledger.append_action(
        "staff_token_issued",
        {"staff_id": member.staff_id, "role": member.role, "hours": lifetime},
        subject_id=member.staff_id,
    )
    typer.echo(issued)


@app.command()
def pin(
    staff: Annotated[str, typer.Option("--staff", help="the staff_id from staff.csv")],
    data_dir: DataDir = None,
) -> None:
    """Set a staff member's dashboard PIN (asked twice, never shown; stored hashed)."""
    settings = _settings(data_dir)
    ledger = _ledger(settings)
    if staff not in ledger.load_roster().staff:
        _fail(f"staff_id '{staff}' is not in the roster in force")
    chosen = typer.prompt("PIN (4-8 digits)", hide_input=True, confirmation_prompt=True)
    if not re.fullmatch(r"[0-9]{4,8}", chosen):
        _fail("a PIN is 4 to 8 digits")
    ledger.set_pin(staff, auth.hash_pin(chosen))
    ledger.append_action("staff_pin_set", {"staff_id": staff}, subject_id=staff)
    typer.echo(f"PIN set for {staff}: card code plus PIN signs in beyond viewing", err=True)


@app.command()
def display(
    station: Annotated[str, typer.Argument(help="the station_id from stations.csv")],
    url: Annotated[
        str | None, typer.Option(help="how the screen reaches this node, e.g. https://hub:8443")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Print the address that pairs a screen elsewhere with a station (its display key)."""
    from edge.display import display_key

    settings = _settings(data_dir)
    ledger = Ledger(settings.database, settings.node_id)
    if station not in ledger.load_roster().stations:
        _fail(f"station '{station}' is not in the roster in force (stations.csv)")
    if url is None:
        host = settings.host if settings.host not in ("0.0.0.0", "::", "") else None  # noqa: S104
        url = f"http://{host or socket.gethostname()}:{settings.port}"
    key = display_key(auth.load_secret(settings.data_dir), station)
    ledger.append_action("display_key_shown", {"station": station}, subject_id=station)
    typer.echo(
        "open this once on the screen (it keeps the key); anyone with it sees what the "
        "screen shows, so treat it like a staff card",
        err=True,
    )
    typer.echo(f"{url.rstrip('/')}/kiosk/{station}#key={key}")


@app.command()
def purge(
    days: Annotated[
        int | None, typer.Option(help="keep what left fewer days ago (retention_days)")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="only say what would go")] = False,
    database: Database = None,
    data_dir: DataDir = None,
) -> None:
    """Remove personal data kept past retention: departed children's photos; old rosters."""
    from edge.store import retention

    settings = _settings(data_dir)
    keep = settings.retention_days if days is None else days
    if keep < 0:
        _fail("--days cannot be negative")
    verb = "would remove" if dry_run else "removed"
    if database:
        from edge.sync.central import CentralStore

        central = CentralStore(database)
        versions, photos = central.purge_rosters(keep, dry_run=dry_run)
        if not dry_run:
            central.record_action(
                "personal_data_purged",
                {"roster_versions": versions, "photos": photos, "days": keep},
            )
        typer.echo(f"{verb} {versions} roster versions older than {keep} days and "
                   f"{photos} photos no remaining roster names")  # fmt: skip
        return
    ledger = _ledger(settings)
    found = retention.plan(ledger, keep)
    typer.echo(
        f"{verb} {len(found.photos)} photos ({found.photo_bytes // 1024} KB) that no roster "
        f"has named for {keep} days or more; {len(found.departed)} children who have left "
        "appear in the ledger by id only (no name, phone or photo is kept for them)"
    )
    if not dry_run and found.photos:
        removed = retention.purge(found)
        ledger.append_action("personal_data_purged", {"photos": removed, "days": keep})


@app.command("export-child")
def export_child(
    student: Annotated[str, typer.Argument(help="the student_id from students.csv")],
    output: Annotated[Path, typer.Option(help="a new folder for record.json and photos")],
    data_dir: DataDir = None,
) -> None:
    """Write everything held about one child (a parent's request) into a new folder."""
    import json

    from edge.reports.records import child_record, copy_photos

    if output.exists():
        _fail(f"{output} exists already; choose a new folder")
    settings = _settings(data_dir)
    ledger = _ledger(settings)
    try:
        record = child_record(ledger, ledger.load_roster(), student)
    except CampusEdgeError as err:
        _fail(str(err))
        return
    output.mkdir(parents=True)
    (output / "record.json").write_text(
        json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8"
    )
    photos = copy_photos(ledger, record["photos"], output / "photos")
    ledger.append_action("child_record_exported", {"student_id": student, "to": str(output)})
    typer.echo(
        f"Wrote {output}/record.json: {len(record['guardians'])} adults, "
        f"{len(record['events'])} events, {photos} photos. It holds personal data: hand it "
        "to the parent, and keep no copy."
    )


@app.command()
def wait(
    url: Annotated[str, typer.Argument(help="e.g. http://127.0.0.1:8080/healthz")],
    timeout: Annotated[float, typer.Option(help="seconds to wait at most")] = 60.0,
) -> None:
    """Wait until a URL answers 200 (the kiosk screen waits for the service so)."""
    import time

    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            _fail(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(1)


@app.command()
def doctor(
    lang: Annotated[str, typer.Option(help="zh (default) or en")] = "zh",
    data_dir: DataDir = None,
) -> None:
    """Check readers, clock, disk, database and the hub; say what to fix (exit 1 on a fault)."""
    from edge.cli import doctor as doctor_mod

    settings = _settings(data_dir)
    findings = doctor_mod.run(settings)
    for finding in findings:
        typer.echo(finding.line("en" if lang == "en" else "zh"))
    if any(f.status == doctor_mod.FAIL for f in findings):
        raise typer.Exit(1)


@app.command()
def verify(data_dir: DataDir = None) -> None:
    """Walk the ledger's hash chains and report the first break of each (exit 1 if any)."""
    settings = _settings(data_dir)
    ledger = _ledger(settings)
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
        Path,
        typer.Argument(help="a new file (/media/usb/ce-2026-11-23.db), or a folder with --keep"),
    ],
    keep: Annotated[
        int | None,
        typer.Option(help="into the folder DESTINATION, keeping only the newest KEEP copies"),
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Copy the database while the service runs (SQLite online backup), then check the copy."""
    settings = _settings(data_dir)
    folder = destination if keep is not None else None
    if folder is not None:
        if keep is not None and keep < 1:
            _fail("--keep must be at least 1")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S-%f")
        destination = folder / f"campus-edge-{stamp}.db"
    try:
        _ledger(settings).backup(destination)
    except CampusEdgeError as err:
        _fail(str(err))
        return
    typer.echo(f"Backed up to {destination} (integrity checked). To restore, see README, Backup.")
    if folder is not None and keep is not None:
        copies = sorted(folder.glob("campus-edge-*.db"))
        for old in copies[:-keep]:
            old.unlink()
            typer.echo(f"  removed the old copy {old.name}", err=True)


@app.command()
def report(
    name: Annotated[
        str, typer.Argument(help="attendance, workload, supervision, timeline or parents")
    ],
    month: Annotated[str | None, typer.Option(help="a month, e.g. 2026-11")] = None,
    term: Annotated[str | None, typer.Option(help="a term named in school.toml")] = None,
    start: Annotated[
        dt.datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="first day")
    ] = None,
    end: Annotated[
        dt.datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="last day")
    ] = None,
    date: Annotated[
        dt.datetime | None,
        typer.Option(formats=["%Y-%m-%d"], help="the day (supervision, timeline; default today)"),
    ] = None,
    group: Annotated[str | None, typer.Option(help="supervision: the group_id")] = None,
    student: Annotated[str | None, typer.Option(help="timeline: the student_id")] = None,
    out: Annotated[
        Path | None, typer.Option(help="write a file: .xlsx, .csv, .html or .json")
    ] = None,
    table: Annotated[str | None, typer.Option(help="only this table (CSV)")] = None,
    lang: Annotated[str, typer.Option(help="zh (default) or en headers")] = "zh",
    campus: Annotated[
        str | None, typer.Option(help="on the central: one campus (default: every campus)")
    ] = None,
    database: Database = None,
    data_dir: DataDir = None,
) -> None:
    """Make a report from the ledger; without --out, print one table as CSV."""
    import orjson

    from edge import reports
    from edge.errors import ReportError
    from edge.reports import files as report_files

    fmt = (out.suffix.lstrip(".").lower() if out else "csv") or "csv"
    if fmt not in report_files.FORMATS:
        _fail(f"{out}: write .xlsx, .csv, .html or .json")
    settings = _settings(data_dir)

    def progress(done: int, total: int, day: dt.date) -> None:
        if done == total or done % 10 == 0:
            typer.echo(f"  read {day.isoformat()} ({done}/{total} days)", err=True)

    asked: dict[str, Any] = {
        "month": month, "term": term,
        "start": start.date() if start else None, "end": end.date() if end else None,
        "date": date.date() if date else None, "group": group, "student": student,
        "progress": progress,
    }  # fmt: skip
    store: Any = None
    now = dt.datetime.now(dt.UTC)
    try:
        if database:
            from edge.sync.central import CentralStore

            store = CentralStore(database)
            campuses = [campus] if campus else store.campuses()
            if not campuses:
                _fail("the central holds no campus roster yet: nothing to report")
            if len(campuses) > 1 and name in ("supervision", "timeline"):
                _fail(f"the {name} report is about one campus: add --campus NAME")
            made = []
            for each in campuses:
                source = reports.CentralSource(store, each)
                typer.echo(f"Campus {each} ...", err=True)
                try:
                    made.append((each, reports.make(name, source, now=now, **asked)))
                except ReportError as err:
                    if campus:
                        raise
                    typer.echo(f"  left out: {err}", err=True)  # its school.toml differs
            if not made:
                _fail("no campus could make this report (see above)")
            result = made[0][1] if campus else reports.district(made)
            audit: Any = store
        else:
            ledger = _ledger(settings)
            result = reports.make(name, reports.LedgerSource(ledger), now=now, **asked)
            audit = ledger
        chosen = [result.table(table)] if table else result.tables
    except (ReportError, CampusEdgeError) as err:
        _fail(str(err))
        return
    if out is None:
        sys.stdout.write(report_files.to_csv(chosen[0], lang).decode("utf-8").lstrip("\ufeff"))
        return
    files: dict[Path, bytes] = {}
    if fmt == "csv":
        for each_table in chosen:
            path = out if len(chosen) == 1 else out.with_name(f"{out.stem}.{each_table.name}.csv")
            files[path] = report_files.to_csv(each_table, lang)
    elif fmt == "xlsx":
        files[out] = report_files.to_xlsx(result, lang)
    elif fmt == "html":
        files[out] = report_files.to_html(result, lang).encode("utf-8")
    else:
        files[out] = orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2)
    for path, data in files.items():
        write_atomic(path, data)  # a file appears whole or not at all
        typer.echo(f"Wrote {path} ({len(data) // 1024 + 1} KB)")
    details = {"report": name, "files": [str(p) for p in files], **{
        k: str(v) for k, v in asked.items() if v is not None and k != "progress"}}  # fmt: skip
    if database:
        audit.record_action("report_exported", details)
        store.close()
    else:
        audit.append_action("report_exported", details)


device_app = typer.Typer(help="Kiosks registered with this hub.", no_args_is_help=True)
app.add_typer(device_app, name="device")
Database = Annotated[str | None, typer.Option(help="on the central: its postgresql://... database")]


def _registry(data_dir: Path | None, database: str | None) -> Any:
    settings = _settings(data_dir)
    if database:
        from edge.sync.central import CentralStore

        return CentralStore(database)
    return _ledger(settings)


@device_app.command("add")
def device_add(
    name: Annotated[str, typer.Argument(help="the kiosk's name, e.g. K-3A or gate-east")],
    hub: Annotated[
        bool, typer.Option("--hub", help="on the central: register a campus hub")
    ] = False,
    node_key: Annotated[
        str | None,
        typer.Option(
            "--node-key",
            help="the device's node key, as `campus-edge node-key` prints it on the device: "
            "bound now, so no other key is taken at its first hello",
        ),
    ] = None,
    database: Database = None,
    data_dir: DataDir = None,
) -> None:
    """Register a kiosk with this hub (or a hub with the central); print its token once."""
    from edge.school import proof
    from edge.sync import hub as hub_mod

    if not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", name):
        _fail(f"'{name}' is not a device name: use letters, digits, '-', '_' and '.'")
    if node_key is not None and not proof.is_public_key(node_key):
        _fail(
            f"'{node_key}' is not a node key: run `campus-edge node-key` on the device and "
            "copy the 43 characters it prints"
        )
    try:
        registry = _registry(data_dir, database)
        token = registry.add_device(name, "hub" if hub else "kiosk")
        if node_key is not None and isinstance(registry, Ledger):
            hub_mod.pin_key(registry, name, node_key)
        elif node_key is not None:
            registry.pin_key(name, node_key)
        if isinstance(registry, Ledger):
            registry.append_action("device_registered", {"device": name, "kind": "kiosk"})
        else:
            registry.record_action("device_registered", {"device": name, "kind": "hub"})
    except CampusEdgeError as err:
        _fail(str(err))
        return
    typer.echo(token)


@device_app.command("revoke")
def device_revoke(
    name: Annotated[str, typer.Argument(help="the device to refuse from now on")],
    database: Database = None,
    data_dir: DataDir = None,
) -> None:
    """Refuse a device's token from now on (a lost or stolen kiosk)."""
    try:
        registry = _registry(data_dir, database)
        revoked = registry.revoke_device(name)
    except CampusEdgeError as err:
        _fail(str(err))
        return
    if not revoked:
        _fail(f"no device named '{name}' is registered (or it is revoked already)")
    if isinstance(registry, Ledger):
        registry.append_action("device_revoked", {"device": name})
    else:
        registry.record_action("device_revoked", {"device": name})
    typer.echo(f"device '{name}' revoked: its token is refused from now on", err=True)


@device_app.command("list")
def device_list(database: Database = None, data_dir: DataDir = None) -> None:
    """List the registered devices, and how each one's node key is bound."""
    try:
        registry = _registry(data_dir, database)
        devices = registry.devices()
        bindings = {} if isinstance(registry, Ledger) else registry.bindings()
    except CampusEdgeError as err:
        _fail(str(err))
        return
    from edge.sync import hub as hub_mod

    for device in devices:
        state = f"revoked {device.revoked_at}" if device.revoked_at else "active"
        if isinstance(registry, Ledger):
            held = hub_mod.binding(registry, device)
        else:
            held = bindings.get(device.name, {})
        key = hub_mod.describe_binding(held)
        typer.echo(f"{device.name}\t{device.kind}\t{device.created_at}\t{state}\t{key}")


@app.command("node-key")
def node_key(data_dir: DataDir = None) -> None:
    """Print this node's public key (made on first use), to pin it when registering it."""
    from edge.school import proof

    settings = _settings(data_dir)
    typer.echo(proof.public_text(proof.load_key(settings.data_dir)))


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="port to listen on")] = 8080,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    students: Annotated[int, typer.Option(help="how many students the demo campus has")] = 300,
    data_dir: DataDir = None,
) -> None:
    """Build a demo campus (roster, simulated readers) and serve it."""
    from edge.cli import demo as demo_mod

    settings = _settings(
        data_dir or Path(".demo"), host=host, port=port, simulate=True, node_id="demo-kiosk"
    )
    bundle = settings.data_dir / "roster"
    demo_mod.write_bundle(bundle, students=students)
    ledger = _ledger(settings)
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


def main() -> None:
    """Run the CLI."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
