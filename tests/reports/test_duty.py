"""The duty log (值班日志) through a real `campus-edge serve` process, the CLI and the central.

An afternoon of tests.roster_files' campus on TODAY: handovers, a barred adult refused,
a release corrected, a late pickup, two children never recorded as gone; the duty
leader's notes; the sign-off with card (the code the kiosk shows) and PIN; a note after
it; the next day's open items; the log as files through the CLI, and at the central.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import openpyxl
import pytest

from tests import roster_files
from tests.roster_files import CARD, TODAY
from tests.servers import local
from tests.services import Service, cli, replay_clock

PIN = "2468"
TOMORROW = TODAY + dt.timedelta(days=1)


def set_pin(data_dir: Path, staff: str, env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "edge", "pin", "--staff", staff],
        env={**os.environ, "CAMPUS_EDGE_DATA_DIR": str(data_dir), **env},
        input=f"{PIN}\n{PIN}\n", capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip


@pytest.fixture(scope="module")
def campus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    root = tmp_path_factory.mktemp("duty")
    bundle = roster_files.write(root / "roster")
    morning = replay_clock("08:00")
    cli(root / "data", "roster", "import", str(bundle), env=morning)
    set_pin(root / "data", "L1", morning)
    set_pin(root / "data", "T1", morning)
    service = Service(root / "data", env=replay_clock("19:30"))
    service.start()
    yield service
    service.stop()


def tap(service: Service, station: str, card: str, hhmm: str | None = None) -> dict:
    body = {"station": station, "uid": card}
    if hhmm:
        body["at"] = local(hhmm).isoformat()
    answer = httpx.post(f"{service.url}/api/v1/sim/taps", json=body, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def bearer(service: Service, staff: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {service.token(staff)}"}


def card_code(service: Service, station: str, card: str) -> str:
    """Tap a staff card at a station and return the sign-in code its screen shows."""
    found: list[str] = []
    seen: list[str] = []
    ready = threading.Event()

    def listen() -> None:
        url = f"{service.url}/api/v1/stations/{station}/stream"
        try:
            with httpx.stream("GET", url, timeout=10) as stream:
                for line in stream.iter_lines():
                    ready.set()
                    seen.append(line)
                    if line.startswith("data:") and "signin_code" in line:
                        found.append(json.loads(line[5:])["signin_code"])
                        return
        except httpx.HTTPError:
            return  # the assertion below says what the screen showed

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert ready.wait(10)
    tap(service, station, card)
    thread.join(10)
    assert found, f"the station's screen showed no sign-in code: {seen}"
    return found[0]


@pytest.fixture(scope="module")
def afternoon(campus: Service) -> Service:
    for sid, at in (("S1", "15:30"), ("S2", "15:31"), ("S3", "15:32")):
        tap(campus, "K1", CARD[sid], at)
    tap(campus, "K1", CARD["T1"], "15:40")  # T1 takes G1: head count 3
    tap(campus, "K2", CARD["S5"], "15:41")
    tap(campus, "K2", CARD["T2"], "15:42")
    tap(campus, "K1", CARD["L1"], "16:30")  # the duty leader takes G1 over ...
    tap(campus, "K1", CARD["T1"], "16:35")  # ... and hands it back
    tap(campus, "P1", CARD["GU"], "16:50")  # the guard on duty at the gate
    tap(campus, "P1", CARD["P3"], "17:00")  # 赵先生 may not collect 小明 (allowed = 0)
    refused = tap(campus, "P1", CARD["S1"], "17:00:05")
    assert refused["outcome"] == "denied"
    tap(campus, "P1", CARD["P2"], "17:05")
    wrong = tap(campus, "P1", CARD["S2"], "17:05:05")
    assert wrong["outcome"] == "accepted"
    fixed = httpx.post(
        f"{campus.url}/api/v1/events/{wrong['event_id']}/correct",
        headers=bearer(campus, "T1"),
        json={"reason": "刷错了学生的卡"},
        timeout=10,
    )
    assert fixed.status_code == 200, fixed.text
    tap(campus, "P1", CARD["P2"], "17:10")
    assert tap(campus, "P1", CARD["S2"], "17:10:05")["outcome"] == "accepted"
    tap(campus, "P1", CARD["P1"], "18:20")  # 王妈妈, twenty minutes after the service end
    assert tap(campus, "P1", CARD["S1"], "18:20:05")["outcome"] == "accepted"
    return campus  # 小刚 (S3) and 小强 (S5) are never recorded as gone


def note(service: Service, text: str, staff: str = "L1", **extra: str) -> httpx.Response:
    return httpx.post(f"{service.url}/api/v1/duty/notes", headers=bearer(service, staff),
                      json={"text": text, **extra}, timeout=10)  # fmt: skip


def log_of(service: Service, day: dt.date = TODAY, staff: str = "L1") -> dict:
    answer = httpx.get(f"{service.url}/api/v1/duty", params={"date": day.isoformat()},
                       headers=bearer(service, staff), timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


def table(log: dict, name: str) -> list[dict]:
    return next(t for t in log["log"]["tables"] if t["name"] == name)["rows"]


def test_the_log_lists_the_afternoon_and_the_signed_part_stays_as_signed(afternoon) -> None:
    first = note(afternoon, "17:20 巡查各班组，秩序正常")
    assert first.status_code == 201, first.text
    assert first.json()["after_sign_off"] is False
    log = log_of(afternoon)
    on_duty = {r["staff_id"]: r for r in table(log, "on_duty")}
    assert {"T1", "T2", "L1", "GU"} <= on_duty.keys()
    assert "接送点值守" in on_duty["GU"]["did"]
    assert on_duty["L1"]["role"] == "值班领导"
    handovers = table(log, "handovers")
    assert [(h["at"], h["from"], h["to"]) for h in handovers if h["group"] == "一年级看护组"] == [
        ("15:40", "", "陈老师"),
        ("16:30", "陈老师", "刘校长"),
        ("16:35", "刘校长", "陈老师"),
    ]
    assert handovers[0]["head_count"] == 3
    late = {r["student_id"]: r for r in table(log, "late")}
    assert late["S1"]["left"] == "18:20"
    assert late["S1"]["minutes"] == 20
    assert "王妈妈" in late["S1"]["with"]
    assert late["S1"]["stage"] == "已电话联系家长阶段"
    assert late["S3"]["how"] == "未记录离校"
    assert late["S5"]["how"] == "未记录离校"
    assert "S2" not in late  # collected at 17:10
    alerts = table(log, "alerts")
    assert [(a["at"], a["student"], a["adult"], a["kind"]) for a in alerts] == [
        ("17:00", "小明", "赵先生", "监护限制警报（禁止接走）")
    ]
    corrections = table(log, "corrections")
    assert [(c["student"], c["by"], c["reason"]) for c in corrections] == [
        ("小红", "陈老师", "刷错了学生的卡")
    ]
    assert [n["text"] for n in log["notes"]] == ["17:20 巡查各班组，秩序正常"]
    assert log["signed_off"] is None
    assert table(log, "patrol") == []
    assert "未启用" in next(t for t in log["log"]["tables"] if t["name"] == "patrol")["empty"]

    # The sign-off (交班): the duty leader's card, tapped at the gate, and PIN.
    code = card_code(afternoon, "P1", CARD["L1"])
    signoff = httpx.post(f"{afternoon.url}/api/v1/duty/signoff", headers=bearer(afternoon, "L1"),
                         json={"code": code, "pin": PIN}, timeout=10)  # fmt: skip
    assert signoff.status_code == 201, signoff.text
    assert signoff.json()["staff_id"] == "L1"
    assert signoff.json()["notes"] == [first.json()["id"]]
    later = note(afternoon, "19:40 小刚家长来电，已自行接回，明早核实")
    assert later.status_code == 201
    assert later.json()["after_sign_off"] is True
    log = log_of(afternoon)
    assert log["signed_off"]["staff_id"] == "L1"
    assert log["signed_off"]["name"] == "刘校长"
    assert log["signed_off"]["notes"] == [first.json()["id"]]
    rows = [(n["text"], n["when"]) for n in log["notes"]]
    assert rows == [
        ("17:20 巡查各班组，秩序正常", "记录 note"),
        ("交班签字（刷卡并输入PIN）", "交班 signed off"),
        ("19:40 小刚家长来电，已自行接回，明早核实", "签字后补记 added after sign-off"),
    ]
    meta = {m["label"]: m["value"] for m in log["log"]["meta"]}
    assert meta["交班签字"].startswith("刘校长（L1）2026-11-23 ")

    # A second sign-off is refused; the log keeps the first.
    again = card_code(afternoon, "K2", CARD["L1"])  # P1 would ignore it for 10 s
    twice = httpx.post(f"{afternoon.url}/api/v1/duty/signoff", headers=bearer(afternoon, "L1"),
                       json={"code": again, "pin": PIN}, timeout=10)  # fmt: skip
    assert twice.status_code == 409
    assert "交班" in twice.json()["detail"]

    # The next day's duty leader sees what was left open.
    tomorrow = log_of(afternoon, TOMORROW)
    assert tomorrow["open_items_date"] == TODAY.isoformat()
    items = {(i["kind"], i["who"]) for i in tomorrow["open_items"]}
    assert items == {("未记录离校", "小刚"), ("未记录离校", "小强")}  # signed: not an open item
    assert log_of(afternoon, TOMORROW, staff="GU")["can_write"] is False
    # Two days on (nobody came on the day between), the open items are still that day's.
    later = log_of(afternoon, TODAY + dt.timedelta(days=2))
    assert later["open_items_date"] == TODAY.isoformat()
    assert {i["who"] for i in later["open_items"]} == {"小刚", "小强"}


def test_a_sign_off_needs_the_duty_leaders_card_pin_and_token(campus) -> None:
    url = f"{campus.url}/api/v1/duty/signoff"
    day = {"date": (TODAY - dt.timedelta(days=1)).isoformat()}  # not signed off
    code = card_code(campus, "P1", CARD["T1"])
    wrong = httpx.post(url, headers=bearer(campus, "L1"),
                       json={"code": code, "pin": "9999", **day}, timeout=10)  # fmt: skip
    assert wrong.status_code == 401, wrong.text
    assert "PIN" in wrong.json()["detail"]
    nobody = httpx.post(url, json={"code": "123456", "pin": PIN}, timeout=10)
    assert nobody.status_code == 401
    teacher = httpx.post(url, headers=bearer(campus, "T1"),
                         json={"code": "123456", "pin": PIN}, timeout=10)  # fmt: skip
    assert teacher.status_code == 403
    # A teacher's own card and PIN do not sign off, even under a duty leader's token.
    t1 = card_code(campus, "K1", CARD["T1"])
    other = httpx.post(url, headers=bearer(campus, "L1"),
                       json={"code": t1, "pin": PIN, **day}, timeout=10)  # fmt: skip
    assert other.status_code == 403, other.text
    assert "值班领导" in other.json()["detail"]


def test_notes_are_bounded_plain_text_by_duty_leaders_only(campus) -> None:
    assert note(campus, "a" * 501).status_code == 422
    assert note(campus, "第一行\n第二行").status_code == 422
    assert note(campus, "   ").status_code == 422
    assert note(campus, "教师不能写", staff="T1").status_code == 403
    assert note(campus, "门卫不能写", staff="GU").status_code == 403
    assert note(campus, "太早", date="2026-11-01").status_code == 422
    nobody = httpx.post(f"{campus.url}/api/v1/duty/notes", json={"text": "x"}, timeout=10)
    assert nobody.status_code == 401
    teacher = httpx.get(f"{campus.url}/api/v1/duty", headers=bearer(campus, "T1"), timeout=10)
    assert teacher.status_code == 403


def test_the_cli_writes_the_log_as_xlsx_csv_html_and_json(afternoon, tmp_path: Path) -> None:
    data = afternoon.data_dir
    for suffix in ("xlsx", "csv", "html", "json"):
        done = cli(data, "report", "duty", "--date", TODAY.isoformat(), "--out",
                   str(tmp_path / f"值班.{suffix}"), env=afternoon.env)  # fmt: skip
        assert "Wrote" in done.stdout
    page = (tmp_path / "值班.html").read_text(encoding="utf-8")
    assert "值班日志" in page
    assert "值班领导签字" in page
    assert "日期 Date" in page
    assert "赵先生" in page
    assert "刷错了学生的卡" in page
    assert "未启用 not enabled" in page
    book = openpyxl.load_workbook(tmp_path / "值班.xlsx")
    assert {"值班人员", "交接班", "延时接走", "拒绝放行与警报", "值班记录与交班"} <= set(
        book.sheetnames
    )
    late = (tmp_path / "值班.late.csv").read_text(encoding="utf-8-sig").splitlines()
    assert late[0].startswith("学号,学生")
    assert any(line.startswith("S1,小明") for line in late)
    whole = json.loads((tmp_path / "值班.json").read_text(encoding="utf-8"))
    assert whole["report"] == "duty"
    screen = cli(data, "report", "duty", "--date", TODAY.isoformat(), "--table", "alerts",
                 env=afternoon.env).stdout  # fmt: skip
    assert "赵先生" in screen
    api = httpx.get(f"{afternoon.url}/api/v1/reports/duty",
                    params={"date": TODAY.isoformat(), "format": "html"},
                    headers=bearer(afternoon, "GU"), timeout=10)  # fmt: skip
    assert api.status_code == 200
    assert "值班领导签字" in api.text


@pytest.fixture(scope="module")
def central_url() -> Iterator[str]:
    """A fresh database on the machine's PostgreSQL (as tests/sync/test_central does)."""
    import secrets

    import psycopg

    server = os.environ.get("CAMPUS_EDGE_TEST_POSTGRES", "postgresql://127.0.0.1:5432/test")
    name = f"campus_edge_{secrets.token_hex(4)}"
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as err:
        pytest.fail(f"PostgreSQL at {server} is needed for the central's duty log ({err})")
    admin.execute(f'CREATE DATABASE "{name}"')
    yield server.rsplit("/", 1)[0] + "/" + name
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


