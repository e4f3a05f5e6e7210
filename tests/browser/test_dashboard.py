"""The duty leader's dashboard in a real browser: live by deltas, the afternoon's chart,
group tiles, one screen without page scroll, who is signed in and signing out."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from edge.clock import ManualClock
from edge.node import Node
from tests.roster_files import CARD, TODAY
from tests.servers import LiveServer, local

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SCREENS = ((1920, 1080), (1280, 800))


def tap(server: LiveServer, station: str, uid: str, at: dt.datetime | None = None) -> None:
    body = {"station": station, "uid": CARD.get(uid, uid)}
    if at is not None:
        body["at"] = at.isoformat()
    reply = httpx.post(f"{server.url}/api/v1/sim/taps", json=body)
    assert reply.status_code == 200, reply.text


def sign_in(page: Page, server: LiveServer, staff: str = "L1") -> None:
    page.goto(f"{server.url}/dashboard")
    page.locator("#secret").fill(server.token(staff))
    page.locator("#signin button").click()
    expect(page.locator("#board")).to_be_visible()


def presence_requests(page: Page) -> list[str]:
    """Count the page's whole-picture fetches (GET /api/v1/presence, not the curve)."""
    seen: list[str] = []
    page.on(
        "request",
        lambda r: seen.append(r.url) if r.url.split("?")[0].endswith("/api/v1/presence") else None,
    )
    return seen


def fits(page: Page, name: str) -> None:
    """No horizontal overflow and no page-level vertical scroll; a screenshot of it."""
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in SCREENS:
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(150)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}x{height}.png"))
        wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        tall = page.evaluate("document.documentElement.scrollHeight - window.innerHeight")
        assert wide <= 0, f"{name} overflows {wide}px sideways at {width}x{height}"
        assert tall <= 0, f"{name} scrolls {tall}px down at {width}x{height}"


