"""The Pi's lock and its wheelhouse: everything a kiosk installs, on one USB stick.

    python tools/wheelhouse.py lock [--upgrade]        (make lock)
    python tools/wheelhouse.py build [--platform P]    (make wheelhouse [PLATFORM=x86_64])
    python tools/wheelhouse.py verify DIR              (installs DIR with no network)

`lock` compiles requirements/pi.in into requirements/pi.lock with uv (pinned versions, the
hash of every file of each pinned version, so one lock serves aarch64 and x86_64), and
checks that x86_64 resolves to the same pins.

`build` makes dist/campus-edge-wheelhouse-VERSION-PLATFORM/ and its .tar.gz (the layout
install.sh --wheelhouse reads, README "A USB stick for many Pis"):
  wheels/            the project's wheel and a wheel of every locked dependency for
                     CPython 3.11 on Linux PLATFORM (aarch64: Raspberry Pi OS 64-bit)
  requirements.lock  requirements/pi.lock, plus the hash of each wheel built here
  apt-packages.txt   the Debian packages install.sh needs, one a line
  debs/              (only with --debs) those packages' arm64 .deb files

`verify` installs a wheelhouse of this machine's platform into a fresh venv inside a
network namespace with no network (`unshare -n`) and runs `campus-edge --help` and an
import of the reader drivers: what a Pi with no network does.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK_IN = ROOT / "requirements" / "pi.in"
LOCK = ROOT / "requirements" / "pi.lock"
DIST = ROOT / "dist"
PYTHON_VERSION = "3.11"  # Raspberry Pi OS Bookworm's python3

# Locked packages that publish no wheel at all, only an sdist of pure Python: built here
# into a py3-none-any wheel, so no Pi ever needs a compiler. Add a package here only after
# reading its sdist: no C extension, no build step that depends on the machine.
# tests/ops/test_wheels.py fails for any other package without a wheel for the Pi.
PURE_PYTHON_SDISTS: dict[str, str] = {
    "pydes": "nfcpy's DES (pyDes.py, one pure-Python module)",
}

# What install.sh needs from Debian on a bare Raspberry Pi OS / Bookworm image: the
# one list, systemd/apt-packages.txt (why each is there is written in it); a wheelhouse
# carries it as apt-packages.txt.
APT_LIST = ROOT / "systemd" / "apt-packages.txt"
APT_PACKAGES = tuple(
    name
    for line in APT_LIST.read_text(encoding="utf-8").splitlines()
    if (name := line.split("#")[0].strip())
)

# Bookworm's glibc is 2.36: every manylinux tag up to it runs there.
GLIBC_MAX = 36
LOCK_LINE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
HASH = re.compile(r"--hash=sha256:([0-9a-f]{64})")


def say(message: str) -> None:
    """Print a progress line at once (make shows it while the step runs)."""
    print(f"wheelhouse: {message}", flush=True)


def fail(message: str) -> None:
    """Stop with a sentence an admin can act on."""
    print(f"wheelhouse: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def run(cmd: list[str], **kwargs: object) -> None:
    """Run a command, stopping with its name when it fails."""
    result = subprocess.run(cmd, check=False, **kwargs)  # type: ignore[call-overload]  # noqa: S603
    if result.returncode != 0:
        fail(f"`{' '.join(cmd[:4])} ...` failed (exit {result.returncode}); see its output above.")


def locked(lock: Path = LOCK) -> dict[str, tuple[str, list[str]]]:
    """Return the lock's pins: normalized name -> (version, sha256 hashes)."""
    pins: dict[str, tuple[str, list[str]]] = {}
    name = ""
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = LOCK_LINE.match(line)
        if match:
            name = normalize(match.group(1))
            pins[name] = (match.group(2), [])
        if name:
            pins[name][1].extend(HASH.findall(line))
    return pins


def normalize(name: str) -> str:
    """Normalize a distribution name the way the index does (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def platform_tags(platform: str) -> list[str]:
    """Return the manylinux tags a Bookworm machine of this architecture runs."""
    oldest = 17 if platform == "aarch64" else 5
    tags = [f"manylinux2014_{platform}"]
    if platform == "x86_64":
        tags += ["manylinux2010_x86_64", "manylinux1_x86_64"]
    return tags + [f"manylinux_2_{minor}_{platform}" for minor in range(GLIBC_MAX, oldest - 1, -1)]


def project_version() -> str:
    """Return the version in pyproject.toml."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])


