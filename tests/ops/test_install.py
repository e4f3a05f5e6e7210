"""systemd/install.sh run for real into a throwaway root (--prefix), and its units verified.

The script is shellcheck-clean; in prefix mode it builds the venv, writes the settings,
udev rules, modprobe blacklist, journald limits and units under the prefix, and logs
what it would have run (useradd, systemctl, udevadm). `systemd-analyze verify` then
checks the installed units with their real paths.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests import roster_files

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "systemd" / "install.sh"


def need(tool: str) -> str:
    found = shutil.which(tool)
    assert found, f"{tool} is needed for this test: apt-get install {tool} (.ci/run does)"
    return found


def install(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True,
                          timeout=600, check=check)  # fmt: skip


def verify(*units: Path, user: bool = False, tmp: Path | None = None) -> None:
    env = dict(os.environ)
    if user and tmp is not None:
        (tmp / "xdg").mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(tmp / "xdg")
    command = [need("systemd-analyze"), *(["--user"] if user else []), "verify", *map(str, units)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 0, result.stderr
    assert "Unknown" not in result.stderr, result.stderr
    assert "Invalid" not in result.stderr, result.stderr


def test_the_installer_is_shellcheck_clean() -> None:
    result = subprocess.run([need("shellcheck"), str(INSTALL)], capture_output=True, text=True,
                            check=False)  # fmt: skip
    assert result.returncode == 0, result.stdout


def test_install_upgrade_and_uninstall_in_a_throwaway_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = install(
        "--prefix", str(root), "--station", "K1", "--reader", "K1=nfc:usb",
        "--upstream", "https://hub.school.lan", "--device-token", "dev1.secret",
    )  # fmt: skip
    assert "campus-edge install: installed" in first.stdout
    data, venv = root / "var/lib/campus-edge", root / "opt/campus-edge/venv"
    settings = (data / "settings.toml").read_text()
    assert 'upstream = "https://hub.school.lan"' in settings
    assert 'device_token = "dev1.secret"' in settings
    assert 'readers = ["K1=nfc:usb"]' in settings
    assert stat.S_IMODE((data / "settings.toml").stat().st_mode) == 0o640  # holds the token
    assert stat.S_IMODE(data.stat().st_mode) == 0o750
    units = root / "etc/systemd/system"
    service = (units / "campus-edge.service").read_text()
    assert f"ExecStart={venv}/bin/campus-edge serve" in service
    assert "Type=notify" in service
    assert "WatchdogSec=30" in service
    assert f"ReadWritePaths={data}" in service
    kiosk = root / "etc/systemd/user/campus-edge-kiosk.service"
    assert "http://127.0.0.1:8080/kiosk/K1" in kiosk.read_text()
    assert (root / "etc/udev/rules.d/60-campus-edge.rules").exists()
    assert (
        "blacklist pn533_usb"
        in (root / "etc/modprobe.d/campus-edge-nfc-blacklist.conf").read_text()
    )
    assert (
        "SystemMaxUse=200M" in (root / "etc/systemd/journald.conf.d/campus-edge.conf").read_text()
    )
    ran = (root / "install.log").read_text().splitlines()
    assert "systemctl enable campus-edge" in ran
    assert "systemctl --global enable campus-edge-kiosk.service" in ran
    assert any(line.startswith("useradd --system") for line in ran)
    verify(units / "campus-edge.service", units / "campus-edge-backup.service",
           units / "campus-edge-backup.timer")  # fmt: skip
    verify(kiosk, user=True, tmp=tmp_path)

    # The installed program works on its own: it imports a roster and checks itself.
    env = {**os.environ, "CAMPUS_EDGE_DATA_DIR": str(data), "CAMPUS_EDGE_CLOCK_TRUSTED": "true"}
    bundle = roster_files.write(tmp_path / "roster")
    subprocess.run([str(venv / "bin/campus-edge"), "roster", "import", str(bundle)], env=env,
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    doctor = subprocess.run([str(venv / "bin/campus-edge"), "doctor", "--lang", "en"], env=env,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert "✔ database: sound; roster version 1" in doctor.stdout
    pages = list((venv / "lib").glob("python3.*/site-packages/kiosk_ui/kiosk.html"))
    assert pages, "the screens are not in the installed package"

    again = install("--prefix", str(root))  # an upgrade keeps the settings
    assert "campus-edge install: upgraded" in again.stdout
    assert (data / "settings.toml").read_text() == settings
    assert "systemctl restart campus-edge" in (root / "install.log").read_text()

    install("--prefix", str(root), "--uninstall")
    assert not (units / "campus-edge.service").exists()
    assert not kiosk.exists()
    assert not (root / "etc/udev/rules.d/60-campus-edge.rules").exists()
    assert not venv.exists()
    assert (data / "campus-edge.db").exists()  # the ledger stays
    install("--prefix", str(root), "--uninstall", "--purge")
    assert not data.exists()


def test_the_hub_unit_verifies(tmp_path: Path) -> None:
    text = (ROOT / "systemd/campus-edge-hub.service").read_text()
    fake_venv = tmp_path / "venv"
    (fake_venv / "bin").mkdir(parents=True)
    (fake_venv / "bin/campus-edge").write_text("#!/bin/sh\n")
    (fake_venv / "bin/campus-edge").chmod(0o755)
    unit = tmp_path / "campus-edge-hub.service"
    unit.write_text(text.replace("@VENV@", str(fake_venv)).replace("@DATA@", str(tmp_path)))
    assert "serve --role hub" in unit.read_text()
    verify(unit)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--role", "central"], "--role is kiosk or hub"),
        (["--upstream", "https://hub"], "--upstream needs --device-token"),
        (["--frobnicate"], "unknown option --frobnicate"),
    ],
)
def test_the_installer_refuses_what_it_cannot_do(tmp_path: Path, args: list, says: str) -> None:
    refused = install("--prefix", str(tmp_path / "root"), *args, check=False)
    assert refused.returncode == 2
    assert says in refused.stderr
