"""The screens in a real browser: Playwright driving Debian's Chromium, headless."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from edge.node import Node
from tests.roster_files import CARD
from tests.servers import LiveServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def tap(server: LiveServer, station: str, who: str) -> dict:
    reply = httpx.post(
        f"{server.url}/api/v1/sim/taps", json={"station": station, "uid": CARD.get(who, who)}
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in ((1024, 600), (800, 480)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}x{height}.png"))
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} overflows {overflow}px at {width}x{height}"
    page.set_viewport_size({"width": 1024, "height": 600})


def test_a_tap_appears_on_its_station_page(server: LiveServer, page: Page) -> None:
    page.goto(f"{server.url}/kiosk/K1")
    expect(page.locator("#title")).to_have_text("101教室")
    expect(page.locator("#count")).to_have_text("0 / 4")
    expect(page.locator("#idle")).to_have_text("请刷卡")
    assert page.evaluate("getComputedStyle(document.body).cursor") == "none"  # a touch screen
    tap(server, "K1", "S1")
    expect(page.locator("#who")).to_have_text("小明 · 一年级1班")
    expect(page.locator("#panel")).to_have_class("accepted")
    expect(page.locator("#icon")).to_have_text("✔")  # not colour alone
    expect(page.locator("#count")).to_have_text("1 / 4")
    tap(server, "K1", "T1")
    expect(page.locator("#extra")).to_contain_text("未到 (2)")
    expect(page.locator("#extra")).to_contain_text("小红 · 一年级1班")
    expect(page.locator("#extra li").last).to_be_in_viewport()  # the whole list shows
    expect(page.locator("#sub")).to_contain_text("看护老师: 陈老师")
    expect(page.locator("#code b")).to_have_text(re.compile(r"^\d{6}$"))
    shoot(page, "kiosk-classroom-staff")


def test_the_pickup_screen_releases_the_right_child_and_refuses_in_red(
    server: LiveServer, page: Page
) -> None:
    tap(server, "K1", "S1")
    page.goto(f"{server.url}/kiosk/P1")
    expect(page.locator("#title")).to_have_text("东门接送点")
    tap(server, "P1", "P1")
    expect(page.locator("#who")).to_have_text("王妈妈")
    expect(page.locator("#extra")).to_contain_text("小明 · 一年级1班 · 在校 · 一年级看护组")
    expect(page.locator("#extra")).to_contain_text("小丽 · 一年级2班 · 请假")
    shoot(page, "kiosk-pickup-guardian")
    tap(server, "P1", "S2")  # not hers to collect
    alarm = page.locator("#alarm")
    expect(alarm).to_be_visible()
    expect(page.locator("#alarm-text")).to_have_text("拒绝：王妈妈不是小红的授权接送人")
    page.wait_for_timeout(1500)
    expect(alarm).to_be_visible()  # stays until a person dismisses it
    shoot(page, "kiosk-pickup-refused")
    page.locator("#dismiss").click()
    expect(alarm).to_be_hidden()
    tap(server, "P1", "S1")
    expect(page.locator("#what")).to_have_text("小明，已由王妈妈接走")
    expect(page.locator("#panel")).to_have_class("accepted")
    tap(server, "P1", "S3")  # walk-alone consent
    expect(page.locator("#what")).to_have_text("小刚，自行离校")


def test_a_barred_adult_fills_the_screen(server: LiveServer, page: Page) -> None:
    page.goto(f"{server.url}/kiosk/P1")
    expect(page.locator("#title")).to_have_text("东门接送点")
    tap(server, "P1", "P3")
    tap(server, "P1", "S1")
    expect(page.locator("#alarm-text")).to_contain_text("赵先生被禁止接走小明")
    expect(page.locator("#alarm-en")).to_contain_text("must not collect")


def test_the_dashboard_changes_live_and_staff_sign_in_by_card(
    server: LiveServer, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1024, "height": 600})
    kiosk, board = context.new_page(), context.new_page()
    kiosk.goto(f"{server.url}/kiosk/K2")
    expect(kiosk.locator("#title")).to_have_text("实验室")
    tap(server, "K2", "L1")  # the duty leader taps her card at a classroom door
    code = kiosk.locator("#code b")
    expect(code).to_have_text(re.compile(r"^\d{6}$"))

    board.goto(f"{server.url}/dashboard")
    board.locator("#secret").fill(code.inner_text())
    board.locator("#signin button").click()
    present = board.locator('[data-state="present"] b')
    expect(present).to_have_text("0")
    expect(board.locator('[data-state="expected"] b')).to_have_text("4")
    tap(server, "K1", "S2")  # elsewhere, while the dashboard is open
    expect(present).to_have_text("1")
    expect(board.locator('[data-state="expected"] b')).to_have_text("3")
    tap(server, "P1", "S1")  # no guardian: refused, raised as an alert
    expect(board.locator("#alerts")).to_contain_text("15:30 P1: 小明需要家长接送")  # school time
    board.locator("#search").fill("小红")
    board.locator("#found li").first.click()
    expect(board.locator("#timeline")).to_contain_text("小红，签到成功：一年级看护组")
    expect(board.locator("#groups")).to_contain_text("一年级看护组")
    shoot(board, "dashboard")
    board.goto(f"{server.url}/dashboard/rollcall")
    expect(board.locator("[data-group=G1] h2")).to_contain_text("一年级看护组")
    expect(board.locator("[data-group=G1]")).to_contain_text("小红")
    shoot(board, "rollcall")
    context.close()


def test_a_used_or_wrong_sign_in_code_is_refused(server: LiveServer) -> None:
    answer = httpx.post(f"{server.url}/api/v1/signin", json={"code": "000000"})
    assert answer.status_code == 401
    assert "tap your staff card again" in answer.json()["detail"]
    assert httpx.post(f"{server.url}/api/v1/signin", json={"code": "12ab"}).status_code == 422


def test_the_page_recovers_after_a_service_restart(
    make_node: Callable[..., Node], page: Page
) -> None:
    node = make_node()
    first = LiveServer(node).__enter__()
    page.goto(f"{first.url}/kiosk/K1")
    expect(page.locator("#title")).to_have_text("101教室")
    first.__exit__(None, None, None)
    expect(page.locator("#stream")).to_contain_text("连接中断")
    with LiveServer(node, port=first.port) as second:
        expect(page.locator("#stream")).to_be_hidden(timeout=10000)
        tap(second, "K1", "S2")
        expect(page.locator("#who")).to_have_text("小红 · 一年级1班")


def test_the_english_toggle(server: LiveServer, page: Page) -> None:
    page.goto(f"{server.url}/kiosk/K1")
    expect(page.locator("#idle")).to_have_text("请刷卡")
    page.locator("#lang").click()
    expect(page.locator("#idle")).to_have_text("Please tap your card")
    tap(server, "K1", "S1")
    expect(page.locator("#what")).to_have_text("小明 signed in to 一年级看护组")
    page.reload()
    expect(page.locator("#idle")).to_have_text("Please tap your card")  # remembered
    expect(page.locator("#lang")).to_have_text("中文")


def test_kiosk_streams_carry_no_phone_numbers(server: LiveServer, page: Page) -> None:
    messages: list[str] = []
    page.goto(f"{server.url}/kiosk/P1")
    expect(page.locator("#title")).to_have_text("东门接送点")
    page.evaluate("""() => { window.seen = [];
        const s = new EventSource('/api/v1/stations/P1/stream');
        s.addEventListener('tap', (e) => window.seen.push(e.data)); }""")
    page.wait_for_timeout(300)
    tap(server, "P1", "P1")
    page.wait_for_function("window.seen.length > 0")
    messages = page.evaluate("window.seen")
    assert "王妈妈" in messages[0]
    assert "13800000001" not in messages[0]


def test_the_guard_sees_the_photos(
    make_node: Callable[..., Node], page: Page, tmp_path: Path
) -> None:
    from tests import roster_files

    node = make_node(roster_dir=roster_files.with_photos(tmp_path / "photo-roster"))
    with LiveServer(node) as server:
        tap(server, "K1", "S1")
        page.goto(f"{server.url}/kiosk/P1")
        expect(page.locator("#title")).to_have_text("东门接送点")
        tap(server, "P1", "P1")
        guardian = page.locator("#head img")
        expect(guardian).to_have_attribute("alt", "王妈妈")
        page.wait_for_function("document.querySelector('#head img').naturalWidth === 48")
        child = page.locator("#extra li img").first
        expect(child).to_be_visible()
        page.wait_for_function("document.querySelector('#extra li img').naturalWidth === 48")
        shoot(page, "kiosk-pickup-photos")
        assert httpx.get(f"{server.url}/photos/../../secret.key").status_code == 404
        assert httpx.get(f"{server.url}/photos/{'0' * 64}.png").status_code == 404


def test_a_guardian_at_the_gate_calls_the_child_in_its_classroom(
    server: LiveServer, page: Page
) -> None:
    page.goto(f"{server.url}/kiosk/K1")
    expect(page.locator("#title")).to_have_text("101教室")
    tap(server, "K1", "S1")
    expect(page.locator("#called")).to_be_hidden()
    tap(server, "P1", "P1")  # 王妈妈 at the east gate
    called = page.locator("#called li[data-student=S1]")
    expect(called).to_contain_text("家长已到：小明（一年级1班）· 王妈妈 在 东门接送点 15:30")
    expect(page.locator("#called li")).to_have_count(1)  # S4, her other child, is on leave
    shoot(page, "kiosk-called")


def test_the_dashboard_shows_a_kiosk_that_never_synced(server: LiveServer, page: Page) -> None:
    server.node.ledger.add_device("kiosk-9")
    page.goto(f"{server.url}/dashboard")
    page.locator("#secret").fill(server.token("L1"))
    page.locator("#signin button").click()
    row = page.locator("#sync li[data-device=kiosk-9]")
    expect(row).to_contain_text("kiosk-9: 未同步 · 从未同步")
    expect(row).to_have_class("behind")
    expect(page.locator("#alerts")).to_contain_text("同步 kiosk-9: 未同步")


def test_the_dashboard_shows_prints_and_downloads_reports(
    server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    from openpyxl import load_workbook

    from edge.school import auth

    for station, who in (("K1", "S1"), ("K1", "T1"), ("P1", "P1"), ("P1", "S1")):
        tap(server, station, who)
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/dashboard")
    page.locator("#secret").fill(server.token("A1"))
    page.locator("#signin button").click()
    expect(page.locator("#report-group option")).to_have_count(2)
    expect(page.locator("#report-date")).to_have_value("2026-11-23")
    page.locator("#report-form button[type=submit]").click()
    report = page.frame_locator("#report-view")
    expect(report.locator("h1")).to_contain_text("课后服务看管记录")
    expect(report.locator("table").first).to_contain_text("王妈妈（母亲）")  # S1 went home with her
    expect(report.locator("body")).to_contain_text("陈老师")  # T1 took custody
    shoot(page, "reports")
    page.locator("#report-view").locator("xpath=..").screenshot(path=str(ARTIFACTS / "report.png"))
    with page.expect_download() as download:
        page.locator("#report-xlsx").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name.startswith("supervision-")
    book = load_workbook(saved)
    rows = list(book["学生名单"].iter_rows(values_only=True))
    assert rows[0][:4] == ("学号", "姓名", "班级", "出勤")
    assert ("S1", "小明", "一年级1班", "出勤") in [r[:4] for r in rows]
    # A card-only sign-in may see a group's record but not fees and pay: the page says why.
    viewer = context.new_page()
    viewer.goto(f"{server.url}/dashboard")
    view_only = auth.issue(server.node.secret, "A1", "admin", server.node.clock.now(), 12, "view")
    viewer.locator("#secret").fill(view_only)
    viewer.locator("#signin button").click()
    viewer.locator("#report-name").select_option("attendance")
    expect(viewer.locator("#report-month")).to_be_visible()
    expect(viewer.locator("#report-group")).to_be_hidden()
    viewer.locator("#report-form button[type=submit]").click()
    expect(viewer.locator("#report-error")).to_contain_text("this needs your PIN")
    context.close()


def test_the_guard_releases_a_child_to_a_delegate_without_a_card(
    server: LiveServer, page: Page
) -> None:
    from edge.school import auth

    tap(server, "K1", "S2")
    admin = auth.issue(server.node.secret, "A1", "admin", server.node.clock.now(), 12)
    granted = httpx.post(
        f"{server.url}/api/v1/delegates",
        headers={"authorization": f"Bearer {admin}"},
        json={"student_id": "S2", "name": "张阿姨", "phone": "13900001111"},
    )
    assert granted.status_code == 201
    page.goto(f"{server.url}/kiosk/P1")
    expect(page.locator("#nocard")).to_be_visible()
    page.locator("#find").fill("1111")
    page.locator("#find-go").click()
    adult = page.locator("#adults > li").first
    expect(adult).to_contain_text("张阿姨 · 临时委托 2026-11-23–2026-11-23")
    expect(adult).not_to_contain_text("1390000")  # no phone number on the screen
    adult.locator("button[data-student=S2]").click()
    expect(page.locator("#panel")).to_contain_text("请刷门卫或教师工作卡确认放行：小红 → 张阿姨")
    tap(server, "P1", "GU")
    expect(page.locator("#panel")).to_contain_text(
        "无卡接送：由张阿姨（临时委托）接走（张保安确认）"
    )
    expect(page.locator("#panel")).to_have_class("accepted")
    shoot(page, "nocard")


def test_the_dashboard_shows_whom_to_call_for_a_child_not_collected(
    server: LiveServer, page: Page
) -> None:
    from tests.servers import local

    tap(server, "K1", "S1")
    server.node.clock.set(local("18:16"))  # type: ignore[attr-defined]
    page.goto(f"{server.url}/dashboard")
    page.locator("#secret").fill(server.token("L1"))
    page.locator("#signin button").click()
    expect(page.locator("#late-stage")).to_have_text("请电话联系家长")
    expect(page.locator("#overdue [data-student=S1]")).to_contain_text(
        "☎ 王妈妈（母亲）13800000001"
    )
    expect(page.locator("#overdue [data-student=S1]")).not_to_contain_text("赵先生")  # barred
    expect(page.locator("#conflicts")).to_have_text("暂无")


def test_a_teacher_names_a_delegate_on_the_dashboard_and_takes_it_back(
    server: LiveServer, page: Page
) -> None:
    page.goto(f"{server.url}/dashboard")
    page.locator("#secret").fill(server.token("A1"))
    page.locator("#signin button").click()
    page.locator("#delegate-student").fill("S2")
    page.locator("#delegate-name").fill("张阿姨")
    page.locator("#delegate-phone").fill("13900001111")
    page.locator("#delegate-form button").click()
    listed = page.locator("#delegates li")
    expect(listed).to_have_count(1)
    expect(listed.first).to_contain_text("小红 ← 张阿姨 13900001111 · 2026-11-23–2026-11-23")
    kiosk = httpx.get(f"{server.url}/api/v1/stations/P1/adults", params={"q": "1111"}).json()
    assert [a["name"] for a in kiosk["adults"]] == ["张阿姨"]
    listed.first.locator("button").click()
    expect(listed).to_have_count(0)
    page.locator("#delegate-student").fill("S99")
    page.locator("#delegate-name").fill("某人")
    page.locator("#delegate-phone").fill("13900001111")
    page.locator("#delegate-form button").click()
    expect(page.locator("#delegate-error")).to_have_text("student 'S99' is not in the roster")


def test_a_screen_on_the_lan_works_only_once_paired_with_its_display_key(
    server: LiveServer, page: Page
) -> None:
    from edge.display import display_key

    tap(server, "K1", "S1")
    tap(server, "K1", "S2")
    # As a tablet at a gate reaching the hub through its TLS proxy: not this machine.
    page.set_extra_http_headers({"x-forwarded-for": "192.168.1.50"})
    page.goto(f"{server.url}/kiosk/P1")
    expect(page.locator("#title")).to_have_text("东门接送点")  # the idle screen: public
    expect(page.locator("#stream")).to_contain_text("campus-edge display P1")
    tap(server, "P1", "P1")
    expect(page.locator("#idle")).to_have_text("请刷卡")  # no tap reaches an unpaired screen
    server.node.clock.advance(seconds=11)  # type: ignore[attr-defined]
    page.goto(f"{server.url}/kiosk/P1#key={display_key(server.node.secret, 'P1')}")
    expect(page.locator("#stream")).to_have_text("")
    expect(page).not_to_have_url(re.compile(r"key="))  # it leaves the address bar, kept
    tap(server, "P1", "P1")
    expect(page.locator("#what")).to_contain_text("王妈妈")
    page.reload()  # paired for good
    expect(page.locator("#stream")).to_have_text("")
    page.locator("#find").fill("0002")
    page.locator("#find-go").click()
    adult = page.locator("#adults > li").first
    expect(adult).to_contain_text("李爸爸")
    adult.locator("button[data-student=S2]").click()
    expect(page.locator("#panel")).to_contain_text("请刷门卫或教师工作卡确认放行：小红 → 李爸爸")
    page.locator("#cancel-release").click()
    expect(page.locator("#idle")).to_have_text("请刷卡")
    assert server.node.writer.pending == {}
    server.node.clock.advance(seconds=11)  # type: ignore[attr-defined]
    assert tap(server, "P1", "GU")["code"] == "staff_on_duty"  # nothing was left to sign
