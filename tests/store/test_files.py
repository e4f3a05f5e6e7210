"""Files appear whole or not at all, and a key made at once by two processes is one key."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.files import read_or_create, write_atomic
from edge.school import auth


def test_a_write_leaves_the_old_file_or_the_new_one_and_no_part(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    write_atomic(target, b"old")
    write_atomic(target, b"new", mode=0o600)
    assert target.read_bytes() == b"new"
    assert os.stat(target).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.csv"]


def test_a_key_cut_off_while_being_made_is_not_taken_for_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cut_off(_: int) -> str:
        raise KeyboardInterrupt("the power goes while the key is being made")

    monkeypatch.setattr(auth.secrets, "token_hex", cut_off)
    with pytest.raises(KeyboardInterrupt):
        auth.load_secret(tmp_path)
    assert not (tmp_path / "secret.key").exists()  # no empty key left to sign with
    monkeypatch.undo()
    secret = auth.load_secret(tmp_path)  # the next start makes a whole one
    assert len(secret) == 32
    assert auth.load_secret(tmp_path) == secret
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]


def test_two_processes_making_a_key_at_once_share_one(tmp_path: Path) -> None:
    # The service and a CLI command started together on a new kiosk both make the key.
    script = (
        "import sys, time; from pathlib import Path; from edge.school import auth\n"
        "folder = Path(sys.argv[1])\n"
        "while not (folder / 'go').exists(): time.sleep(0.001)\n"
        "print(auth.load_secret(folder / 'data').hex())\n"
    )
    made = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path)],  # noqa: S603
                             stdout=subprocess.PIPE, text=True) for _ in range(8)]  # fmt: skip
    time.sleep(1.5)  # all have imported and wait
    (tmp_path / "go").touch()
    keys = {p.communicate(timeout=60)[0].strip() for p in made}
    assert keys == {(tmp_path / "data" / "secret.key").read_text().strip()}


def test_read_or_create_makes_the_file_once(tmp_path: Path) -> None:
    calls: list[int] = []

    def make() -> bytes:
        calls.append(1)
        return b"first"

    assert read_or_create(tmp_path / "k", make) == b"first"
    assert read_or_create(tmp_path / "k", lambda: b"second") == b"first"
    assert calls == [1]
    assert os.stat(tmp_path / "k").st_mode & 0o777 == 0o600
