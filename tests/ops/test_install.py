"""systemd/install.sh run for real into a throwaway root (--prefix), and its units verified.

The script is shellcheck-clean; in prefix mode it builds the venv, writes the settings,
udev rules, modprobe blacklist, journald limits and units under the prefix, and logs
what it would have run (apt-get, useradd, systemctl, udevadm). `systemd-analyze verify`
then checks the installed units with their real paths. An install from a wheelhouse runs
with no network (a network namespace where this machine allows one), and an upgrade that
fails leaves the running version as it was. The whole path from a bare Bookworm root is
`make pi-check` (tools/pi-check.sh), not part of `make test`: it takes minutes.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests import roster_files

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import wheelhouse as wheelhouse_tool  # noqa: E402

INSTALL = ROOT / "systemd" / "install.sh"
APT_PACKAGES = [
    line.split("#")[0].strip()
    for line in (ROOT / "systemd" / "apt-packages.txt").read_text().splitlines()
    if line.split("#")[0].strip()
]


def need(tool: str) -> str:
    found = shutil.which(tool)
    assert found, f"{tool} is needed for this test: apt-get install {tool} (.ci/run does)"
    return found


def install(
    *args: str, check: bool = True, offline: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run install.sh; offline, in a network namespace with no network when allowed here."""
    command = ["bash", str(INSTALL), *args]
    if offline and no_network_allowed():
        command = ["unshare", "--net", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"install.sh {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
        )
    return result


def no_network_allowed() -> bool:
    """Whether this machine lets the tests make a network namespace (root, or userns)."""
    unshare = shutil.which("unshare")
    return (
        bool(unshare)
        and subprocess.run(
            [str(unshare), "--net", "true"], capture_output=True, check=False
        ).returncode
        == 0
    )


def missing_debian_packages() -> list[str]:
    """The packages of systemd/apt-packages.txt this machine lacks."""
    form = "-f=${Package} ${db:Status-Status}\n"
    found = subprocess.run(["dpkg-query", "-W", form, *APT_PACKAGES], capture_output=True,
                           text=True, check=False)  # fmt: skip
    have = {line.split()[0] for line in found.stdout.splitlines() if line.endswith(" installed")}
    return [package for package in APT_PACKAGES if package not in have]


def releases(root: Path) -> list[str]:
    """The venvs under /opt/campus-edge of a throwaway root, oldest first."""
    return sorted(p.name for p in (root / "opt/campus-edge").glob("venv-*"))


def installed_version(venv: Path) -> str:
    """The version of campus-edge that the venv's Python imports."""
    return subprocess.run(
        [str(venv / "bin/python"), "-c",
         "import importlib.metadata as m; print(m.version('campus-edge'))"],
        capture_output=True, text=True, check=True, timeout=60, cwd="/",
    ).stdout.strip()  # fmt: skip


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


