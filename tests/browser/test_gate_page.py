"""The guard's gate page (/gate) in a real browser: register, alert, slip, check out."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.servers import LiveServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
NUMBER = "110105198001011238"  # a resident ID with its right check character


def sign_in(page: Page, server: LiveServer, staff_id: str = "GU") -> None:
    page.goto(f"{server.url}/gate")
    page.locator("#secret").fill(server.token(staff_id))
    page.locator("#signin button").click()
    expect(page.locator("#board")).to_be_visible()


def test_the_guard_registers_a_visitor_prints_a_slip_and_checks_out(
    server: LiveServer, page: Page
) -> None:
    sign_in(page, server)
    # A keyboard-wedge scanner types "NAME,NUMBER" and Enter into the name field.
    page.locator("#v-name").click()
    page.keyboard.type(f"王建国,{NUMBER}")
    page.keyboard.press("Enter")
    expect(page.locator("#v-document")).to_have_value(NUMBER)
    expect(page.locator("#v-name")).to_have_value("王建国")
    page.locator("#v-phone").fill("13912345678")
    page.locator("#v-visiting").fill("一年级1班 陈老师")
    page.locator("#v-purpose").fill("家长会")
    page.locator("#v-purpose").press("Enter")
    expect(page.locator("#done")).to_contain_text("****1238")
    row = page.locator("#inside li[data-visitor]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("****1238")
    expect(row).to_contain_text("15:30")  # the school's time, not UTC
    expect(page.locator("#signin")).to_be_hidden()
    expect(page.locator("body")).not_to_contain_text(NUMBER)
    expect(page.locator("#alert")).to_be_hidden()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "gate.png"))

    slip = row.locator("a[data-slip]").get_attribute("href")
    assert slip is not None
    page.goto(f"{server.url}{slip}")
    expect(page.locator("#slip")).to_contain_text("王建国")
    expect(page.locator("#slip")).to_contain_text("****1238")
    expect(page.locator("#slip")).to_contain_text("18:00")  # valid until the service end
    page.emulate_media(media="print")
    expect(page.locator("header")).to_be_hidden()
    expect(page.locator("#slip")).to_be_visible()
    width = page.locator("#slip").evaluate("e => e.getBoundingClientRect().width")
    assert 250 < width < 300  # 72 mm of an 80 mm receipt, at 96 px an inch
    page.screenshot(path=str(ARTIFACTS / "gate-slip-80mm.png"))
    page.pdf(path=str(ARTIFACTS / "gate-slip-a4.pdf"), format="A4")
    page.emulate_media(media="screen")

    page.goto(f"{server.url}/gate")
    page.locator("#inside button[data-leave]").click()
    expect(page.locator("#inside li[data-visitor]")).to_have_count(0)


def test_a_barred_adult_at_the_gate_fills_the_page_with_the_alert(
    server: LiveServer, page: Page
) -> None:
    sign_in(page, server)
    page.locator("#v-name").fill("赵先生")  # P3 must not collect S1
    page.locator("#v-visiting").fill("一年级1班")
    page.locator("#v-purpose").fill("接孩子")
    page.locator("#v-submit").click()
    expect(page.locator("#alert")).to_be_visible()
    expect(page.locator("#alert")).to_contain_text("禁止接送")
    expect(page.locator("#inside li.loud")).to_have_count(1)


def test_the_dashboard_panel_and_a_teacher_refused(server: LiveServer, page: Page) -> None:
    sign_in(page, server, "L1")
    page.locator("#v-name").fill("李四")
    page.locator("#v-visiting").fill("校长室")
    page.locator("#v-purpose").fill("送货")
    page.locator("#v-submit").click()
    expect(page.locator("#inside li[data-visitor]")).to_have_count(1)
    count = page.evaluate(
        """async () => {
          const { mountRegister } = await import("/ui/panels/register.js");
          const box = document.createElement("section");
          document.body.append(box);
          const token = sessionStorage.getItem("token");
          const headers = { authorization: `Bearer ${token}` };
          const fetchJson = (p) => fetch(p, { headers }).then((r) => r.json());
          await mountRegister(box, fetchJson).refresh();
          return box.querySelectorAll("li[data-inside]").length;
        }"""
    )
    assert count == 1
    page.evaluate("sessionStorage.clear()")
    page.goto(f"{server.url}/gate")
    page.locator("#secret").fill(server.token("T1"))
    page.locator("#signin button").click()
    expect(page.locator("#error")).to_contain_text("teacher")
