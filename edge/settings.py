"""Settings of one node, from arguments, environment and the data directory's file.

Precedence, highest first: values given in code (the CLI's options), environment
variables ``CAMPUS_EDGE_*``, then ``settings.toml`` in the data directory. School
rules that belong to the school (timezone, service end, card byte order) live in the
roster's school.toml instead, so every kiosk of a campus agrees on them.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def default_data_dir() -> Path:
    """Return the platform's data directory for campus-edge."""
    if os.geteuid() == 0 and Path("/var/lib").is_dir():
        return Path("/var/lib/campus-edge")
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "campus-edge"


def data_dir_from_env() -> Path:
    """Return the data directory from CAMPUS_EDGE_DATA_DIR, or the platform default."""
    value = os.environ.get("CAMPUS_EDGE_DATA_DIR")
    return Path(value) if value else default_data_dir()


class Settings(BaseSettings):
    """Everything a node needs to know to run."""

    model_config = SettingsConfigDict(env_prefix="CAMPUS_EDGE_", extra="ignore")

    data_dir: Path = Field(default_factory=data_dir_from_env)
    node_id: str = Field(default_factory=socket.gethostname)
    role: Literal["kiosk", "hub", "central"] = "kiosk"
    host: str = "127.0.0.1"
    port: int = 8080
    simulate: bool = False
    # The simulation endpoint answers loopback callers only, unless this is set (a demo
    # on a classroom projector driven from another machine).
    simulate_from_anywhere: bool = False
    # Children still here late_custody minutes after the service end pass to the gate
    # guard by themselves (on a hub, or a kiosk that runs alone). Off only for a node
    # replaying a past afternoon against today's clock (the sync tests).
    escalate: bool = True
    # Parent notices (sign-in, release, not collected) go to this URL as signed JSON,
    # from a hub, the central, or a kiosk that runs alone. See README, Parent notices.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    readers: list[str] = Field(default_factory=list)
    debounce_seconds: float = 10.0
    pickup_context_seconds: float = 120.0
    token_hours: float = Field(default=12.0, gt=0, le=168.0)  # at most auth.MAX_TOKEN_HOURS
    max_body_bytes: int = 64 * 1024
    # Sync (kiosk -> hub -> central): where to, with which device token, how often.
    upstream: str | None = None
    device_token: str | None = None
    sync_seconds: float = 2.0
    behind_minutes: float = 3.0  # a kiosk not heard from for longer is an alert
    # Central only: its PostgreSQL database (postgresql://...).
    database_url: str | None = None
    # Whether the wall clock can be trusted (None: ask the system, NTP or RTC). An
    # untrusted clock marks its events and, once synced, follows the hub's time.
    clock_trusted: bool | None = None
    # A bearer token Prometheus may scrape /metrics with (an admin's staff token works too).
    metrics_token: str | None = None
    # Days a departed child's photos (and, on the central, old roster versions) are kept.
    retention_days: int = 365
    # doctor and /healthz warn below this much free space where the ledger lives.
    min_free_mb: int = 500
    # Drills and tests only (with --simulate): shift this node's wall clock.
    sim_clock_offset_seconds: float = 0.0

    @property
    def database(self) -> Path:
        """Return the path of the node's SQLite database."""
        return self.data_dir / "campus-edge.db"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read settings.toml from the data directory after arguments and environment."""
        data_dir = init_settings().get("data_dir") or data_dir_from_env()
        toml = TomlConfigSettingsSource(settings_cls, toml_file=Path(data_dir) / "settings.toml")
        return (init_settings, env_settings, toml)
