"""The duty log after an attack: a child signed in after the service end is an open item
for the next day; a card alone (no PIN) writes no note."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import httpx

from edge.node import Node
from edge.school import auth
from tests.reports.test_duty import campus, log_of, table, tap  # noqa: F401 - its fixture
from tests.roster_files import CARD, TODAY
from tests.servers import LiveServer
from tests.services import Service


def test_a_child_signed_in_after_the_service_end_is_the_next_days_open_item(
    campus: Service,  # noqa: F811 - the fixture imported above
) -> None:
    assert tap(campus, "K1", CARD["S3"], "18:40")["outcome"] == "accepted"
    late = table(log_of(campus, TODAY), "late")
    assert [row for row in late if row["student"] == "小刚"], late
    following = log_of(campus, TODAY + dt.timedelta(days=1))
    assert any(item["who"] == "小刚" for item in following["open_items"]), following


def test_a_card_alone_writes_no_note(make_node: Callable[..., Node]) -> None:
    node = make_node()
    with LiveServer(node) as live:
        view = auth.issue(node.secret, "L1", "duty_leader", node.clock.now(), 12, scope="view")
        reply = httpx.post(f"{live.url}/api/v1/duty/notes", json={"text": "只刷卡未输PIN"},
                           headers={"Authorization": f"Bearer {view}"}, timeout=10)  # fmt: skip
        assert reply.status_code == 403, reply.text
        assert "PIN" in reply.json()["detail"]
