"""Patrol in a real browser: the phone page with its rounds panel, and the kiosk's confirm."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from edge.clock import ManualClock
from edge.node import Node
from tests.browser.test_screens import ARTIFACTS, shoot
from tests.http.test_patrol import patrol_bundle
from tests.roster_files import CARD
from tests.servers import LiveServer, local


@pytest.fixture
def patrolled(tmp_path: Path, make_node: Callable[..., Node]) -> Iterator[LiveServer]:
    clock = ManualClock(local("16:05"))
    node = make_node(clock=clock, roster_dir=patrol_bundle(tmp_path / "patrol"))
    with LiveServer(node) as live:
        yield live


def tap(server: LiveServer, station: str, who: str) -> dict:
    reply = httpx.post(f"{server.url}/api/v1/sim/taps", json={"station": station, "uid": CARD[who]})
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_the_phone_records_a_checkpoint_offline_and_sends_it_later(
    patrolled: LiveServer, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 800}, locale="zh-CN")
    phone = context.new_page()
    phone.goto(f"{patrolled.url}/patrol")
    phone.locator("#secret").fill(patrolled.token("GU"))
    phone.locator("#signin button").click()
    rounds = phone.locator("#rounds")
    expect(rounds.locator('[data-due="16:30"]')).to_have_attribute("data-state", "open")
    expect(rounds.locator(".current")).to_contain_text("已查 0/3")
    # In a stairwell with no signal: the visit is kept on the phone.
    context.set_offline(True)
    phone.locator("#tag").fill("04:cc:00:00:01")
    phone.locator("#typed button").click()
    expect(phone.locator("#queued")).to_contain_text("待发送 1 条")
    context.set_offline(False)  # back in range: it goes by itself, with its own moment
    expect(phone.locator("#queued")).to_have_text("")
    expect(phone.locator("#said")).to_contain_text("✔ 巡查: 东楼梯")
    expect(rounds.locator('[data-place="CP1"]')).to_contain_text("东楼梯 · 张保安")
    expect(rounds.locator(".not-yet").first).to_contain_text("未查: 101教室、实验室")
    tap(patrolled, "K1", "L1")
    # The panel as the dashboard mounts it: its own element, the page's fetch, an alert
    # callback; a stream tap of kind patrol_visit refetches it.
    phone.evaluate("""() => {
      const box = document.createElement("section"); box.id = "mounted";
      document.body.append(box); window.raised = [];
      const token = localStorage.getItem("patrol-token");
      const fetchJson = async (path) => (await fetch(path,
        { headers: { authorization: `Bearer ${token}` } })).json();
      window.panel = window.mountPatrol(box, fetchJson,
        { onAlert: (text) => window.raised.push(text) });
    }""")
    mounted = phone.locator("#mounted")
    expect(mounted.locator('[data-place="K1"]')).to_contain_text("101教室 · 刘校长 · 实到 0")
    patrolled.node.clock.set(local("16:31"))  # type: ignore[attr-defined]
    tap(patrolled, "K2", "GU")  # in the next round
    phone.evaluate("window.panel.onTap({ kind: 'patrol_visit' })")
    expect(mounted.locator('[data-due="16:30"]')).to_have_attribute("data-state", "incomplete")
    expect(mounted.locator('[data-due="17:00"] [data-place="K2"]')).to_contain_text("张保安")
    assert phone.evaluate("window.raised") == ["巡查漏查 16:30: 实验室"]
    phone.evaluate("window.panel.onTap({ kind: 'patrol_visit' })")  # raised once, not again
    expect(mounted.locator('[data-due="16:30"] .overdue')).to_contain_text("超时未查: 实验室")
    assert phone.evaluate("window.raised.length") == 1
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "patrol-phone.png"))
    context.close()


def test_the_kiosk_shows_the_visit_and_takes_over_only_when_confirmed(
    patrolled: LiveServer, page: Page
) -> None:
    page.goto(f"{patrolled.url}/kiosk/K1")
    expect(page.locator("#title")).to_have_text("101教室")
    tap(patrolled, "K1", "T1")
    expect(page.locator("#sub")).to_contain_text("看护老师: 陈老师")
    tap(patrolled, "K1", "L1")
    expect(page.locator("#who")).to_have_text("巡查: 刘校长 16:05")
    expect(page.locator("#what")).to_contain_text("看护不变")
    expect(page.locator("#sub")).to_contain_text("看护老师: 陈老师")  # a visit moves nothing
    shoot(page, "kiosk-patrol-visit")
    page.locator("#patrol-confirm").click()
    expect(page.locator("#what")).to_contain_text("刘校长确认接管一年级看护组")
    expect(page.locator("#sub")).to_contain_text("看护老师: 刘校长")
