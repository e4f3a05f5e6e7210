"""`campus-edge roster import`: a roster bundle, all or nothing, on a node or the central."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from edge.cli.common import DataDir, fail, node_settings, open_ledger
from edge.errors import CampusEdgeError, RosterError
from edge.school import roster as roster_mod

app = typer.Typer(help="The school roster.", no_args_is_help=True)


@app.command("import")
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
        fail("on the central, give both --campus NAME and --database URL")
    settings = node_settings(data_dir)
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
            central.append_action(
                "roster_imported", {"campus": campus, "version": version, "source": str(path)}
            )
        else:
            ledger = open_ledger(settings)
            before = ledger.roster_version()
            new = roster_mod.load(path, version=before + 1, progress=progress)
            typer.echo("  all rows checked; storing ...", err=True)
            version = ledger.save_roster(new, source=str(path))
            counts = {name: len(rows) for name, rows in new.tables.items()}
            ledger.append_action(
                "roster_imported", {"version": version, "source": str(path), "counts": counts}
            )
    except RosterError as err:
        fail(
            f"Roster refused, nothing was imported (the previous roster stays in force):\n"
            f"  {err.sentence()}"
        )
    except CampusEdgeError as err:
        fail(str(err))
    typer.echo(
        f"Roster version {version} imported: {len(new.students)} students, "
        f"{len(new.guardians)} guardians, {len(new.staff)} staff, {len(new.groups)} groups, "
        f"{len(new.stations)} stations."
    )
