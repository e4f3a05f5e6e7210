"""`campus-edge device ...` and `node-key`: the devices a hub (or the central) knows."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from edge.cli.common import Database, DataDir, fail, node_settings, open_ledger
from edge.errors import CampusEdgeError
from edge.store.ledger import Ledger

app = typer.Typer(help="Kiosks registered with this hub.", no_args_is_help=True)


def _registry(data_dir: Path | None, database: str | None) -> Any:
    settings = node_settings(data_dir)
    if database:
        from edge.sync.central import CentralStore

        return CentralStore(database)
    return open_ledger(settings)


@app.command("add")
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
        fail(f"'{name}' is not a device name: use letters, digits, '-', '_' and '.'")
    if node_key is not None and not proof.is_public_key(node_key):
        fail(
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
        registry.append_action(
            "device_registered", {"device": name, "kind": "hub" if hub else "kiosk"}
        )
    except CampusEdgeError as err:
        fail(str(err))
    typer.echo(token)


@app.command("revoke")
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
        fail(str(err))
    if not revoked:
        fail(f"no device named '{name}' is registered (or it is revoked already)")
    registry.append_action("device_revoked", {"device": name})
    typer.echo(f"device '{name}' revoked: its token is refused from now on", err=True)


@app.command("list")
def device_list(database: Database = None, data_dir: DataDir = None) -> None:
    """List the registered devices, and how each one's node key is bound."""
    try:
        registry = _registry(data_dir, database)
        devices = registry.devices()
        bindings = {} if isinstance(registry, Ledger) else registry.bindings()
    except CampusEdgeError as err:
        fail(str(err))
    from edge.sync import hub as hub_mod

    for device in devices:
        state = f"revoked {device.revoked_at}" if device.revoked_at else "active"
        if isinstance(registry, Ledger):
            held = hub_mod.binding(registry, device)
        else:
            held = bindings.get(device.name, {})
        key = hub_mod.describe_binding(held)
        typer.echo(f"{device.name}\t{device.kind}\t{device.created_at}\t{state}\t{key}")


def node_key(data_dir: DataDir = None) -> None:
    """Print this node's public key (made on first use), to pin it when registering it."""
    from edge.school import proof

    settings = node_settings(data_dir)
    typer.echo(proof.public_text(proof.load_key(settings.data_dir)))
