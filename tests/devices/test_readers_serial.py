"""Serial card modules: frames through a pseudo-terminal pair, noise, unplug and replug."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import reduce
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.devices.uart import LineParser, Rdm6300Parser, SerialReader, parse_spec
from edge.node import Node
from tests.servers import wait_for


def frame(em_id: str, checksum: int | None = None) -> bytes:
    """An RDM6300 frame: STX, 10 hex digits, 2 hex digits of XOR checksum, ETX."""
    data = bytes.fromhex(em_id)
    xor = reduce(lambda a, b: a ^ b, data) if checksum is None else checksum
    return b"\x02" + em_id.encode() + f"{xor:02X}".encode() + b"\x03"


P3 = "0A00123456"  # the barred father's EM4100 fob (guardians.csv: 0A00123456)


def test_a_frame_gives_its_em4100_id() -> None:
    parser = Rdm6300Parser()
    assert parser.feed(frame(P3)) == [P3]
    assert parser.counters.frames == 1


def test_noise_bad_checksums_and_split_frames() -> None:
    parser = Rdm6300Parser()
    stream = b"\xff\x00garbage" + frame(P3, checksum=0x00) + frame("0100ABCDEF")
    assert parser.feed(stream) == ["0100ABCDEF"]
    assert parser.counters.bad_checksum == 1
    assert parser.counters.noise_bytes == 9
    # A frame split across reads, and a frame cut short by a new STX.
    whole = frame(P3)
    assert parser.feed(whole[:5]) == []
    assert parser.feed(whole[5:]) == [P3]
    assert parser.feed(b"\x020A0012" + whole) == [P3]
    assert parser.counters.bad_frame == 1
    assert parser.feed(b"\x02" + b"Z" * 12 + b"\x03") == []
    assert parser.counters.bad_frame == 2


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 400))
def test_garbage_never_crashes_and_never_invents_a_card(noise: bytes, cut: int) -> None:
    parser = Rdm6300Parser()
    cards = parser.feed(noise[:cut]) + parser.feed(noise[cut:])
    for card in cards:  # only checksummed frames come out, and they are in the noise
        assert frame(card) in noise
    # After any garbage, a good frame still comes through once the parser resyncs.
    assert parser.feed(b"\x03" + frame(P3)) == [P3]


def test_line_format() -> None:
    parser = LineParser()
    assert parser.feed(b"0723140494\r\n8E3F1A2B\n\n") == ["0723140494", "8E3F1A2B"]
    assert parser.feed(b"hello world\n" + b"9" * 40 + b"\n0723140494\n") == ["0723140494"]
    assert parser.counters.bad_frame == 1
    assert parser.counters.noise_bytes > 0


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("serial:/dev/ttyUSB0:rdm6300", ("/dev/ttyUSB0", "rdm6300", 9600)),
        ("serial:/dev/ttyAMA0", ("/dev/ttyAMA0", "rdm6300", 9600)),
        ("serial:/dev/ttyS1:lines@115200", ("/dev/ttyS1", "lines", 115200)),
    ],
)
def test_specs(spec: str, parsed: tuple[str, str, int]) -> None:
    assert parse_spec(spec) == parsed


class PtyModule:
    """A card module on the far end of a pty, reachable at a stable symlink."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.master = -1
        self.plug()

    def plug(self) -> None:
        self.master, slave = os.openpty()
        target = os.ttyname(slave)
        os.close(slave)
        tmp = self.link.with_suffix(".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(target)
        tmp.replace(self.link)

    def unplug(self) -> None:
        os.close(self.master)
        self.link.unlink()

    def send(self, data: bytes) -> float:
        os.write(self.master, data)
        return time.perf_counter()


def kinds(node: Node) -> list[tuple[str, str | None]]:
    return [(e.kind, e.subject_id) for e in node.ledger.events_after(0, 1000)]


def test_frames_through_a_pty_become_taps_and_survive_unplug(
    tmp_path: Path, make_node: Callable[..., Node]
) -> None:
    module = PtyModule(tmp_path / "ttyRFID")
    node = make_node(simulate=False, readers=[f"P1=serial:{module.link}:rdm6300"])
    reader = node.readers["P1"]
    assert isinstance(reader, SerialReader)
    reader.backoff.first = 0.05
    wait_for(lambda: reader.health.connected)

    # A card lying on the module: the frame repeats every 65 ms for a second; one tap.
    for _ in range(15):
        module.send(frame(P3))
        time.sleep(0.065)
    module.send(b"\x17noise\xfe" + frame(P3, checksum=0x42))
    wait_for(lambda: len(kinds(node)) == 1)
    assert kinds(node) == [("pickup_opened", "P3")]
    wait_for(lambda: reader.health.extra["frames"]["bad_checksum"] == 1)
    assert reader.health.extra["frames"]["frames"] == 15

    module.unplug()
    wait_for(lambda: not reader.health.connected)
    assert reader.health.last_error
    time.sleep(0.3)  # reopening fails meanwhile: the port is gone
    module.plug()
    wait_for(lambda: reader.health.connected)
    assert reader.health.reconnects >= 1
    module.send(frame("0100ABCDEF"))  # a fob nobody enrolled
    wait_for(lambda: len(kinds(node)) == 2)
    assert kinds(node)[1] == ("unknown_card", None)


def test_a_line_module_typing_printed_decimals(
    tmp_path: Path, make_node: Callable[..., Node]
) -> None:
    module = PtyModule(tmp_path / "ttyLines")
    node = make_node(simulate=False, readers=[f"K1=serial:{module.link}:lines"])
    wait_for(lambda: node.readers["K1"].health.connected)
    # S1's card is enrolled as nfcpy hex 04A1A1A1; this module prints its decimal.
    module.send(f"{int.from_bytes(bytes.fromhex('04A1A1A1'), 'little'):010d}\r\n".encode())
    wait_for(lambda: len(kinds(node)) == 1)
    assert kinds(node) == [("signed_in", "S1")]


class Heard:
    """A buzzer that writes down what it was told to play."""

    def __init__(self) -> None:
        self.signals: list[tuple[str, str | None]] = []

    def signal(self, outcome: str, alert: str | None = None) -> None:
        self.signals.append((outcome, alert))


def test_feedback_follows_the_durable_outcome(
    tmp_path: Path, make_node: Callable[..., Node]
) -> None:
    module = PtyModule(tmp_path / "ttyBeep")
    node = make_node(simulate=False, readers=[f"P1=serial:{module.link}:lines"])
    reader = node.readers["P1"]
    assert isinstance(reader, SerialReader)
    heard = Heard()
    reader.feedback = heard
    wait_for(lambda: reader.health.connected)
    module.send(b"0A00123456\r\n")  # the barred father's fob opens a pickup context
    wait_for(lambda: len(heard.signals) == 1)
    module.send(b"04A1A1A1\r\n")  # his son taps: refused, loudly
    wait_for(lambda: len(heard.signals) == 2)
    assert heard.signals == [("accepted", None), ("denied", "loud")]
    # Heard only once durable: each signal has its event in the ledger.
    assert [e.outcome for e in node.ledger.events_after(0, 10)] == ["accepted", "denied"]


def test_feedback_patterns() -> None:
    from edge.devices.feedback import pattern

    assert pattern("accepted", None) == (0.08,)
    assert pattern("denied", "alert") == (0.08, 0.08, 0.08)
    assert pattern("denied", "loud") == (1.2,)
    assert pattern("ignored", None) == ()
