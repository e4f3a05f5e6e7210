"""A child leaves only with authority that holds at the moment of their tap (issue 14).

Through a live node: a one-time code, a delegate or a pass opens a pickup context for
one child; between that and the child's tap the adult's authority may end (the roster
bars or removes them, the grant or pass is revoked). The release is then refused, with
an alert the guard cannot miss (tests/roster_files.py: P1 is S1's mother, P3 S1's
barred father, P2 S2's father).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from edge.clock import to_millis
from edge.school import roster as roster_mod
from edge.school.events import Event
from edge.school.pickup import PickupBook, fold_book
from tests import roster_files
from tests.http.test_pickup import staff, state_of, tap
from tests.roster_files import TODAY
from tests.servers import LiveServer, local

BARRED_P1 = roster_files.FILES["pickup.csv"].replace("S1,P1,母亲,1", "S1,P1,母亲,0")
WITHOUT_P1 = {
    "guardians.csv": roster_files.FILES["guardians.csv"].replace(
        "P1,王妈妈,13800000001,0723140494\n", ""
    ),
    "pickup.csv": roster_files.FILES["pickup.csv"]
    .replace("S1,P1,母亲,1\n", "")
    .replace("S4,P1,姨妈,1\n", ""),
}


@pytest.fixture
def live(server: LiveServer) -> Iterator[tuple[LiveServer, httpx.Client]]:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        yield server, client


def reimport(server: LiveServer, folder: Path, **files: str) -> None:
    """Swap the roster in, as `campus-edge roster import` does from another process."""
    version = server.node.ledger.roster_version() + 1
    bundle = roster_files.write(folder, **files)
    server.node.ledger.save_roster(roster_mod.load(bundle, version=version), "test")


# The roster swaps in while a code for P1 is out: P1 barred from S1, or P1 removed.
LOST_AUTHORITY = pytest.mark.parametrize(
    ("files", "refusal", "alert"),
    [
        ({"pickup.csv": BARRED_P1}, "barred_guardian", "loud"),
        (WITHOUT_P1, "unauthorized_pickup", "alert"),
    ],
    ids=["barred", "removed"],
)


def issue_code(server: LiveServer, client: httpx.Client, sid: str, kind: str, adult: str) -> str:
    body = {"student_id": sid, "adult_kind": kind, "adult_id": adult}
    issued = client.post("/api/v1/pickup-codes", headers=staff(server, "A1"), json=body)
    assert issued.status_code == 201, issued.text
    return str(issued.json()["code"])


def code_for_s1(server: LiveServer, client: httpx.Client) -> str:
    """Sign S1 in and issue a one-time code for their mother P1; return the code."""
    tap(client, "K1", "S1")
    return issue_code(server, client, "S1", "guardian", "P1")


def enter(client: httpx.Client, code: str) -> dict:
    reply = client.post("/api/v1/stations/P1/code", json={"code": code})
    assert reply.status_code == 200, reply.text
    return reply.json()


@LOST_AUTHORITY
def test_a_code_opened_before_the_roster_barred_its_adult_releases_no_one(
    live: tuple[LiveServer, httpx.Client], tmp_path: Path, files: dict, refusal: str, alert: str
) -> None:
    server, client = live
    code = code_for_s1(server, client)
    assert enter(client, code)["code"] == "pickup_opened"
    reimport(server, tmp_path / "v2", **files)  # the court order arrives meanwhile
    refused = tap(client, "P1", "S1")
    assert (refused["outcome"], refused["code"], refused.get("alert")) == ("denied", refusal, alert)
    assert state_of(client, server, "S1")["state"] == "present"


@LOST_AUTHORITY
def test_a_code_whose_adult_lost_authority_is_refused_when_entered(
    live: tuple[LiveServer, httpx.Client], tmp_path: Path, files: dict, refusal: str, alert: str
) -> None:
    server, client = live
    code = code_for_s1(server, client)
    reimport(server, tmp_path / "v2", **files)
    entered = enter(client, code)
    assert (entered["outcome"], entered["code"], entered.get("alert")) == ("denied", refusal, alert)
    assert "S1" in str(entered["subject"])  # the guard is told which child
    assert tap(client, "P1", "S1")["code"] == "needs_guardian"  # no context was opened


def test_a_delegate_revoked_after_their_code_was_entered_releases_no_one(
    live: tuple[LiveServer, httpx.Client],
) -> None:
    server, client = live
    tap(client, "K1", "S2")
    grant = client.post("/api/v1/delegates", headers=staff(server, "T1"), json={
        "student_id": "S2", "name": "张阿姨", "phone": "139 0000 1111"})  # fmt: skip
    grant_id = grant.json()["grant_id"]
    code = issue_code(server, client, "S2", "delegate", grant_id)
    assert enter(client, code)["code"] == "pickup_opened"
    revoked = client.delete(f"/api/v1/delegates/{grant_id}", headers=staff(server, "A1"))
    assert revoked.status_code == 200
    refused = tap(client, "P1", "S2")
    assert (refused["outcome"], refused["code"], refused.get("alert")) == (
        "denied", "delegate_expired", "alert")  # fmt: skip
    assert state_of(client, server, "S2")["state"] == "present"


def test_a_pass_revoked_after_it_was_scanned_releases_no_one(
    live: tuple[LiveServer, httpx.Client],
) -> None:
    server, client = live
    tap(client, "K1", "S1")
    issued = client.post("/api/v1/passes", headers=staff(server, "A1"), json={
        "student_id": "S1", "name": "外婆", "to": "2026-11-30"}).json()  # fmt: skip
    writer = server.node.writer
    opened = writer.submit_nowait(writer.make_tap("P1", issued["text"])).result(timeout=10)
    assert opened.event.code == "pickup_opened"
    gone = client.delete(f"/api/v1/passes/{issued['pass_id']}", headers=staff(server, "T1"))
    assert gone.status_code == 200
    refused = tap(client, "P1", "S1")
    assert (refused["outcome"], refused["code"], refused.get("alert")) == (
        "denied", "invalid_pass", "alert")  # fmt: skip
    assert "已撤销" in refused["message"]
    assert state_of(client, server, "S1")["state"] == "present"


# -- grants and revocations merge so that a revocation wins, whatever the clocks -------


def action(code: str, data: dict, hlc: int, node: str = "hub", seq: int = 1) -> Event:
    """An action event as a node records it, stamped ``hlc`` (its clock's say)."""
    at = local("16:00")
    event = Event(node, "e1", seq, hlc, at, TODAY, "api", "action", "accepted", code, None,
                  None, "staff", "A1", data, 1, True)  # fmt: skip
    return dataclasses.replace(event, stored_hash=event.content_hash())


GRANT = {"grant_id": "D1", "student_id": "S2", "name": "张阿姨", "phone": "13900001111",
         "from": TODAY.isoformat(), "to": TODAY.isoformat()}  # fmt: skip


def test_a_revocation_stamped_before_its_grant_still_wins() -> None:
    # The revoking kiosk's clock was behind the hub that granted: its stamp sorts first.
    grant = action("delegate_granted", GRANT, hlc=2_000, node="hub")
    revoke = action("delegate_revoked", {"grant_id": "D1"}, hlc=1_000, node="kiosk")
    assert fold_book([grant]).delegate("D1", TODAY) is not None  # the grant alone holds
    for order in ([grant, revoke], [revoke, grant]):
        book = fold_book(order)
        assert book.delegate("D1", TODAY) is None
        assert book.delegates_of("S2", TODAY) == []
        live = PickupBook()
        for event in order:  # applied as they arrive, whatever their keys
            live.apply(event)
        assert live.delegate("D1", TODAY) is None


def test_a_grant_id_seen_again_neither_returns_nor_extends() -> None:
    grant = action("delegate_granted", GRANT, hlc=1_000)
    revoke = action("delegate_revoked", {"grant_id": "D1"}, hlc=2_000, seq=2)
    longer = {**GRANT, "to": (TODAY + dt.timedelta(days=20)).isoformat()}
    again = action("delegate_granted", longer, hlc=3_000, seq=3)
    assert fold_book([grant]).delegate("D1", TODAY) is not None  # each grant alone holds
    assert fold_book([again]).delegate("D1", TODAY) is not None
    assert fold_book([grant, revoke, again]).delegate("D1", TODAY) is None
    # An expired grant stays expired: the same id with later dates is not a new grant.
    past = {**GRANT, "from": "2026-11-01", "to": "2026-11-02"}
    expired = fold_book([action("delegate_granted", past, 1_000),
                         action("delegate_granted", longer, 2_000, seq=2)])  # fmt: skip
    assert expired.delegate("D1", TODAY) is None


def test_a_code_once_issued_is_not_redirected_to_another_adult() -> None:
    code = {"code": "12345678", "day": TODAY.isoformat(), "student_id": "S1",
            "adult_kind": "guardian", "adult_id": "P1"}  # fmt: skip
    first = action("pickup_code_issued", code, hlc=1_000)
    other = action("pickup_code_issued", {**code, "adult_id": "P3"}, hlc=2_000, seq=2)
    for order in ([first, other], [other, first]):
        assert fold_book(order).codes[(TODAY, "12345678")].adult_id == "P1"


# -- nothing in a ledger can stop the node ------------------------------------------------


def rogue_chain(*bodies: tuple[str, str, str | None, dict]) -> list[Event]:
    """Events of a device gone wrong, each chained as a writer would chain them."""
    events, previous = [], ""
    for seq, (kind, code, station, data) in enumerate(bodies, start=1):
        at = local("15:35")
        event = Event("rogue", "e1", seq, to_millis(at) << 16, at, TODAY, station or "api", kind,
                      "accepted", code, None, None, "staff", "T1", data, 1, True,
                      previous)  # fmt: skip
        event = dataclasses.replace(event, stored_hash=event.content_hash())
        previous = event.stored_hash or ""
        events.append(event)
    return events


def test_an_event_the_fold_cannot_apply_is_skipped_and_flagged_not_fatal(
    live: tuple[LiveServer, httpx.Client],
) -> None:
    server, client = live
    node = server.node
    bad = rogue_chain(
        ("action", "delegate_granted", None, {"student_id": "S1", "name": "x"}),  # no grant_id
        ("action", "delegate_granted", None, {**GRANT, "grant_id": "D9", "to": "someday"}),
        (
            "action",
            "plan_set",
            None,
            {"student_id": "S1", "date": TODAY.isoformat(), "batch": 1700},
        ),  # fmt: skip
        ("action", "pickup_code_issued", None, {"code": 12345678, "day": TODAY.isoformat()}),
        ("custody_taken", "custody_taken", "K1", {}),  # no group_id
        ("pickup_opened", "pickup_opened", "P1", {"only": 5, "code": ["x"]}),
        ("corrected", "corrected", "K1", {"corrects": ["a", "b"]}),
        ("signed_in", "signed_in", "K1", {"group_id": {"G1": 1}}),
    )
    node.writer.call(lambda conn: node.ledger.insert_events(conn, bad)).result(timeout=10)
    node.projection.forget()  # as after a restart: everything is folded from the ledger
    assert tap(client, "K1", "S1")["outcome"] == "accepted"
    node.clock.advance(seconds=30)  # type: ignore[attr-defined]
    assert tap(client, "P1", "P1")["code"] == "pickup_opened"
    assert tap(client, "P1", "S1")["code"] == "released"
    found = client.get("/api/v1/stations/P1/adults", params={"q": "王妈妈"})
    assert found.status_code == 200, found.text
    leader = staff(server, "L1")
    assert client.get("/api/v1/presence", headers=leader).status_code == 200
    review = client.get("/api/v1/conflicts", headers=leader)
    assert review.status_code == 200, review.text
    shown = {u["id"]: u["reason"] for u in review.json()["unreadable"]}
    assert set(shown) == {e.event_id for e in bad}  # the duty leader sees what was skipped
    flagged = dict(node.projection.skipped(TODAY))
    assert set(flagged) == {e.event_id for e in bad}
    assert "grant_id" in flagged["rogue:e1:1"]
    assert all(isinstance(why, str) and why for why in flagged.values())


# -- the debounce measures real time, whatever the wall clock does -----------------------


def test_a_card_again_after_the_clock_stepped_back_is_still_debounced(
    live: tuple[LiveServer, httpx.Client],
) -> None:
    server, client = live
    clock = server.node.clock
    tap(client, "K1", "S1")
    clock.advance(seconds=30)  # type: ignore[attr-defined]
    tap(client, "P1", "P1")
    assert tap(client, "P1", "S1")["code"] == "released"
    clock.step(seconds=-30)  # type: ignore[attr-defined]  # NTP steps the wall clock back
    clock.advance(seconds=2)  # type: ignore[attr-defined]
    again = tap(client, "P1", "S1")
    assert (again["outcome"], again["code"]) == ("ignored", "debounced")
    # 10 s after its last (ignored) tap, the card counts again, wherever the wall clock is.
    clock.advance(seconds=10)  # type: ignore[attr-defined]
    assert tap(client, "P1", "S1")["outcome"] != "ignored"


def test_a_big_step_back_does_not_lock_a_card_out(live: tuple[LiveServer, httpx.Client]) -> None:
    server, client = live
    clock = server.node.clock
    assert tap(client, "K1", "S1")["code"] == "signed_in"
    clock.step(hours=-3)  # type: ignore[attr-defined]  # a kiosk hours ahead follows its hub
    clock.advance(seconds=11)  # type: ignore[attr-defined]
    assert tap(client, "K1", "S1")["code"] == "already_here"
    # Refolded from the ledger meanwhile (a synced event sorted before): still real time.
    server.node.projection.forget()
    clock.step(hours=-1)  # type: ignore[attr-defined]
    clock.advance(seconds=3)  # type: ignore[attr-defined]
    assert tap(client, "K1", "S1")["outcome"] == "ignored"
    clock.advance(seconds=10)  # type: ignore[attr-defined]
    assert tap(client, "K1", "S1")["code"] == "already_here"
