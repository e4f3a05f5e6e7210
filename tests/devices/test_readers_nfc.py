"""The nfcpy driver, read through the real nfcpy stack from tags on its UDP frontend."""

from __future__ import annotations

import time
from collections.abc import Callable

from edge.devices.contactless import ContactlessReader
from edge.node import Node
from tests.emulated_tags import TagInField
from tests.roster_files import CARD
from tests.servers import free_udp_port, wait_for


def events(node: Node) -> list[tuple[str, str | None, str]]:
    return [(e.kind, e.subject_id, e.uid or "") for e in node.ledger.events_after(0, 1000)]


def test_4_and_7_byte_tags_become_taps(make_node: Callable[..., Node]) -> None:
    port = free_udp_port()
    node = make_node(simulate=False, readers=[f"K1=nfc:udp:127.0.0.1:{port}"])
    reader = node.readers["K1"]
    assert isinstance(reader, ContactlessReader)
    wait_for(lambda: reader.health.connected)

    TagInField(port, CARD["S1"]).start(1.5).join()  # MIFARE Classic, 4-byte UID
    wait_for(lambda: len(events(node)) == 1)
    time.sleep(1.2)  # the reader sees the empty field (UDP sensing waits 1 s)
    TagInField(port, CARD["T1"]).start(1.5).join()  # NTAG, 7-byte UID
    wait_for(lambda: len(events(node)) == 2)
    assert events(node) == [
        ("signed_in", "S1", "04A1A1A1"),
        ("custody_taken", "T1", "04112233445566"),
    ]
    assert reader.health.reads == 2
    assert reader.health.extra["read_ms"] < 100


def test_a_card_left_on_the_reader_is_one_tap(make_node: Callable[..., Node]) -> None:
    port = free_udp_port()
    node = make_node(simulate=False, readers=[f"K1=nfc:udp:127.0.0.1:{port}"])
    wait_for(lambda: node.readers["K1"].health.connected)
    TagInField(port, CARD["S2"]).start(3.0).join()  # sensed some 50 times
    time.sleep(0.3)
    assert [e[1] for e in events(node)] == ["S2"]


def test_a_card_enrolled_as_printed_decimal_is_recognized_read_as_hex(
    make_node: Callable[..., Node],
) -> None:
    # P1 is enrolled as 0723140494, the number printed on the card; nfcpy reads 8E3F1A2B.
    port = free_udp_port()
    node = make_node(simulate=False, readers=[f"P1=nfc:udp:127.0.0.1:{port}"])
    wait_for(lambda: node.readers["P1"].health.connected)
    TagInField(port, "8E3F1A2B").start(1.5).join()
    wait_for(lambda: len(events(node)) == 1)
    assert events(node)[0][:2] == ("pickup_opened", "P1")


def test_a_slow_read_reinitializes_the_reader_and_reading_goes_on(
    make_node: Callable[..., Node],
) -> None:
    port = free_udp_port()
    node = make_node(simulate=False, readers=[f"K1=nfc:udp:127.0.0.1:{port}"])
    reader = node.readers["K1"]
    assert isinstance(reader, ContactlessReader)
    reader.slow_read = 0.0  # every read counts as degraded: the PN532 after a day idle
    reader.backoff.first = 0.05
    wait_for(lambda: reader.health.connected)
    TagInField(port, CARD["S1"]).start(1.5).join()
    wait_for(lambda: reader.health.extra["reinits"] >= 1)
    wait_for(lambda: reader.health.connected)
    time.sleep(1.2)
    TagInField(port, CARD["S2"]).start(1.5).join()
    wait_for(lambda: {e[1] for e in events(node)} == {"S1", "S2"})
    assert reader.health.reconnects >= 1


def test_a_missing_usb_reader_is_offline_and_retried_the_service_runs_on(
    make_node: Callable[..., Node],
) -> None:
    node = make_node(simulate=True, readers=["K1=nfc:usb:ffff:ffff"])
    reader = node.readers["K1"]
    assert isinstance(reader, ContactlessReader)
    reader.backoff.first = 0.05
    wait_for(lambda: reader.health.errors >= 2)
    assert not reader.health.connected
    assert "no reader at usb:ffff:ffff" in (reader.health.last_error or "")
    # Other stations keep working meanwhile.
    result = node.simulated("K2").present(CARD["S5"]).result(timeout=5)  # type: ignore[union-attr]
    assert result.event.kind == "signed_in"


def test_the_station_screen_learns_its_reader_is_offline(make_node: Callable[..., Node]) -> None:
    import httpx

    from tests.servers import LiveServer

    node = make_node(simulate=False, readers=["K1=nfc:usb:ffff:ffff", "K2=warp:drive"])
    wait_for(lambda: node.readers["K1"].health.errors >= 1)
    with LiveServer(node) as live, httpx.Client(base_url=live.url) as client:
        k1 = client.get("/api/v1/stations/K1").json()
        assert k1["name"] == "101教室"
        assert k1["group"] == {
            "group_id": "G1",
            "name": "一年级看护组",
            "room": "101",
            "present": 0,
            "expected": 4,
            "custodian": None,
            "plans": [],  # no dismissal plan set for anyone today
        }
        assert k1["reader"]["connected"] is False
        assert "no reader at usb:ffff:ffff" in k1["reader"]["last_error"]
        k2 = client.get("/api/v1/stations/K2").json()
        assert k2["reader"]["driver"] == "unavailable"
        assert "unknown reader family 'warp'" in k2["reader"]["last_error"]
        health = client.get("/healthz").json()
        assert health["readers"]["K1"]["connected"] is False
        assert "13800000001" not in client.get("/api/v1/stations/P1").text
        assert client.get("/api/v1/stations/NOPE").status_code == 404