@pytest.mark.parametrize("script", [INSTALL, ROOT / "tools" / "pi-check.sh"], ids=lambda p: p.name)
def test_the_installer_is_shellcheck_clean(script: Path) -> None:
    result = subprocess.run([need("shellcheck"), str(script)], capture_output=True, text=True,
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
    missing = missing_debian_packages()
    if missing:  # --prefix never runs apt here: it says what it would install, and logs it
        assert f"Debian packages: would install {' '.join(missing)}" in first.stdout
        assert (
            f"apt-get install -y --no-install-recommends {' '.join(missing)}"
            in (root / "install.log").read_text()
        )
    else:
        assert "already installed" in first.stdout
    assert venv.is_symlink()
    assert releases(root) == [os.readlink(venv)]
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

    before = os.readlink(venv)
    again = install("--prefix", str(root))  # an upgrade keeps the settings
    assert "campus-edge install: upgraded" in again.stdout
    assert (data / "settings.toml").read_text() == settings
    assert "systemctl restart campus-edge" in (root / "install.log").read_text()
    # The new venv was built beside the old one, which stays as the way back.
    assert os.readlink(venv) != before
    assert releases(root) == sorted([before, os.readlink(venv)])
    assert f"the previous release stays in {root / 'opt/campus-edge' / before}" in again.stdout

    # A later run that adds one thing (the desktop user) keeps every setting it was not given.
    install("--prefix", str(root), "--station", "K1", "--kiosk-user", "kiosk")
    assert (data / "settings.toml").read_text() == settings
    autostart = root / "home/kiosk/.config/labwc/autostart"
    assert "/kiosk/K1 &" in autostart.read_text()

    install("--prefix", str(root), "--uninstall")  # it finds the desktop user it set up
    assert "campus-edge-screen" not in autostart.read_text()
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


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheelhouse of the layout (README, "A USB stick for many Pis") for this machine.

    Built as the contract says, from requirements/pi.lock: a wheel of every pin (pure-Python
    sdists built to wheels here), the project's wheel, a requirements.lock with the hash of
    each wheel, and apt-packages.txt.
    """
    house = tmp_path_factory.mktemp("stick") / "campus-edge-wheelhouse-test-x86_64"
    wheels = house / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "wheel", "--quiet"]
    subprocess.run([*pip, "--require-hashes", "-r", str(ROOT / "requirements/pi.lock"),
                    "-w", str(wheels)], check=True, timeout=600)  # fmt: skip
    pins = []
    for wheel in sorted(wheels.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        pins.append(f"{name}=={version} --hash=sha256:{digest}")
    (house / "requirements.lock").write_text("\n".join(pins) + "\n")
    subprocess.run([*pip, "--no-deps", "-w", str(wheels), str(ROOT)], check=True, timeout=600,
                   capture_output=True)  # fmt: skip
    shutil.copy(ROOT / "systemd/apt-packages.txt", house / "apt-packages.txt")
    wheelhouse_tool.write_sums(house)
    return house


def poison(house: Path, to: Path) -> Path:
    """A copy of the wheelhouse whose campus-edge is 9.9.9 and breaks at import."""
    shutil.copytree(house, to)
    (wheel,) = (to / "wheels").glob("campus_edge-*.whl")
    version = wheel.name.split("-")[1]
    info, new_info = f"campus_edge-{version}.dist-info", "campus_edge-9.9.9.dist-info"
    with (
        zipfile.ZipFile(wheel) as old,
        zipfile.ZipFile(wheel.with_name(wheel.name.replace(version, "9.9.9")), "w") as new,
    ):
        for item in old.infolist():
            data = old.read(item)
            if item.filename == "edge/devices/wedge.py":
                data = b'raise ImportError("poisoned: this release is broken")\n'
            if item.filename.startswith(info):
                data = data.replace(info.encode(), new_info.encode())
                data = data.replace(f"Version: {version}".encode(), b"Version: 9.9.9")
            new.writestr(item.filename.replace(info, new_info), data)
    wheel.unlink()
    wheelhouse_tool.write_sums(to)  # built and listed as a release would be: it passes the sums
    return to


def test_offline_install_from_a_wheelhouse_and_upgrades_that_fail(
    tmp_path: Path, wheelhouse: Path
) -> None:
    root = tmp_path / "root"
    first = install("--prefix", str(root), "--wheelhouse", str(wheelhouse), "--station", "K1",
                    "--reader", "K1=nfc:usb", offline=True)  # fmt: skip
    assert "campus-edge install: installed" in first.stdout
    venv, data = root / "opt/campus-edge/venv", root / "var/lib/campus-edge"
    version = installed_version(venv)
    running = os.readlink(venv)
    drivers = "import edge.devices.contactless, edge.devices.uart, edge.devices.wedge, nfc, serial"
    subprocess.run([str(venv / "bin/python"), "-c", drivers], check=True, timeout=60, cwd="/")
    settings = (data / "settings.toml").read_text()
    units = (root / "etc/systemd/system/campus-edge.service").read_text()
    log = (root / "install.log").read_text()

    # A campus-edge that installs but whose reader driver fails to import is never switched to.
    poisoned = poison(wheelhouse, tmp_path / "bad")
    bad = install("--prefix", str(root), "--wheelhouse", str(poisoned), "--station", "K2",
                  "--reader", "K2=nfc:usb", check=False, offline=True)  # fmt: skip
    assert bad.returncode == 1, bad.stdout
    assert "poisoned: this release is broken" in bad.stderr
    assert "nothing was changed: the running version" in bad.stderr
    assert f"{running}) keeps running" in bad.stderr

    # A damaged wheel, or campus-edge's own wheel swapped on the stick (no lock pins it), is
    # refused before anything is built: the stick no longer matches its SHA256SUMS.
    broken = shutil.copytree(wheelhouse, tmp_path / "broken")
    (next((broken / "wheels").glob("pyserial-*.whl"))).write_bytes(b"not a wheel")
    swapped = shutil.copytree(wheelhouse, tmp_path / "swapped")
    (theirs,) = (poisoned / "wheels").glob("campus_edge-*.whl")
    (ours,) = (swapped / "wheels").glob("campus_edge-*.whl")
    ours.write_bytes(theirs.read_bytes())  # same name, other content
    for altered in (broken, swapped):
        refused = install("--prefix", str(root), "--wheelhouse", str(altered), check=False,
                          offline=True)  # fmt: skip
        assert refused.returncode == 1, refused.stdout
        assert "does not match its SHA256SUMS" in refused.stderr
        assert "Nothing was changed" in refused.stderr
    extra = shutil.copytree(wheelhouse, tmp_path / "extra")
    (extra / "wheels" / "evil-1.0-py3-none-any.whl").write_bytes(b"unlisted")
    refused = install("--prefix", str(root), "--wheelhouse", str(extra), check=False)
    assert "not listed: wheels/evil-1.0-py3-none-any.whl" in refused.stderr

    # The old version still answers, with its settings and units, and was not restarted.
    assert os.readlink(venv) == running
    assert releases(root) == [running]
    assert installed_version(venv) == version != "9.9.9"
    subprocess.run([str(venv / "bin/campus-edge"), "--help"], check=True, capture_output=True,
                   timeout=60)  # fmt: skip
    assert (data / "settings.toml").read_text() == settings
    assert (root / "etc/systemd/system/campus-edge.service").read_text() == units
    # Only the missing Debian packages would have been installed (they harm nothing running).
    added = (root / "install.log").read_text().removeprefix(log).splitlines()
    assert all(line.startswith("apt-get install") for line in added), added


def test_one_installer_runs_at_a_time(tmp_path: Path) -> None:
    root = tmp_path / "root"
    lock = root / "run/lock/campus-edge-install.lock"
    lock.parent.mkdir(parents=True)
    with lock.open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # another install.sh, mid-way
        refused = install("--prefix", str(root), check=False)
    assert refused.returncode == 2
    assert "another install.sh is running" in refused.stderr
    assert not (root / "opt").exists()  # it built nothing


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--role", "central"], "--role is kiosk or hub"),
        (["--upstream", "https://hub"], "--upstream needs --device-token"),
        (["--frobnicate"], "unknown option --frobnicate"),
        (["--wheelhouse", "/nonexistent"], "/nonexistent is not a wheelhouse"),
        (["--station", "K1$(touch /tmp/pwned)"], "is not a station id"),
        (["--station", "K#1"], "is not a station id"),
        (["--kiosk-user", "Gate User"], "is not a user name"),
        (["--reader", 'K1=nfc:usb"'], "holds a quote"),
    ],
)
def test_the_installer_refuses_what_it_cannot_do(tmp_path: Path, args: list, says: str) -> None:
    refused = install("--prefix", str(tmp_path / "root"), *args, check=False)
    assert refused.returncode == 2
    assert says in refused.stderr
