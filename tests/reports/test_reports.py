"""Reports over a generated term with known answers, checked cell by cell.

The term (tests/term.py) is tapped through a real node once per module; every answer
below is worked out from the term's plan, not from the report code.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openpyxl import load_workbook

from edge import reports
from edge.errors import ReportError
from edge.node import Node
from edge.reports import files as report_files
from edge.school import auth
from edge.school import roster as roster_mod
from tests import term as t
from tests.servers import LiveServer

NOW = dt.datetime(2026, 11, 23, 20, 0, tzinfo=t.TZ)
ZH = {"complete": "完整", "incomplete": "不完整", "late": "迟到", "absent": "缺勤"}
UNITS = {"complete": 1.0, "incomplete": 0.5, "late": -1.0, "absent": 0.0}


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[t.Term, Node]]:
    plan, node = t.played_node(tmp_path_factory.mktemp("term"))
    assert isinstance(node, Node)
    yield plan, node
    node.stop()


def make(node: Node, name: str, **asked: object) -> reports.Report:
    return reports.make(name, reports.LedgerSource(node.ledger), now=NOW, **asked)  # type: ignore[arg-type]


def test_term_attendance_per_student_matches_the_plan(played: tuple[t.Term, Node]) -> None:
    plan, node = played
    report = make(node, "attendance", term=t.TERM_NAME)
    answers = plan.attendance(t.TERM_START, t.TERM_END)
    rows = report.table("students").rows
    assert [r[0] for r in rows] == t.STUDENTS
    for row in rows:
        sid = row[0]
        enrolled, attended, leave, absent, extra = answers[sid]
        grade = 1 if sid in t.STUDENTS[:10] else 2 if sid in t.STUDENTS[10:17] else 3
        expected = [sid, t.student_name(sid), grade, f"{grade}年级1班", enrolled, attended,
                    leave, absent, round(attended / enrolled, 4), extra]  # fmt: skip
        assert row == expected, sid
    # The special days, by name: each is a cell a school would be asked about.
    by_id = {r["student_id"]: r for r in report.table("students").records()}
    assert by_id["S19"]["extra"] == 1  # came on a Tuesday, not enrolled then
    assert by_id["S05"]["absent"] >= 1  # the day the card was lost
    school_days = [d for d, _ in t.school_days()]
    assert dt.date(2026, 9, 27) in school_days
    assert dt.date(2026, 10, 1) not in school_days
    assert dict((m[0], m[2]) for m in report.meta)["服务日数"] == len(school_days)
    assert by_id["S01"]["enrolled"] == len(school_days)  # every school day, make-up days too


def test_term_attendance_per_group_matches_the_plan(played: tuple[t.Term, Node]) -> None:
    plan, node = played
    report = make(node, "attendance", term=t.TERM_NAME)
    for row in report.table("groups").records():
        gid = row["group_id"]
        name, kind, owner, *_rest, members, weekdays = t.GROUPS[gid]
        counts = {"attended": 0, "on_leave": 0, "absent": 0}
        days = set()
        for day in plan.days:
            for sid in members:
                if gid in t.groups_of(sid, day.weekday):
                    days.add(day.day)
                    counts[day.children[sid].status] += 1
        total = sum(counts.values())
        assert row == {
            "group_id": gid, "name": name, "kind": reports.KIND_ZH[kind],
            "staff": t.STAFF[owner][0], "students": len(members), "service_days": len(days),
            "student_days": total, "attended": counts["attended"],
            "on_leave": counts["on_leave"], "absent": counts["absent"],
            "rate": round(counts["attended"] / total, 4),
        }, gid  # fmt: skip


def test_a_month_counts_its_own_days_and_not_the_future(played: tuple[t.Term, Node]) -> None:
    plan, node = played
    october = make(node, "attendance", month="2026-10")
    answers = plan.attendance(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    for row in october.table("students").rows:
        assert tuple(row[4:8]) + (row[9],) == answers[row[0]], row[0]
    # Asked in the middle of September, only the days up to then count.
    mid = dt.date(2026, 9, 14)
    evening = dt.datetime(2026, 9, 14, 18, 0, tzinfo=t.TZ)  # the service has just ended
    early = reports.make("attendance", reports.LedgerSource(node.ledger), now=evening,
                         month="2026-09")  # fmt: skip
    answers = plan.attendance(dt.date(2026, 9, 1), mid)
    for row in early.table("students").rows:
        assert tuple(row[4:8]) + (row[9],) == answers[row[0]], row[0]
    assert dict((m[0], m[2]) for m in early.meta)["统计截至"] == "2026-09-14"


def test_workload_sessions_and_units_match_the_plan(played: tuple[t.Term, Node]) -> None:
    plan, node = played
    report = make(node, "workload", term=t.TERM_NAME)
    answers = plan.sessions(t.TERM_START, t.TERM_END)
    rows = report.table("sessions").records()
    found = {(r["date"], r["staff_id"], r["group_id"]): r for r in rows}
    assert set(found) == set(answers)
    for key, status in answers.items():
        row = found[key]
        lunch = key[2] == "G4"
        units = UNITS[status] * (0.5 if lunch and status in ("complete", "incomplete") else 1)
        assert (row["status"], row["units"], row["lunch"]) == (
            ZH[status], units, "是" if lunch else "否",
        ), key  # fmt: skip
        owner = t.GROUPS[key[2]][2]
        day = plan.by_day[dt.date.fromisoformat(key[0])]
        first = next(c for c in day.custody if c.group == key[2])
        duty = "本组" if key[1] == owner else "代班" if first.staff == key[1] else "接班"
        assert row["duty"] == duty, key
        assert row["start"] == t.GROUPS[key[2]][3]
    # The named days.
    assert found[(t.T1_LATE.isoformat(), "T1", "G1")]["status"] == "迟到"
    assert found[(t.T1_LATE.isoformat(), "T1", "G1")]["custody_at"] == "16:00"
    assert found[(t.T2_ABSENT.isoformat(), "T2", "G2")]["units"] == 0.0
    assert found[(t.T2_ABSENT.isoformat(), "SUB", "G2")]["duty"] == "代班"
    assert found[(t.NOT_RELEASED.isoformat(), "T2", "G2")]["status"] == "不完整"
    fridays = [d for d in plan.days if d.weekday == 5]
    assert all(found[(d.day.isoformat(), "L1", "G1")]["duty"] == "接班" for d in fridays)
    # Totals per staff member are the sums of their sessions.
    for total in report.table("staff").records():
        mine = [s for k, s in answers.items() if k[1] == total["staff_id"]]
        assert total["sessions"] == len(mine)
        for status in ("complete", "incomplete", "late", "absent"):
            assert total[status] == mine.count(status), (total["staff_id"], status)
        units = sum(r["units"] for r in rows if r["staff_id"] == total["staff_id"])
        assert total["units"] == round(units, 2)


def test_the_schools_own_unit_weights_are_used(played: tuple[t.Term, Node]) -> None:
    plan, node = played
    roster = node.ledger.load_roster()
    stricter = roster_mod.build(
        roster.tables, roster.school_toml + "[workload]\nlate = -2\nlunch = 0.6\n", 99
    )
    report = reports.make(
        "workload", reports.LedgerSource(node.ledger, stricter), now=NOW, month="2026-09"
    )
    found = {
        (r["date"], r["staff_id"], r["group_id"]): r for r in report.table("sessions").records()
    }
    assert found[(t.T1_LATE.isoformat(), "T1", "G1")]["units"] == -2.0
    lunch = [r for r in found.values() if r["group_id"] == "G4" and r["status"] == "完整"]
    assert lunch
    assert all(r["units"] == 0.6 for r in lunch)
    with pytest.raises(roster_mod.RosterError, match=r"\[workload\] 'bonus' is not one of"):
        roster_mod.build(roster.tables, roster.school_toml + "[workload]\nbonus = 2\n", 99)


def test_supervision_record_of_the_reentry_day(played: tuple[t.Term, Node]) -> None:
    plan, node = played
    day = plan.by_day[t.REENTRY]
    report = make(node, "supervision", date=t.REENTRY, group="G1")
    expected_rows = []
    for sid in t.GROUPS["G1"][5]:
        child = day.children[sid]
        status = {"attended": "出勤", "on_leave": "请假", "absent": "缺勤"}[child.status]
        first = next((at for at, g in child.sign_ins if g == "G1"), None)
        last = child.releases[-1] if child.releases else None
        how = with_ = where = ""
        if last is not None:
            how = "家长接走" if last[1] else "自行离校"
            with_ = f"{t.guardian_name(sid)}（母亲）" if last[1] else ""
            where = "校门接送点"
        expected_rows.append([sid, t.student_name(sid), "1年级1班", status, t.hm(first),
                              t.hm(last[0] if last else None), how, with_, where,
                              day.leave.get(sid, "")])  # fmt: skip
    assert report.table("students").rows == expected_rows
    (custody,) = [c for c in day.custody if c.group == "G1"]
    came_before = [s for s, c in day.children.items()
                   if any(g == "G1" and at < custody.at for at, g in c.sign_ins)]  # fmt: skip
    missing = [s for s in t.GROUPS["G1"][5]
               if s not in came_before and day.children[s].status != "on_leave"]  # fmt: skip

    def fate(sid: str) -> str:
        signs = day.children[sid].sign_ins
        if signs:
            return f"{t.student_name(sid)} {t.hm(signs[0][0])} 签到一年级看护组"
        return f"{t.student_name(sid)} 全天未到"

    assert report.table("custody").rows == [
        [t.hm(custody.at), "T1", "陈老师", "", len(came_before), 10,
         "、".join(t.student_name(s) for s in missing), "；".join(fate(s) for s in missing)]
    ]  # fmt: skip
    incidents = report.table("incidents").rows
    came_back = f"{t.student_name('S02')}，已重新签到一年级看护组（注意：今天已离校）"
    assert ["16:50", t.student_name("S02"), "离校后返回", came_back] in incidents
    late = [[t.hm(c.releases[-1][0]), t.student_name(s), "超时离校", "服务结束（18:00）后离校"]
            for s, c in day.children.items()
            if s in t.GROUPS["G1"][5] and c.releases and c.releases[-1][0].hour >= 18]  # fmt: skip
    assert [i for i in incidents if i[2] == "超时离校"] == late


def test_supervision_names_the_lost_card_and_the_child_never_collected(
    played: tuple[t.Term, Node],
) -> None:
    plan, node = played
    lost = make(node, "supervision", date=t.LOST, group="G1")
    assert lost.table("students").records()[4]["status"] == "缺勤"  # S05, no card that day
    after = make(node, "supervision", date=t.LOST + dt.timedelta(days=1), group="G1")
    assert after.table("incidents").rows[0] == ["15:31", "", "未登记的卡",
                                                f"卡号 {t.card('S05', 1)}"]  # fmt: skip
    assert after.table("students").records()[4]["status"] == "出勤"  # the new card works
    stuck = make(node, "supervision", date=t.NOT_RELEASED, group="G2")
    row = next(r for r in stuck.table("students").records() if r["student_id"] == "S12")
    assert (row["status"], row["how"], row["left"]) == ("出勤", "未记录离校", "")
    assert ["", t.student_name("S12"), "未记录离校", "当天没有接走或离校记录"] in stuck.table(
        "incidents"
    ).rows
    with pytest.raises(ReportError, match="group 'G9' is not in the roster"):
        make(node, "supervision", date=t.LOST, group="G9")


def test_a_childs_day_shows_every_tap_and_the_chain_of_custody(
    played: tuple[t.Term, Node],
) -> None:
    plan, node = played
    report = make(node, "timeline", date=t.REENTRY, student="S02")
    child = plan.by_day[t.REENTRY].children["S02"]
    taps = report.table("taps").records()
    assert [(r["event"], r["outcome"]) for r in taps] == [
        ("签到", "通过"), ("家长刷卡", "通过"), ("接走", "通过"), ("签到", "通过"),
        ("家长刷卡", "通过"), ("接走", "通过"),
    ]  # fmt: skip
    assert taps[3]["why"] == "reentry"
    assert "注意：今天已离校" in taps[3]["message"]
    assert taps[1]["card_holder"] == f"{t.guardian_name('S02')}（家长）"
    chain = report.table("custody").rows
    sign_in = child.sign_ins[0][0].strftime("%H:%M:%S")
    guardian = f"{t.guardian_name('S02')}（母亲）"
    assert chain == [
        [sign_in, "16:40:05", "一年级看护组", "陈老师", "签到"],
        ["16:40:05", "16:50:05", "已离校（校门接送点）", guardian, "家长接走"],
        ["16:50:05", "17:20:05", "一年级看护组", "陈老师", "离校后重新签到"],
        ["17:20:05", "", "已离校（校门接送点）", guardian, "家长接走"],
    ]
    # A child still signed in at night: the chain ends open, saying so.
    stuck = make(node, "timeline", date=t.NOT_RELEASED, student="S12").table("custody").rows
    assert stuck[-1][1] == "（无离校记录）"
    # A custody change while the child is there is a link of the chain.
    day = plan.by_day[t.T1_LATE]
    early = [
        s
        for s, c in day.children.items()
        if s in t.GROUPS["G1"][5] and c.sign_ins and c.sign_ins[0][0] < day.custody[0].at
    ]
    chain = make(node, "timeline", date=t.T1_LATE, student=early[0]).table("custody").rows
    assert chain[0][3] == "（尚无教师接管）"
    assert chain[1][0] == chain[0][1]  # no gap between two links
    assert chain[1][2:4] == ["一年级看护组", "陈老师"]
    assert chain[1][4].startswith("教师接管，清点")


def test_the_parents_summary_has_no_family_data(played: tuple[t.Term, Node]) -> None:
    plan, node = played
    report = make(node, "parents", month="2026-09")
    september = [d for d in plan.days if d.day.month == 9]
    for row in report.table("groups").records():
        gid = next(g for g, v in t.GROUPS.items() if v[0] == row["group"])
        members = t.GROUPS[gid][5]
        attended = days = total = 0
        for day in september:
            here = [s for s in members if gid in t.groups_of(s, day.weekday)]
            if here:
                days += 1
                total += len(here)
                attended += sum(day.children[s].status == "attended" for s in here)
        on_time = sum(
            1 for day in september
            if any(c.group == gid for c in day.custody)
            and plan.sessions(day.day, day.day)[(day.day.isoformat(),
                next(c for c in day.custody if c.group == gid).staff, gid)] != "late"
        )  # fmt: skip
        assert (row["service_days"], row["daily_average"], row["rate"], row["on_time"]) == (
            days, round(attended / days, 1), round(attended / total, 4), on_time,
        ), gid  # fmt: skip
    private = [t.student_name(s) for s in t.STUDENTS] + [t.guardian_name(s) for s in t.STUDENTS]
    private += [*t.STUDENTS, "1380000"]
    book = load_workbook(io.BytesIO(report_files.to_xlsx(report)))
    cells = " ".join(str(c.value) for ws in book for row in ws.iter_rows() for c in row)
    for text in (str(report.to_json()), report_files.to_html(report), cells,
                 report_files.to_csv(report.tables[0]).decode()):  # fmt: skip
        leaked = [p for p in private if p in text]
        assert not leaked, leaked


def test_excel_and_csv_hold_the_same_cells(played: tuple[t.Term, Node], tmp_path: Path) -> None:
    _, node = played
    report = make(node, "workload", term=t.TERM_NAME)
    book = load_workbook(io.BytesIO(report_files.to_xlsx(report)))
    assert book.sheetnames == ["报表信息", "看护场次", "教师工作量汇总"]
    assert book["报表信息"]["A1"].value == "课后服务教师考勤与工作量"
    for table in report.tables:
        sheet = book[table.zh]
        assert sheet.freeze_panes == "A2"
        values = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert values[0] == [c.zh for c in table.columns]
        assert values[1:] == [[None if v == "" else v for v in r] for r in table.rows]
        for index, column in enumerate(table.columns, start=1):
            letter = sheet.cell(1, index).column_letter
            longest = max(report_files._width(report_files.text(r[index - 1], column))
                          for r in [[c.zh for c in table.columns], *table.rows])  # fmt: skip
            assert sheet.column_dimensions[letter].width >= min(60, longest), column.key
        units = sheet.cell(2, [c.key for c in table.columns].index("units") + 1)
        assert units.number_format == "0.0#"
    parsed = list(
        csv.reader(io.StringIO(report_files.to_csv(report.tables[0]).decode("utf-8-sig")))
    )
    assert parsed[0] == [c.zh for c in report.tables[0].columns]
    assert parsed[1:] == [
        [report_files.text(v, c) for v, c in zip(row, report.tables[0].columns, strict=True)]
        for row in report.tables[0].rows
    ]
    english = load_workbook(io.BytesIO(report_files.to_xlsx(report, "en")))
    assert next(english["Sessions"].iter_rows(values_only=True))[0] == "Date"


def test_reports_over_http(played: tuple[t.Term, Node]) -> None:
    _, node = played
    with LiveServer(node) as server, httpx.Client(base_url=server.url, timeout=30) as client:
        now = node.clock.now()
        admin = {"authorization": f"Bearer {server.token('A1')}"}
        teacher = {"authorization": f"Bearer {server.token('T1')}"}
        got = client.get("/api/v1/reports/attendance", params={"term": t.TERM_NAME}, headers=admin)
        assert got.status_code == 200
        assert got.json() == make(node, "attendance", term=t.TERM_NAME).to_json()
        sheet = client.get("/api/v1/reports/workload", headers=admin,
                           params={"month": "2026-09", "format": "xlsx"})  # fmt: skip
        assert sheet.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert "attachment" in sheet.headers["content-disposition"]
        assert load_workbook(io.BytesIO(sheet.content))["看护场次"].max_row > 50
        asked = {"group": "G1", "date": t.REENTRY.isoformat(), "format": "html"}
        page = client.get("/api/v1/reports/supervision", headers=teacher, params=asked)
        assert page.status_code == 200
        assert "课后服务看管记录" in page.text
        assert "离校后返回" in page.text
        exported = [e for e in node.ledger.events_after(0, 100_000) if e.code == "report_exported"]
        assert {e.subject_id for e in exported} >= {"A1", "T1"}  # who took data away
        refusals = {
            ("attendance", "month=2026-13"): (422, "month '2026-13' is not a month like 2026-11"),
            ("attendance", "term=冬季"): (404, "there is no term named '冬季'"),
            ("attendance", "from=2026-10-01&to=2026-09-01"): (422, "ends (2026-09-01) before"),
            ("attendance", "month=2026-09&term=x"): (422, "name the period"),
            ("supervision", "group=G9"): (404, "group 'G9' is not in the roster"),
            ("supervision", ""): (422, "group: Field required"),
            ("timeline", "student=S99"): (404, "student 'S99' is not in the roster"),
            ("workload", "month=2026-09&format=pdf"): (422, "format"),
            ("workload", "month=2026-09&format=csv&table=nope"): (422, "has no table 'nope'"),
        }
        for (name, query), (status, words) in refusals.items():
            reply = client.get(f"/api/v1/reports/{name}?{query}", headers=admin)
            assert reply.status_code == status, (name, query, reply.text)
            assert words in reply.json()["detail"], reply.json()
        guard = {"authorization": f"Bearer {server.token('T1')}"}
        viewer = auth.issue(node.secret, "A1", "admin", now, 12, scope="view")
        refused = client.get("/api/v1/reports/workload",
                             headers={"authorization": f"Bearer {viewer}"})  # fmt: skip
        assert refused.status_code == 403
        assert "PIN" in refused.json()["detail"]
        assert client.get("/api/v1/reports/parents", headers=guard).status_code == 200


def test_the_report_command_writes_files_and_says_what_is_wrong(
    played: tuple[t.Term, Node], tmp_path: Path
) -> None:
    _, node = played
    data_dir = str(node.settings.data_dir)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "edge", "report", *args, "--data-dir", data_dir],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    out = tmp_path / "term.xlsx"
    done = run("attendance", "--term", t.TERM_NAME, "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "read 2026-10-16 (46/46 days)" in done.stderr  # progress, day by day
    book = load_workbook(out)
    assert book["学生出勤"]["A2"].value == "S01"
    table = run("workload", "--month", "2026-09", "--table", "staff")
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].startswith("工号,姓名,岗位,场次")
    split = run("supervision", "--group", "G1", "--date", t.REENTRY.isoformat(),
                "--out", str(tmp_path / "g1.csv"))  # fmt: skip
    assert split.returncode == 0, split.stderr
    assert {p.name for p in tmp_path.glob("g1.*.csv")} == {
        "g1.students.csv",
        "g1.custody.csv",
        "g1.incidents.csv",
    }
    bad = run("attendance", "--month", "2026-13", "--out", str(tmp_path / "bad.xlsx"))
    assert bad.returncode == 1
    assert "month '2026-13' is not a month like 2026-11" in bad.stderr
    assert not list(tmp_path.glob("bad*"))  # nothing half-written
    unknown = run("fees")
    assert unknown.returncode == 1
    assert "the reports are attendance, workload" in unknown.stderr
    actions = [e for e in node.ledger.events_after(0, 100_000) if e.code == "report_exported"]
    assert any(str(out) in e.data.get("files", []) for e in actions)


def test_a_day_still_going_is_not_counted_as_absence(played: tuple[t.Term, Node]) -> None:
    plan, node = played
    source = reports.LedgerSource(node.ledger)
    afternoon = dt.datetime.combine(t.REENTRY, dt.time(16, 0), tzinfo=t.TZ)
    record = reports.make("supervision", source, now=afternoon, date=t.REENTRY, group="G1")
    day = plan.by_day[t.REENTRY]
    statuses = {r["student_id"]: r["status"] for r in record.table("students").records()}
    absent = [s for s in t.GROUPS["G1"][5] if day.children[s].status == "absent"]
    assert absent  # the plan has someone who never comes that day
    for sid in absent:
        assert statuses[sid] == "未到", sid  # not yet: the afternoon is still going
    assert "未记录离校" not in str(record.to_json())
    # Attendance asked during a school afternoon counts the days before it only.
    during = dt.datetime.combine(dt.date(2026, 9, 14), dt.time(16, 0), tzinfo=t.TZ)
    early = reports.make("attendance", source, now=during, month="2026-09")
    answers = plan.attendance(dt.date(2026, 9, 1), dt.date(2026, 9, 13))
    for row in early.table("students").rows:
        assert (*row[4:8], row[9]) == answers[row[0]], row[0]
