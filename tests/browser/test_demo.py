"""The demo's screens through its afternoon: the dashboard and two kiosks, photographed.

Screenshots land in test-artifacts/ (not committed): demo-HHMM-dashboard.png,
demo-HHMM-classroom.png and demo-HHMM-pickup.png at three moments of the afternoon.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import httpx
from playwright.sync_api import Browser, expect

from tests.demo_process import DemoProcess

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_the_demo_screens_move_with_its_afternoon(tmp_path: Path, browser: Browser) -> None:
    shown = DemoProcess(tmp_path / "demo", "--speed", "900", "--students", "80")
    try:
        tablet = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
        kiosk = browser.new_context(viewport={"width": 1024, "height": 600}, locale="zh-CN")
        board, classroom, pickup = tablet.new_page(), kiosk.new_page(), kiosk.new_page()
        board.goto(f"{shown.url}/dashboard")
        board.locator("#secret").fill(shown.leader)
        board.locator("#signin button").click()
        present = board.locator('[data-state="present"] b')
        expect(present).to_be_visible()
        classroom.goto(f"{shown.url}/kiosk/K-1A")
        pickup.goto(f"{shown.url}/kiosk/P-EAST")
        expect(pickup.locator("#title")).to_have_text("东门接送点")
        expect(pickup.locator("#nocard")).to_be_visible()  # the guard's desk: release by hand
        expect(classroom.locator("#nocard")).to_be_hidden()  # not at a classroom door
        expect(board.locator("body")).to_contain_text("18:00")  # the service end, school time
        ARTIFACTS.mkdir(exist_ok=True)
        counts, shown_present = {}, {}
        for moment in ("16:05", "17:10", "18:10"):
            now = shown.wait_until(moment)
            assert now.strftime("%H:%M") < "18:30"  # the node says the demo's time
            picture = shown.get("/api/v1/presence").json()
            counts[moment] = picture["counts"]
            for name, page in (("dashboard", board), ("classroom", classroom), ("pickup", pickup)):
                page.screenshot(path=str(ARTIFACTS / f"demo-{moment.replace(':', '')}-{name}.png"))
            shown_present[moment] = int(present.inner_text())
        assert counts["16:05"]["present"] > counts["17:10"]["present"] > 0
        assert shown_present["16:05"] > counts["16:05"]["present"] // 2  # it had loaded
        # The dashboard moves with the afternoon (it may lag its server a tap or two).
        expect(present).not_to_have_text(str(shown_present["16:05"]))
        assert counts["16:05"]["released"] < counts["17:10"]["released"]
        assert counts["18:10"]["overdue"] > 0  # the late pickups, still here
        # The tap screen says the class as people say it, from a roster's bare number.
        child = next(r for r in read_students(shown) if r["grade"] == "1")
        assert child["class"].isdigit()  # the roster says "2" beside grade 1
        tap = {"station": "K-1A", "uid": child["card_uid"]}
        assert httpx.post(f"{shown.url}/api/v1/sim/taps", json=tap).status_code == 200
        expect(classroom.locator("#who")).to_have_text(
            f"{child['name']} · 一年级{child['class']}班"
        )
        labels = classroom.evaluate(
            """async () => {
              const { classLabel } = await import("/ui/i18n.js");
              return [classLabel(1, "4"), classLabel("5", "五年级3班"), classLabel(null, "2")];
            }"""
        )
        assert labels == ["一年级4班", "五年级3班", "2班"]
        classroom.locator("#lang").click()
        expect(classroom.locator("#who")).to_have_text(
            re.compile(rf"{child['name']} · Grade 1 Class {child['class']}$")
        )
        tablet.close()
        kiosk.close()
    finally:
        shown.stop()


def read_students(shown: DemoProcess) -> list[dict[str, str]]:
    with open(shown.data_dir / "roster" / "students.csv", encoding="utf-8") as rows:
        return list(csv.DictReader(rows))
