"""A full or read-only card, as the kiosk screen shows it: the tap was not saved."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.servers import LiveServer
from tests.store.test_storage_faults import pragma, tap


def test_the_screen_says_a_tap_was_not_saved(server: LiveServer, page: Page) -> None:
    page.goto(f"{server.url}/kiosk/K1")
    expect(page.locator("#title")).to_have_text("101教室")
    pragma(server, "PRAGMA query_only = ON")
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert tap(client, 1).status_code == 503
    expect(page.locator("#alarm")).to_be_visible()
    expect(page.locator("#alarm-text")).to_contain_text("未能保存，这次刷卡没有记录：请再刷一次")
    expect(page.locator("#panel")).to_have_class("denied")
    pragma(server, "PRAGMA query_only = OFF")