@pytest.fixture
def board(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    yield context.new_page()
    context.close()


def test_the_chart_and_tiles_move_with_taps_elsewhere_without_refetching_the_picture(
    server: LiveServer, board: Page
) -> None:
    fetched = presence_requests(board)
    sign_in(board, server)
    tile = board.locator("#groups [data-group=G1]")
    expect(tile).to_have_attribute("data-tile", "missing")  # S1-S3 expected, S4 on leave
    expect(tile).to_contain_text("0 / 4")
    expect(board.locator("#legend [data-series=present] b")).to_have_text("0")
    line = board.locator("#chart path.line-present")
    before = line.get_attribute("d")
    expect(board.locator("#chart .batch")).to_have_count(3)  # 16:00, 17:00, 17:30
    expect(board.locator("#chart .end")).to_contain_text("18:00")
    tap(server, "K1", "S1")
    tap(server, "K1", "S2")
    tap(server, "K1", "S3")
    expect(tile).to_contain_text("3 / 4")
    expect(tile).to_have_attribute("data-tile", "ok")
    expect(tile).to_contain_text("全部到齐")
    expect(board.locator("#legend [data-series=present] b")).to_have_text("3")
    expect(board.locator("#legend [data-series=signed_in] b")).to_have_text("3")
    assert line.get_attribute("d") != before  # the chart moved
    expect(board.locator("#missing")).not_to_contain_text("小红")
    tap(server, "P1", "P1")
    tap(server, "P1", "S1")  # released to 王妈妈
    expect(board.locator("#legend [data-series=gone] b")).to_have_text("1")
    expect(tile).to_contain_text("2 / 4")
    board.wait_for_timeout(300)
    assert len(fetched) == 1, f"the picture was fetched again on a tap: {fetched}"
    fits(board, "dashboard-live")


@pytest.fixture
def campus(
    make_node: Callable[..., Node], tmp_path: Path
) -> Iterator[tuple[LiveServer, ManualClock]]:
    """The demo's 300-student campus: most children signed in, some gone home, and the
    clock past the service end while guardians are called, so the overdue list (with
    calls) is long."""
    from edge.cli.demo import write_bundle

    clock = ManualClock(local("15:30"))
    node = make_node(clock=clock, roster_dir=write_bundle(tmp_path / "demo", 300, today=TODAY))
    roster = node.roster
    rooms = {s.group_id: s.station_id for s in roster.stations.values() if s.role == "classroom"}
    pickup = next(s.station_id for s in roster.stations.values() if s.role == "pickup")
    cards = {row["student_id"]: row["card_uid"] for row in roster.tables["students"]}
    with LiveServer(node) as server, httpx.Client(base_url=server.url) as client:
        moment = local("15:31")
        for n, (sid, card) in enumerate(sorted(cards.items())):
            groups = roster.expected_groups(sid, TODAY)
            if not groups or n % 9 == 0 or groups[0] not in rooms:
                continue  # a few never come
            moment += dt.timedelta(seconds=7)
            body = {"station": rooms[groups[0]], "uid": card, "at": moment.isoformat()}
            assert client.post("/api/v1/sim/taps", json=body).status_code == 200
            if n % 3 == 0 and roster.students[sid].walk_alone:
                leave = {
                    "station": pickup,
                    "uid": card,
                    "at": (moment + dt.timedelta(hours=1)).isoformat(),
                }
                assert client.post("/api/v1/sim/taps", json=leave).status_code == 200
        calendar = roster.calendar
        end = calendar.service_end_at(TODAY)
        # Between the calls to guardians and the hand-over to the guard (stage 2).
        clock.set(end + (calendar.late_call + calendar.late_custody) / 2)
        yield server, clock


def test_the_dashboard_fits_one_screen_and_long_lists_scroll_in_their_panels(
    campus: tuple[LiveServer, ManualClock], board: Page
) -> None:
    server, _ = campus
    board.set_viewport_size({"width": 1920, "height": 1080})
    leader = next(s for s in server.node.roster.staff.values() if s.role == "duty_leader")
    sign_in(board, server, leader.staff_id)
    overdue = board.locator("#overdue")
    expect(overdue.locator(".bygroup").first).to_be_visible()
    expect(board.locator("#late-stage")).to_have_text("请电话联系家长")
    expect(overdue.locator(".call").first).to_contain_text("☎")
    assert board.locator("#groups .tile.overdue").count() >= 3
    panel = board.locator("#overdue-panel .scroll")
    assert panel.evaluate("p => p.scrollHeight > p.clientHeight")  # it scrolls inside
    assert int(board.locator('[data-state="overdue"] b').inner_text()) > 100
    assert board.locator("#chart path.line-present").get_attribute("d").count("L") > 20
    fits(board, "dashboard-campus")
    board.locator("#lang").click()
    expect(board.locator("#tiles-panel h2")).to_have_text("Groups")
    fits(board, "dashboard-campus-en")


def test_the_header_names_who_is_signed_in_and_signing_out_forgets_the_token(
    server: LiveServer, board: Page
) -> None:
    token = server.token("L1")
    board.goto(f"{server.url}/dashboard")
    field = board.locator("#secret")
    assert field.get_attribute("type") == "password"  # a pasted token is never shown
    field.fill(token)
    board.locator("#signin button").click()
    expect(board.locator("#who")).to_have_text("刘校长 · 值班领导")
    expect(field).to_have_value("")  # nor kept in the field once used
    assert token not in board.content()
    assert board.evaluate("sessionStorage.getItem('token')") == token
    board.locator("#signout").click()
    expect(board.locator("#signin")).to_be_visible()
    expect(board.locator("#board")).to_be_hidden()
    expect(board.locator("#who")).to_be_hidden()
    assert (
        board.evaluate("sessionStorage.getItem('token') || localStorage.getItem('token')") is None
    )
    board.reload()
    expect(board.locator("#signin")).to_be_visible()  # still signed out
    expect(board.locator("#board")).to_be_hidden()


def test_a_view_only_guard_sees_the_role_and_scope(server: LiveServer, board: Page) -> None:
    from edge.school import auth

    view = auth.issue(server.node.secret, "GU", "guard", server.node.clock.now(), 12, "view")
    board.goto(f"{server.url}/dashboard")
    board.locator("#secret").fill(view)
    board.locator("#signin button").click()
    expect(board.locator("#who")).to_have_text("张保安 · 门卫 · 仅查看")
    board.locator("#lang").click()
    expect(board.locator("#who")).to_have_text("张保安 · guard · view only")
    expect(board.locator("#signout")).to_have_text("Sign out")


@pytest.mark.parametrize("station", ["K1", "P1"])
def test_the_kiosk_page_does_not_overflow_small_screens(
    server: LiveServer, page: Page, station: str
) -> None:
    page.goto(f"{server.url}/kiosk/{station}")
    expect(page.locator("#title")).not_to_be_empty()
    tap(server, station, "S1" if station == "K1" else "P1")
    expect(page.locator("#who")).not_to_be_empty()
    ARTIFACTS.mkdir(exist_ok=True)
    for width, height in ((1024, 600), (800, 480)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(100)
        page.screenshot(path=str(ARTIFACTS / f"kiosk-{station}-{width}x{height}.png"))
        wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert wide <= 0, f"/kiosk/{station} overflows {wide}px sideways at {width}x{height}"


def test_a_reconnect_after_a_restart_resumes_from_the_last_delta_without_a_reload(
    make_node: Callable[..., Node], board: Page
) -> None:
    node = make_node()
    first = LiveServer(node).__enter__()
    fetched = presence_requests(board)
    sign_in(board, first)
    tile = board.locator("#groups [data-group=G1]")
    tap(first, "K1", "S1")
    expect(tile).to_contain_text("1 / 4")
    first.__exit__(None, None, None)
    expect(board.locator("#stream")).to_contain_text("连接中断")
    expect(board.locator("#live")).to_have_class("live off")
    with LiveServer(node) as aside:  # taps go on while the dashboard's server is down
        tap(aside, "K1", "S2")
        tap(aside, "P1", "S3")  # walks home alone
    with LiveServer(node, port=first.port):
        expect(board.locator("#stream")).to_be_hidden(timeout=15000)
        expect(tile).to_contain_text("2 / 4")
        expect(board.locator('[data-state="left_alone"] b')).to_have_text("1")
        expect(board.locator("#legend [data-series=gone] b")).to_have_text("1")
    assert len(fetched) == 1, f"the picture was fetched again: {fetched}"


def test_the_service_end_turns_tiles_red_and_lists_the_overdue_by_group(
    make_node: Callable[..., Node], board: Page
) -> None:
    clock = ManualClock(local("17:50"))
    with LiveServer(make_node(clock=clock)) as server:
        fetched = presence_requests(board)
        tap(server, "K1", "S1")
        tap(server, "K1", "S2")
        sign_in(board, server)
        tile = board.locator("#groups [data-group=G1]")
        expect(tile).to_have_attribute("data-tile", "missing")  # S3 not here yet
        expect(board.locator("#overdue")).to_have_text("暂无")
        clock.set(local("18:01"))  # the service end passes with no tap
        expect(tile).to_have_attribute("data-tile", "overdue", timeout=10000)
        expect(tile).to_contain_text("超时未接 2")
        group = board.locator("#overdue [data-group=G1]")
        expect(group.locator("h3")).to_have_text("一年级看护组 (2)")
        expect(group).to_contain_text("小明 · 一年级1班")
        expect(board.locator("#legend [data-series=overdue] b")).to_have_text("2")
        expect(board.locator("#chart path.area-overdue")).to_have_count(1)
        clock.set(local("18:16"))  # the second stage: call the guardians
        expect(board.locator("#late-stage")).to_have_text("请电话联系家长", timeout=10000)
        expect(group).to_contain_text("☎ 王妈妈（母亲）13800000001")
        fits(board, "dashboard-overdue")
    assert len(fetched) <= 3  # the picture again only when time moved it (reload), never per tap


def test_before_the_service_starts_the_chart_waits_and_the_first_tap_starts_it(
    make_node: Callable[..., Node], board: Page
) -> None:
    clock = ManualClock(local("14:50"))
    with LiveServer(make_node(clock=clock)) as server:
        sign_in(board, server)
        expect(board.locator("#chart .end")).to_contain_text("18:00")
        tap(server, "K1", "S1")  # early
        expect(board.locator("#legend [data-series=present] b")).to_have_text("1")
        box = board.locator("#chart").bounding_box()
        dot = board.locator("#chart circle").bounding_box()
        assert box is not None
        assert dot is not None
        assert box["x"] <= dot["x"] <= box["x"] + box["width"]  # drawn inside the chart
