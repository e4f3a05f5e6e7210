"""Whatever a kiosk's token holder pushes at a hub, the hub goes on and agrees with it.

Hypothesis builds events, most of them near what a kiosk writes (real kinds, codes,
students, times, stamps) with one thing wrong or odd, some of them anything at all,
each chained and hashed so it reaches the hub's checks rather than the chain's. After
every push: the hub answers a normal tap with 200, its presence and adult search
answer, and after the kiosk has taken what the hub stored (its own accepted events,
the hub's by pulling) both nodes show the same picture of the day.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import string
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edge.actions import desk as pickup_api
from edge.clock import to_millis
from edge.node import Node
from edge.school import proof
from edge.school.events import Event
from edge.sync.client import SyncClient
from tests.roster_files import CARD, TODAY
from tests.servers import LiveServer, local

BASE = local("15:30")
NAMES = st.sampled_from(["S1", "S2", "S3", "S4", "S5", "T1", "A1", "P1", "G1", "K1", "P2"])
TEXT = st.one_of(NAMES, st.text(max_size=12), st.text(string.printable, max_size=70))
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
KINDS = ["signed_in", "custody_taken", "pickup_opened", "released", "left_alone",
         "staff_on_duty", "refused", "handover_offered", "corrected", "action", "unknown_card",
         "debounced"]  # fmt: skip
CODES = ["signed_in", "released", "pickup_opened", "custody_taken", "corrected",
         "delegate_granted", "delegate_revoked", "pickup_code_issued", "pass_issued",
         "pass_revoked", "plan_set", "staff_signed_in"]  # fmt: skip
DATA = {
    "group_id": NAMES, "grant_id": TEXT, "student_id": NAMES, "name": TEXT,
    "phone": TEXT, "from": st.just(TODAY.isoformat()), "to": st.just(TODAY.isoformat()),
    "corrects": TEXT, "reason": TEXT, "corrected_kind": st.sampled_from(["signed_in", "x"]),
    "code": st.text("0123456789", min_size=8, max_size=8), "day": st.just(TODAY.isoformat()),
    "adult_kind": st.sampled_from(["guardian", "delegate"]), "adult_id": NAMES,
    "pass_id": TEXT, "date": st.just(TODAY.isoformat()), "mode": st.just("guardian"),
    "guardian_id": NAMES, "only": st.lists(NAMES, max_size=2), "present": st.lists(NAMES),
    "head_count": st.integers(-(2**63), 2**63 - 1), "manual": st.booleans(), "proof": JSON,
}  # fmt: skip


@st.composite
def bodies(draw: st.DrawFn) -> dict[str, Any]:
    """Draw the content of one event: mostly plausible, with odd or hostile parts."""
    at = draw(st.one_of(
        st.integers(-600, 600).map(lambda s: BASE + dt.timedelta(seconds=s)),
        st.datetimes(timezones=st.just(dt.UTC)).filter(lambda t: 2000 <= t.year <= 2100),
    ))  # fmt: skip
    hlc = draw(st.one_of(
        st.integers(0, 5000).map(lambda n: (to_millis(at) << 16) + n),
        st.integers(0, 2**63 - 1),
    ))  # fmt: skip
    keys = draw(st.lists(st.sampled_from(sorted(DATA)), max_size=8, unique=True))
    data = {k: draw(DATA[k]) for k in keys} if draw(st.booleans()) else draw(
        st.dictionaries(TEXT, JSON, max_size=5))  # fmt: skip
    return {
        "kind": draw(st.sampled_from(KINDS) | TEXT),
        "outcome": draw(st.sampled_from(["accepted", "denied", "ignored"]) | TEXT),
        "code": draw(st.sampled_from(CODES) | TEXT),
        "at": at,
        "day": draw(st.just(at.astimezone(BASE.tzinfo).date()) | st.dates()),
        "hlc": hlc,
        "station": draw(st.sampled_from(["K1", "K2", "P1", "api"]) | TEXT.filter(bool)),
        "subject_kind": draw(st.sampled_from(["student", "staff", "guardian", None]) | TEXT),
        "subject_id": draw(st.none() | NAMES | TEXT),
        "card": draw(st.none() | TEXT),
        "roster_version": draw(st.sampled_from([1, 0, 2**31, 2**62])),
        "data": data,
    }


def next_event(head: Event, body: dict[str, Any]) -> Event:
    """Return the event after ``head`` in its chain, holding ``body``, hashed."""
    event = dataclasses.replace(head, seq=head.seq + 1, prev_hash=head.stored_hash or "",
                                uid=None, rowid=None, **body)  # fmt: skip
    return dataclasses.replace(event, stored_hash=event.content_hash())


def picture(states: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    return {s["student_id"]: (s["state"], s.get("group_id")) for s in states}


def test_no_pushed_event_stops_a_hub_or_splits_it_from_its_kiosk(
    make_node: Callable[..., Node], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The adult search is asked after every push (the fold of a bad event must not
    # break it): 300 in a few seconds, far past a screen's 20 a minute.
    monkeypatch.setattr(pickup_api, "SEARCHES", (10_000, 60.0))
    hub = LiveServer(make_node())
    kiosk = LiveServer(make_node())
    name = kiosk.node.ledger.node_id
    token = hub.node.ledger.add_device(name)
    kiosk.node.writer.submit_nowait(kiosk.node.writer.make_tap("K1", CARD["S1"], BASE)).result()
    cards = [CARD[s] for s in ("S1", "S2", "S3", "S5")]
    outcomes: dict[int, int] = {}
    with hub, kiosk, httpx.Client(base_url=hub.url, timeout=10) as at_hub:
        sync = SyncClient(kiosk.node, hub.url, token)
        assert sync.run_once() is False  # hello (its key bound), its first tap pushed
        key = proof.load_key(kiosk.node.settings.data_dir)  # the bodies go signed, as its own
        staff = {"authorization": f"Bearer {hub.token('L1')}"}
        kiosk_staff = {"authorization": f"Bearer {kiosk.token('L1')}"}

        @given(body=bodies())
        @settings(max_examples=300, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def push_one(body: dict[str, Any]) -> None:
            head = kiosk.node.ledger.events_after(0, 10**6, only_node=name)[-1]
            event = next_event(head, body)
            body = {"events": [event.to_wire()], "signature": proof.sign_push(key, [event])}
            reply = at_hub.post("/api/v1/sync/events", headers={"authorization": f"Bearer {token}"},
                                json=body)  # fmt: skip
            outcomes[reply.status_code] = outcomes.get(reply.status_code, 0) + 1
            assert reply.status_code in (200, 422), reply.text
            if reply.status_code == 200:  # the kiosk holds what the hub took from it
                kiosk.node.writer.ingest([event]).result(timeout=10)
            hub.node.clock.advance(seconds=11)  # type: ignore[attr-defined]
            card = cards[sum(outcomes.values()) % len(cards)]
            tap = at_hub.post("/api/v1/sim/taps", json={"station": "K1", "uid": card})
            assert tap.status_code == 200, tap.text
            assert tap.json()["outcome"] == "accepted", tap.text
            assert (
                at_hub.get("/api/v1/stations/P1/adults", params={"q": "王妈妈"}).status_code == 200
            )
            sync.run_once()  # the kiosk pulls the hub's taps
            assert sync.status.last_error is None
            day = {"date": TODAY.isoformat()}
            there = at_hub.get("/api/v1/presence", headers=staff, params=day)
            here = httpx.get(f"{kiosk.url}/api/v1/presence", headers=kiosk_staff, params=day)
            assert there.status_code == here.status_code == 200
            assert picture(there.json()["students"]) == picture(here.json()["students"])

        push_one()
        sync.stop()
    assert outcomes.get(422, 0) > 10, outcomes  # the checks were reached, not only passed
    assert outcomes.get(200, 0) > 0, outcomes  # and bodies the hub took, held by both
    print(f"pushed at the hub: {outcomes}")