def sha256(path: Path) -> str:
    """Return a file's sha256, as pip's --hash wants it."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def size_mb(path: Path) -> float:
    """Return a file's or folder's size in MB."""
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def uv() -> str:
    """Return the uv binary (the dev extra installs it beside this Python)."""
    found = shutil.which(
        "uv", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    )
    if not found:
        fail("uv is not installed: run `pip install -e '.[dev]'` (make does it) and retry.")
    return str(found)


def lock(upgrade: bool) -> None:
    """Compile requirements/pi.in into requirements/pi.lock and check x86_64 agrees."""
    compile_cmd = [uv(), "pip", "compile", "--quiet", "--generate-hashes"]
    compile_cmd += ["--python-version", PYTHON_VERSION, "--custom-compile-command", "make lock"]
    if upgrade:
        compile_cmd.append("--upgrade")
    say(f"resolving {LOCK_IN.relative_to(ROOT)} for CPython {PYTHON_VERSION} on Linux aarch64")
    run(
        [*compile_cmd, "--python-platform", "aarch64-unknown-linux-gnu", str(LOCK_IN)]
        + ["-o", str(LOCK)],
        cwd=ROOT,
    )
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "x86_64.lock"
        shutil.copy(LOCK, other)  # the same pins are preferred, as for any re-lock
        say("resolving again for Linux x86_64 (this machine, make pi-check)")
        run(
            [*compile_cmd, "--python-platform", "x86_64-unknown-linux-gnu", str(LOCK_IN)]
            + ["-o", str(other)],
            cwd=ROOT,
        )
        if locked(other) != locked(LOCK):
            fail(
                "aarch64 and x86_64 resolve requirements/pi.in to different versions; one lock"
                f" cannot serve both: compare {LOCK} with an x86_64 compile and pin the"
                " difference in requirements/pi.in."
            )
    say(f"{LOCK.relative_to(ROOT)}: {len(locked())} packages pinned, with hashes")


def write_requirements(path: Path, names: set[str], lock_text: str) -> None:
    """Write the entries of the lock for `names` (with their hashes) to `path`."""
    keep: list[str] = []
    current = ""
    for line in lock_text.splitlines():
        match = LOCK_LINE.match(line)
        if match:
            current = normalize(match.group(1))
        elif not line.startswith((" ", "\t")):
            current = ""
        if current in names and not line.lstrip().startswith("#"):
            keep.append(line)
    path.write_text("\n".join(keep) + "\n", encoding="utf-8")


def build(platform: str, debs: bool) -> Path:
    """Build dist/campus-edge-wheelhouse-VERSION-PLATFORM/ and its .tar.gz."""
    started = time.monotonic()
    version = project_version()
    house = DIST / f"campus-edge-wheelhouse-{version}-{platform}"
    wheels = house / "wheels"
    if house.exists():
        shutil.rmtree(house)
    wheels.mkdir(parents=True)
    pins = locked()
    lock_text = LOCK.read_text(encoding="utf-8")
    pip = [sys.executable, "-m", "pip"]
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "binary.txt"
        write_requirements(binary, set(pins) - set(PURE_PYTHON_SDISTS), lock_text)
        n = len(set(pins) - set(PURE_PYTHON_SDISTS))
        say(f"1/4 downloading {n} wheels for CPython {PYTHON_VERSION} on Linux {platform}")
        cmd = [*pip, "download", "--no-deps", "--only-binary=:all:", "--require-hashes"]
        for tag in platform_tags(platform):
            cmd += ["--platform", tag]
        cmd += ["--python-version", PYTHON_VERSION, "--implementation", "cp"]
        cmd += ["--abi", f"cp{PYTHON_VERSION.replace('.', '')}", "--progress-bar", "off"]
        run([*cmd, "-r", str(binary), "-d", str(wheels)])

        sdists = sorted(set(pins) & set(PURE_PYTHON_SDISTS))
        built: dict[str, str] = {}
        if sdists:
            say(f"2/4 building pure-Python wheels from sdists: {', '.join(sdists)}")
            source = Path(tmp) / "sdists.txt"
            write_requirements(source, set(sdists), lock_text)
            out = Path(tmp) / "built"
            run(
                [*pip, "wheel", "--no-deps", "--require-hashes", "--no-binary=:all:"]
                + ["--progress-bar", "off", "-r", str(source), "-w", str(out)]
            )
            for wheel in sorted(out.glob("*.whl")):
                if not wheel.name.endswith("-none-any.whl"):
                    fail(
                        f"{wheel.name} built from an sdist is not pure Python (not"
                        " *-none-any): it would not run on the Pi; take it off"
                        " PURE_PYTHON_SDISTS in tools/wheelhouse.py."
                    )
                shutil.move(str(wheel), wheels / wheel.name)
                built[normalize(wheel.name.split("-")[0])] = sha256(wheels / wheel.name)

    say("3/4 building campus-edge's own wheel")
    run(
        [
            *pip,
            "wheel",
            "--no-deps",
            "--quiet",
            "--progress-bar",
            "off",
            str(ROOT),
            "-w",
            str(wheels),
        ]
    )
    if not list(wheels.glob("campus_edge-*.whl")):
        fail("pip wheel made no campus_edge-*.whl; see its output above.")

    say("4/4 writing requirements.lock and apt-packages.txt")
    (house / "requirements.lock").write_text(wheelhouse_lock(lock_text, built), encoding="utf-8")
    shutil.copyfile(APT_LIST, house / "apt-packages.txt")
    if debs:
        download_debs(house / "debs", platform)
    elif platform == "aarch64":
        say(
            "no debs/ (a Pi with apt access installs apt-packages.txt itself); for a Pi with"
            " no network at all, run `make wheelhouse DEBS=1` (README, A USB stick)."
        )

    fingerprint = write_sums(house)
    archive = DIST / f"{house.name}.tar.gz"
    say(f"packing {archive.relative_to(ROOT)}")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(house, arcname=house.name)
    count = len(list(wheels.glob("*.whl")))
    say(
        f"done in {time.monotonic() - started:.0f} s: {house.relative_to(ROOT)}/ holds {count}"
        f" wheels, {size_mb(house):.1f} MB; {archive.name} is {size_mb(archive):.1f} MB"
    )
    say(
        f"fingerprint {fingerprint} (the sha256 of its SHA256SUMS): install.sh prints it on"
        " every Pi; publish it beside the stick so each install can be compared"
    )
    return house


def write_sums(house: Path) -> str:
    """Write SHA256SUMS of every file in the wheelhouse; return the sha256 of that list.

    install.sh refuses a wheelhouse with a file that is not listed or does not match, and
    prints this fingerprint: a wheel swapped on a stick (the project's own, which no lock
    pins) is caught where the printed fingerprint differs from the one published here.
    """
    lines = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.relative_to(house)}"
        for path in sorted(house.rglob("*"))
        if path.is_file() and path.name != "SHA256SUMS"
    ]
    listing = ("\n".join(lines) + "\n").encode()
    (house / "SHA256SUMS").write_bytes(listing)
    return hashlib.sha256(listing).hexdigest()


def wheelhouse_lock(lock_text: str, built: dict[str, str]) -> str:
    """Return requirements/pi.lock with the hash of each wheel built here added.

    The repository's lock holds the hash of pydes' sdist (the index has no wheel of it);
    the wheel built here from that sdist has its own hash, which pip must find in the
    lock to install it offline with --require-hashes. Only those packages change.
    """
    out: list[str] = []
    for line in lock_text.splitlines():
        match = LOCK_LINE.match(line)
        name = normalize(match.group(1)) if match else ""
        if name in built:
            out.append(
                f"# {name}: built in this wheelhouse from the locked sdist; the first hash"
                " is the built wheel's"
            )
            out.append(line)
            out.append(f"    --hash=sha256:{built[name]} \\")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def download_debs(target: Path, platform: str) -> None:
    """Put the .debs a bare Bookworm with python3 lacks for APT_PACKAGES into `target`.

    Uses a private apt state (its own lists, cache and an empty dpkg status, with
    APT::Architecture=arm64), so this machine's dpkg architectures and package lists stay
    as they are: no `dpkg --add-architecture` is needed. The list is what apt would
    install for APT_PACKAGES on a system holding only python3 (the issue's bare image),
    less the Priority: required base every Debian has, plus python3.11's own packages at
    the same version (python3.11-venv asks for exactly its python3.11).
    """
    arch = {"aarch64": "arm64", "x86_64": "amd64"}[platform]
    say(f"downloading the {arch} .debs of {' '.join(APT_PACKAGES)} (private apt state)")
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        (state / "lists" / "partial").mkdir(parents=True)
        (state / "archives" / "partial").mkdir(parents=True)
        (state / "status").write_text("", encoding="utf-8")
        opts = [
            f"-oAPT::Architecture={arch}",
            f"-oAPT::Architectures={arch}",
            f"-oDir::State::Lists={state / 'lists'}",
            f"-oDir::State::status={state / 'status'}",
            f"-oDir::Cache={state}",
            "-oDebug::NoLocking=1",
            "-qq",
        ]
        run(["apt-get", *opts, "update"])

        def would_install(*packages: str) -> set[str]:
            got = subprocess.run(  # noqa: S603
                ["apt-get", *opts, "-s", "--no-install-recommends", "install", *packages],  # noqa: S607
                capture_output=True,
                text=True,
                check=False,
            )
            if got.returncode != 0:
                fail(f"apt-get cannot resolve {' '.join(packages)} for {arch}: {got.stderr}")
            return {line.split()[1] for line in got.stdout.splitlines() if line.startswith("Inst ")}

        base = would_install("python3")
        names = would_install(*APT_PACKAGES) - base
        names |= {n for n in base if re.match(r"^(lib)?python3\.11(-minimal|-stdlib)?$", n)}
        shown = subprocess.run(  # noqa: S603
            ["apt-cache", *opts, "show", "--no-all-versions", *sorted(names)],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        required = set(re.findall(r"^Package: (\S+)\n(?:.+\n)*?Priority: required", shown, re.M))
        names -= required
        run(["apt-get", *opts, f"-oDir::Cache::archives={target}", "download", *sorted(names)],
            cwd=target)  # fmt: skip
    debs = sorted(f.name.split("_")[0] for f in target.glob("*.deb"))
    say(f"debs/: {len(debs)} .deb files, {size_mb(target):.1f} MB: {' '.join(debs)}")


def verify(house: Path) -> None:
    """Install a wheelhouse into a fresh venv with no network and run the program."""
    python = shutil.which("python3", path="/usr/bin") or sys.executable
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env |= {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        venv = Path(tmp) / "venv"
        script = (
            "set -euo pipefail\n"
            f"{python} -m venv {venv}\n"
            f"{venv}/bin/pip install --quiet --no-index --find-links {house}/wheels"
            f" --require-hashes -r {house}/requirements.lock\n"
            f"{venv}/bin/pip install --quiet --no-index --no-deps"
            f" {house}/wheels/campus_edge-*.whl\n"
            f"{venv}/bin/campus-edge --help >/dev/null\n"
            f"{venv}/bin/python -c 'import nfc, serial; print(\"nfc\", nfc.__version__)'\n"
        )
        say(f"installing {house.name} into a fresh venv with no network ({python}, unshare -n)")
        started = time.monotonic()
        run(["unshare", "-n", "bash", "-c", script], env=env)
        say(f"installed offline and ran campus-edge --help in {time.monotonic() - started:.0f} s")


def main() -> None:
    """Parse the command line and run one command."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    lock_cmd = commands.add_parser("lock", help="compile requirements/pi.in into pi.lock")
    lock_cmd.add_argument("--upgrade", action="store_true", help="take the newest versions")
    build_cmd = commands.add_parser("build", help="build the wheelhouse folder and .tar.gz")
    build_cmd.add_argument("--platform", choices=["aarch64", "x86_64"], default="aarch64")
    build_cmd.add_argument("--debs", action="store_true", help="add the apt packages' .debs")
    verify_cmd = commands.add_parser("verify", help="install a wheelhouse with no network")
    verify_cmd.add_argument("house", type=Path)
    sums_cmd = commands.add_parser(
        "sums", help="list a wheelhouse's files again in SHA256SUMS (after adding debs/)"
    )
    sums_cmd.add_argument("house", type=Path)
    args = parser.parse_args()
    if args.command == "lock":
        lock(args.upgrade)
    elif args.command == "build":
        build(args.platform, args.debs)
    elif args.command == "sums":
        say(f"fingerprint {write_sums(args.house.resolve())} (the sha256 of its SHA256SUMS)")
    else:
        verify(args.house.resolve())


if __name__ == "__main__":
    main()
