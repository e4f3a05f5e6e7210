"""The Pi's lock (requirements/pi.lock): complete, and installable on a Pi without a compiler.

Every package pinned there must have a CPython 3.11 wheel for Linux aarch64 (Raspberry Pi
OS 64-bit) on the package index, or be pure Python: a py3-none-any wheel, or an sdist on
the explicit allow-list PURE_PYTHON_SDISTS (tools/wheelhouse.py builds those into wheels).
So a new dependency that would need gcc on every kiosk fails here the day it is added.
The lock must also hold the hash of that aarch64 wheel (else pip refuses it on the Pi).
The test reads the index's file lists (the simple API of the index pip is configured
with); it downloads no wheel.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import ssl
import subprocess
import sys
import tomllib
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "pi.lock"
LOCK_IN = ROOT / "requirements" / "pi.in"
# Taken from Debian on every Pi (python3-evdev), never from the lock: it has no wheel.
FROM_DEBIAN = {"evdev"}


def wheelhouse() -> ModuleType:
    """Import tools/wheelhouse.py (the lock's reader, the tags, the allow-list)."""
    spec = importlib.util.spec_from_file_location("wheelhouse", ROOT / "tools" / "wheelhouse.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


WH = wheelhouse()
PI_TAGS = set(cpython_tags((3, 11), ["cp311"], WH.platform_tags("aarch64"))) | set(
    compatible_tags((3, 11), "cp311", WH.platform_tags("aarch64"))
)


def index_url() -> str:
    """Return the index pip is configured with (PIP_INDEX_URL, pip.conf, or pip's default)."""
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"].split()[0]
    got = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                         capture_output=True, text=True, check=False)  # fmt: skip
    if got.returncode == 0 and got.stdout.strip():
        return got.stdout.strip()
    from pip._internal.models.index import PyPI  # pip's own default index

    return str(PyPI.simple_url)


INDEX = index_url().rstrip("/")
TLS = ssl.create_default_context(cafile=os.environ.get("PIP_CERT") or None)


@functools.cache
def files_on_index(name: str) -> dict[str, str]:
    """Return the files the index lists for a project and their sha256 ("" if not given)."""
    request = urllib.request.Request(  # noqa: S310 (the index pip uses: http(s) only)
        f"{INDEX}/{name}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json, text/html;q=0.1"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60, context=TLS) as response:  # noqa: S310
            body = response.read().decode()
            kind = response.headers.get("Content-Type", "")
    except OSError as error:
        raise AssertionError(
            f"cannot read {name}'s files from the package index {INDEX} ({error}): this test"
            " needs the index pip installs from"
        ) from error
    if "json" in kind:
        files = json.loads(body)["files"]
        return {file["filename"]: file.get("hashes", {}).get("sha256", "") for file in files}
    links = re.findall(r'href="[^"#]*?([^/"#]+)(?:#sha256=([0-9a-f]{64}))?"', body)
    return dict(links)


def pi_problem(name: str, version: str, hashes: list[str]) -> str | None:
    """Return why a pinned package cannot be installed on the Pi without a compiler, or None."""
    files = files_on_index(name)
    wheels = {f: wheel for f in files if f.endswith(".whl") and (wheel := wheel_tags(f))}
    for_pi = [files[f] for f, (v, tags) in wheels.items() if v == version and tags & PI_TAGS]
    if for_pi and any(digest in hashes or not digest for digest in for_pi):
        return None
    if for_pi:
        return (
            f"requirements/pi.lock has none of the hashes of {name}=={version}'s wheels for the"
            " Pi (aarch64), so pip would refuse them there: run `make lock`"
        )
    versions = {sdist_version(f) for f in files if not f.endswith(".whl")}
    versions |= {wheel_version for wheel_version, _ in wheels.values()}
    if name in WH.PURE_PYTHON_SDISTS and version in versions:
        return None
    if version not in versions:
        return f"{name}=={version} is pinned in requirements/pi.lock but not on the index {INDEX}"
    return (
        f"{name} has no wheel for the Pi (aarch64): it would need a compiler on every kiosk"
        f" ({name}=={version}: no cp311 manylinux aarch64 or pure-Python wheel). Choose"
        " another package or version, or, if its sdist is pure Python, add it to"
        " PURE_PYTHON_SDISTS in tools/wheelhouse.py."
    )


def wheel_tags(filename: str) -> tuple[str, frozenset[Tag]] | None:
    """Return a wheel's version and tags, or None for a name no installer reads."""
    try:
        _, version, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:  # a few very old uploads (e.g. "py36+")
        return None
    return str(version), tags


def sdist_version(filename: str) -> str:
    """Return the version in an sdist's file name (name-1.2.3.tar.gz)."""
    stem = re.sub(r"\.(tar\.gz|tar\.bz2|zip)$", "", filename)
    return stem.rsplit("-", 1)[-1]


def pi_problems(lock: Path) -> list[str]:
    """Check every package pinned in `lock` against the index, a few at a time."""
    pins = WH.locked(lock)
    with ThreadPoolExecutor(max_workers=8) as pool:
        found = pool.map(lambda item: pi_problem(item[0], *item[1]), sorted(pins.items()))
    return [problem for problem in found if problem]


def declared() -> list[Requirement]:
    """Return what pyproject.toml asks for on a kiosk: core and readers, less Debian's."""
    with (ROOT / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for r in project["optional-dependencies"]["readers"]]
    return [r for r in wanted if WH.normalize(r.name) not in FROM_DEBIAN]


def test_every_locked_package_installs_on_the_pi_without_a_compiler() -> None:
    problems = pi_problems(LOCK)
    assert not problems, "\n".join(problems)


def test_a_locked_package_that_needs_a_compiler_is_named(tmp_path: Path) -> None:
    # evdev ships only C sources: exactly what the check is there to catch.
    lock = tmp_path / "pi.lock"
    lock.write_text(LOCK.read_text() + "evdev==1.9.2 \\\n    --hash=sha256:" + "0" * 64 + "\n")
    problems = pi_problems(lock)
    assert len(problems) == 1, problems
    assert problems[0].startswith(
        "evdev has no wheel for the Pi (aarch64): it would need a compiler on every kiosk"
    )


def test_the_lock_holds_every_dependency_pyproject_declares() -> None:
    pins = WH.locked(LOCK)
    listed = {WH.normalize(Requirement(line).name) for line in lock_in_lines()}
    problems = []
    for requirement in declared():
        name = WH.normalize(requirement.name)
        if name not in listed:
            problems.append(f"pyproject.toml asks for {requirement} but requirements/pi.in does"
                            " not: add it there, then run `make lock`")  # fmt: skip
        elif name not in pins or not requirement.specifier.contains(pins[name][0], True):
            pinned = f"pins {name}=={pins[name][0]}" if name in pins else f"lacks {name}"
            problems.append(f"pyproject.toml asks for {requirement} but requirements/pi.lock"
                            f" {pinned}: run `make lock`")  # fmt: skip
        elif not pins[name][1]:
            problems.append(f"requirements/pi.lock has no hash for {name}: run `make lock`")
    for name in sorted(FROM_DEBIAN & set(pins)):
        problems.append(
            f"requirements/pi.lock pins {name}, which every Pi takes from Debian (no wheel):"
            " take it out of requirements/pi.in and run `make lock`"
        )
    assert not problems, "\n".join(problems)


def test_the_lock_has_uvicorns_fast_parts_for_linux() -> None:
    # uvicorn[standard] on Linux: the event loop, HTTP parser, reloader and websockets
    # the service runs with; missing, uvicorn falls back to slower pure-Python parts.
    pins = WH.locked(LOCK)
    missing = {"uvloop", "httptools", "watchfiles", "websockets"} - set(pins)
    assert not missing, f"requirements/pi.lock lacks {sorted(missing)}: run `make lock`"


def lock_in_lines() -> list[str]:
    """Return the requirement lines of requirements/pi.in."""
    lines = [line.split("#")[0].strip() for line in LOCK_IN.read_text().splitlines()]
    return [line for line in lines if line]
