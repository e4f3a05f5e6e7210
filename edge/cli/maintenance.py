"""Looking after a node: doctor, verify, backup, purge, and waiting for the service."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from edge.cli.common import Database, DataDir, fail, node_settings, open_ledger
from edge.errors import CampusEdgeError


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

    settings = node_settings(data_dir)
    keep = settings.retention_days if days is None else days
    if keep < 0:
        fail("--days cannot be negative")
    verb = "would remove" if dry_run else "removed"
    if database:
        from edge.sync.central import CentralStore

        central = CentralStore(database)
        versions, photos = central.purge_rosters(keep, dry_run=dry_run)
        if not dry_run:
            central.append_action(
                "personal_data_purged",
                {"roster_versions": versions, "photos": photos, "days": keep},
            )
        typer.echo(f"{verb} {versions} roster versions older than {keep} days and "
                   f"{photos} photos no remaining roster names")  # fmt: skip
        return
    ledger = open_ledger(settings)
    found = retention.plan(ledger, keep)
    typer.echo(
        f"{verb} {len(found.photos)} photos ({found.photo_bytes // 1024} KB) that no roster "
        f"has named for {keep} days or more; {len(found.departed)} children who have left "
        "appear in the ledger by id only (no name, phone or photo is kept for them)"
    )
    if not dry_run and found.photos:
        removed = retention.purge(found)
        ledger.append_action("personal_data_purged", {"photos": removed, "days": keep})


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
            fail(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(1)


def doctor(
    lang: Annotated[str, typer.Option(help="zh (default) or en")] = "zh",
    data_dir: DataDir = None,
) -> None:
    """Check readers, clock, disk, database and the hub; say what to fix (exit 1 on a fault)."""
    from edge.cli import doctor as doctor_mod

    settings = node_settings(data_dir)
    findings = doctor_mod.run(settings)
    for finding in findings:
        typer.echo(finding.line("en" if lang == "en" else "zh"))
    if any(f.status == doctor_mod.FAIL for f in findings):
        raise typer.Exit(1)


def verify(data_dir: DataDir = None) -> None:
    """Walk the ledger's hash chains and report the first break of each (exit 1 if any)."""
    settings = node_settings(data_dir)
    ledger = open_ledger(settings)
    checked, problems = ledger.verify(
        progress=lambda n: typer.echo(f"  {n} events checked ...", err=True)
    )
    integrity = ledger.integrity_ok()
    if problems or not integrity:
        if not integrity:
            problems.insert(0, "SQLite's integrity check failed: restore the last backup")
        fail(f"The ledger is NOT intact ({checked} events checked):\n  " + "\n  ".join(problems))
    typer.echo(f"The ledger is intact: {checked} events, every hash chain unbroken.")


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
    settings = node_settings(data_dir)
    folder = destination if keep is not None else None
    if folder is not None:
        if keep is not None and keep < 1:
            fail("--keep must be at least 1")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S-%f")
        destination = folder / f"campus-edge-{stamp}.db"
    try:
        open_ledger(settings).backup(destination)
    except CampusEdgeError as err:
        fail(str(err))
    typer.echo(f"Backed up to {destination} (integrity checked). To restore, see README, Backup.")
    if folder is not None and keep is not None:
        copies = sorted(folder.glob("campus-edge-*.db"))
        for old in copies[:-keep]:
            old.unlink()
            typer.echo(f"  removed the old copy {old.name}", err=True)
