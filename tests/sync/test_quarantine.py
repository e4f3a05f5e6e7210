"""What a hub keeps of refused batches: enough for the engineer, never a full SD card.

A holder of a kiosk's token (and its key) can push a refused batch of up to 8 MB again
and again. Every refusal is counted and shown with its reason; only a device's first
BODIES_KEPT batches are kept whole.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from edge.node import Node
from edge.store.meta import BODIES_KEPT, REASONS, SHOWN
from tests.roster_files import CARD
from tests.servers import LiveServer
from tests.sync.test_sync_checks import forge, quarantine_of
from tests.sync.test_sync_protocol import enroll, push, taps


def test_refused_batches_pushed_again_and_again_keep_no_more_bodies(
    make_node: Callable[..., Node],
) -> None:
    hub = LiveServer(make_node())
    kiosk = make_node()
    name = kiosk.ledger.node_id
    token = enroll(hub.node, kiosk)
    own = taps(kiosk, CARD["S1"])
    refusals = BODIES_KEPT + 5
    with hub, httpx.Client(base_url=hub.url, timeout=10) as client:
        for n in range(refusals):
            bad = forge(own[-1], hlc=2**63 - 1 - n)  # refused by the schema, signed all right
            assert push(client, token, [*own, bad], by=kiosk).status_code == 422
        shown = quarantine_of(client, hub, name)
        assert shown["quarantined"] == refusals  # every refusal counts
        assert len(shown["quarantine_reasons"]) == REASONS
        leader = {"authorization": f"Bearer {hub.token('L1')}"}
        listed = client.get("/api/v1/sync/status", headers=leader).json()["quarantined"]
        assert len(listed) == min(refusals, SHOWN)
        assert listed[0]["id"] > listed[-1]["id"]  # newest first
    bodies = (
        hub.node.ledger.reader()
        .execute("SELECT count(*), sum(body != '') FROM quarantine WHERE device = ?", (name,))
        .fetchone()
    )
    assert tuple(bodies) == (refusals, BODIES_KEPT)
