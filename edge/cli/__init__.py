"""The ``campus-edge`` command: the typer app and its commands (CONTRACT.md, CLI)."""
