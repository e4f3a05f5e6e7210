"""Files that appear whole or not at all: the one way campus-edge writes a file.

A power cut at a kiosk can come at any moment. A file is written beside its final
name (``NAME.part``), flushed to the card, then renamed over the final name, and the
folder is flushed so the rename itself survives. A reader sees the old file or the
new one, never half of one. A key made on first use (``read_or_create``) is linked
into place instead of renamed, so when two processes make it at once the first one
wins and both use it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` whole or not at all, with permissions ``mode``."""
    path = Path(path)
    part = path.with_name(path.name + ".part")
    _write_synced(part, data, mode)
    part.replace(path)
    _sync_folder(path.parent)


def read_or_create(path: Path, make: Callable[[], bytes], mode: int = 0o600) -> bytes:
    """Return the file's bytes, first writing ``make()`` there whole if it does not exist."""
    path = Path(path)
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.part")
    try:
        _write_synced(part, make(), mode)
        try:
            os.link(part, path)  # never replaces a key another process made meanwhile
        except FileExistsError:
            pass
    finally:
        part.unlink(missing_ok=True)
    _sync_folder(path.parent)
    return path.read_bytes()


def _write_synced(path: Path, data: bytes, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