def test_the_central_makes_the_campus_log_from_postgres(
    afternoon: Service, central_url: str, tmp_path: Path
) -> None:
    from edge import reports
    from edge.store.access import Device
    from edge.store.ledger import Ledger
    from edge.sync.central import CentralStore

    ledger = Ledger(afternoon.data_dir / "campus-edge.db", "gate-1")
    events = ledger.events_after(0, 100_000)
    store = CentralStore(central_url)
    try:
        store.add_device("campus-east", "hub")
        store.save_roster("campus-east", ledger.load_roster(), "term")
        store.push(Device("campus-east", "hub", ""), events)
        now = local("21:00")
        own = reports.make("duty", reports.LedgerSource(ledger), now=now, date=TODAY)
        theirs = reports.make(
            "duty", reports.CentralSource(store, "campus-east"), now=now, date=TODAY
        )
        assert theirs.to_json() == own.to_json()
    finally:
        store.close()
    out = tmp_path / "east.html"
    cli(tmp_path, "report", "duty", "--date", TODAY.isoformat(), "--database", central_url,
        "--campus", "campus-east", "--out", str(out))  # fmt: skip
    page = out.read_text(encoding="utf-8")
    assert "刘校长（L1）" in page
    assert "签字后补记" in page
    assert "值班领导签字" in page
