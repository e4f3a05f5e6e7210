"""The duty log panel (kiosk_ui/panels/duty.js) mounted on a small page of its own."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from edge.school import auth
from tests.servers import LiveServer

PIN = "2468"
PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"></head><body>
<section id="duty"></section>
<script type="module">
import { mountDuty, bearerFetch } from "/ui/panels/duty.js";
mountDuty(document.getElementById("duty"), bearerFetch(%r));
</script></body></html>"""


def mount(server: LiveServer, page: Page, staff: str) -> None:
    page.goto(f"{server.url}/healthz")  # the page's origin: the panel's fetches go here
    page.set_content(PAGE % server.token(staff))


def test_the_duty_leader_notes_signs_off_and_adds_after(server: LiveServer, page: Page) -> None:
    server.node.ledger.set_pin("L1", auth.hash_pin(PIN))
    mount(server, page, "L1")
    status = page.locator("[data-duty=status]")
    expect(status).to_have_text("未交班")
    # Yesterday was left unsigned: the next duty leader sees it.
    expect(page.locator("[data-duty=open-items] li")).to_contain_text(["值班日志未交班"])
    page.fill("[data-duty=note-text]", "16:10 一年级看护组人数清点无误")
    page.click("[data-duty=add]")
    expect(page.locator("[data-duty=notes] li")).to_contain_text(["一年级看护组人数清点无误"])
    # A wrong PIN is refused, with the server's sentence.
    page.fill("[data-duty=code]", server.node.signin_codes.issue("L1"))
    page.fill("[data-duty=pin]", "9999")
    page.click("[data-duty=sign]")
    expect(page.locator("[data-duty=message]")).to_contain_text("PIN")
    expect(status).to_have_text("未交班")
    page.fill("[data-duty=code]", server.node.signin_codes.issue("L1"))
    page.fill("[data-duty=pin]", PIN)
    page.click("[data-duty=sign]")
    expect(status).to_contain_text("已交班: 刘校长")
    expect(page.locator("[data-duty=signoff-form]")).to_be_hidden()
    page.fill("[data-duty=note-text]", "17:40 补记：东门读卡器曾短暂无响应")
    page.click("[data-duty=add]")
    later = page.locator("[data-duty=notes] li").last
    expect(later).to_contain_text("签字后补记")
    expect(page.locator("[data-duty=notes] li").first).not_to_contain_text("签字后补记")


def test_a_guard_reads_the_log_but_cannot_write_it(server: LiveServer, page: Page) -> None:
    mount(server, page, "GU")
    expect(page.locator("[data-duty=status]")).to_have_text("未交班")
    expect(page.locator("[data-duty=note-form]")).to_be_hidden()
    expect(page.locator("[data-duty=signoff-form]")).to_be_hidden()
    expect(page.locator("[data-duty=message]")).to_contain_text("只读")
