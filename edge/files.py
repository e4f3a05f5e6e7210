"""Files that appear whole or not at all: the one way campus-edge writes a file.

A power cut at a kiosk can come at any moment. A file is written beside its final
name (``NAME.part``), flushed to the card, then renamed over the final name, and the
folder is flushed so the rename itself survives. A reader sees the old file or the
new one, never half of one.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` whole or not at all, with permissions ``mode``."""
    path = Path(path)
    part = path.with_name(path.name + ".part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    part.replace(path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
