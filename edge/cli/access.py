"""Who may do what: staff tokens and PINs, and the key that pairs a screen with a station."""

from __future__ import annotations

import re
import socket
from typing import Annotated

import typer

from edge.cli.common import DataDir, fail, node_settings, open_ledger
from edge.school import auth
from edge.store.ledger import Ledger


def token(
    staff: Annotated[str, typer.Option("--staff", help="the staff_id from staff.csv")],
    hours: Annotated[float | None, typer.Option(help="how long it is valid")] = None,
    revoke: Annotated[
        bool, typer.Option("--revoke", help="refuse every token issued to them until now")
    ] = False,
    data_dir: DataDir = None,
) -> None:
    """Print a bearer token for a staff member's role (or revoke all they hold)."""
    settings = node_settings(data_dir)
    ledger = open_ledger(settings)
    roster = ledger.load_roster()
    member = roster.staff.get(staff)
    if revoke:
        ledger.revoke_staff(staff, ledger.clock.now().timestamp())  # the node's clock
        ledger.append_action("staff_tokens_revoked", {"staff_id": staff}, subject_id=staff)
        typer.echo(f"every token issued to {staff} until now is refused from now on", err=True)
        return
    if member is None:
        fail(f"staff_id '{staff}' is not in the roster in force (version {roster.version}).")
    if hours is not None and not 0 < hours <= auth.MAX_TOKEN_HOURS:
        fail(
            f"--hours {hours:g}: a token is valid for more than 0 and at most "
            f"{auth.MAX_TOKEN_HOURS:.0f} hours (a week); issue a new one when it runs out"
        )
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


def pin(
    staff: Annotated[str, typer.Option("--staff", help="the staff_id from staff.csv")],
    data_dir: DataDir = None,
) -> None:
    """Set a staff member's dashboard PIN (asked twice, never shown; stored hashed)."""
    settings = node_settings(data_dir)
    ledger = open_ledger(settings)
    if staff not in ledger.load_roster().staff:
        fail(f"staff_id '{staff}' is not in the roster in force")
    chosen = typer.prompt("PIN (4-8 digits)", hide_input=True, confirmation_prompt=True)
    if not re.fullmatch(auth.PIN_PATTERN, chosen):
        fail("a PIN is 4 to 8 digits")
    ledger.set_pin(staff, auth.hash_pin(chosen))
    ledger.append_action("staff_pin_set", {"staff_id": staff}, subject_id=staff)
    typer.echo(f"PIN set for {staff}: card code plus PIN signs in beyond viewing", err=True)


def display(
    station: Annotated[str, typer.Argument(help="the station_id from stations.csv")],
    url: Annotated[
        str | None, typer.Option(help="how the screen reaches this node, e.g. https://hub:8443")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Print the address that pairs a screen elsewhere with a station (its display key)."""
    from edge.display import display_key

    settings = node_settings(data_dir)
    ledger = Ledger(settings.database, settings.node_id)
    if station not in ledger.load_roster().stations:
        fail(f"station '{station}' is not in the roster in force (stations.csv)")
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
