"""Keyboard-wedge readers: recorded evdev streams through the live driver's assembler."""

from __future__ import annotations

from collections.abc import Callable

from edge.devices.wedge import KeyAssembler, WedgeReader
from edge.node import Node
from tests.servers import wait_for

EV_SYN, EV_KEY, EV_MSC = 0, 1, 4
CODES = {"1": 2, "2": 3, "3": 4, "4": 5, "5": 6, "6": 7, "7": 8, "8": 9, "9": 10, "0": 11,
         "A": 30, "B": 48, "C": 46, "D": 32, "E": 18, "F": 33}  # fmt: skip
ENTER, LEFTSHIFT = 28, 42

# What `evtest` printed for a cheap 125 kHz wedge reader typing "0001193046" + Enter
# (USB HID scan codes as EV_MSC, key down, SYN, key up, SYN; 8 ms per key).
RECORDED = []
_t = 1700000000.0
for _ch in "0001193046":
    _code = CODES[_ch]
    RECORDED += [(EV_MSC, 4, 0x70027 if _ch == "0" else 0x7001D + int(_ch), _t),
                 (EV_KEY, _code, 1, _t), (EV_SYN, 0, 0, _t),
                 (EV_KEY, _code, 0, _t + 0.004), (EV_SYN, 0, 0, _t + 0.004)]  # fmt: skip
    _t += 0.008
RECORDED += [(EV_KEY, ENTER, 1, _t), (EV_SYN, 0, 0, _t), (EV_KEY, ENTER, 0, _t + 0.004)]


def typed(text: str, start: float = 0.0, step: float = 0.008, shift_letters: bool = False):
    events, t = [], start
    for ch in text:
        if shift_letters and ch.isalpha():
            events += [(EV_KEY, LEFTSHIFT, 1, t), (EV_KEY, CODES[ch], 1, t),
                       (EV_KEY, CODES[ch], 0, t), (EV_KEY, LEFTSHIFT, 0, t)]  # fmt: skip
        else:
            events += [(EV_KEY, CODES[ch], 1, t), (EV_KEY, CODES[ch], 0, t + step / 2)]
        t += step
    return [*events, (EV_KEY, ENTER, 1, t), (EV_KEY, ENTER, 0, t)]


def test_a_recorded_read_gives_the_printed_number() -> None:
    assert list(KeyAssembler().feed_all(RECORDED)) == ["0001193046"]


def test_shifted_hex_and_keypad_digits() -> None:
    assert list(KeyAssembler().feed_all(typed("8E3F1A2B", shift_letters=True))) == ["8E3F1A2B"]
    keypad = [(EV_KEY, 82, 1, 0.0), (EV_KEY, 79, 1, 0.01), (EV_KEY, 96, 1, 0.02)]
    assert list(KeyAssembler().feed_all(keypad)) == ["01"]


def test_interleaved_presses_and_auto_repeat() -> None:
    # Fast readers press the next key before releasing the last; a held key repeats (2).
    events = [(EV_KEY, CODES["4"], 1, 0.0), (EV_KEY, CODES["2"], 1, 0.001),
              (EV_KEY, CODES["4"], 0, 0.002), (EV_KEY, CODES["2"], 2, 0.003),
              (EV_KEY, CODES["2"], 0, 0.004), (EV_KEY, ENTER, 1, 0.005)]  # fmt: skip
    assert list(KeyAssembler().feed_all(events)) == ["42"]


def test_a_half_typed_number_is_dropped_after_a_pause_and_stray_keys_reset() -> None:
    assembler = KeyAssembler(gap=1.0)
    events = typed("12345", 0.0)[:-2] + typed("0723140494", 5.0)
    assert list(assembler.feed_all(events)) == ["0723140494"]
    assert assembler.dropped == 1
    stray = [(EV_KEY, 57, 1, 10.0)] + typed("99", 10.01)  # KEY_SPACE, then a clean read
    assert list(assembler.feed_all(stray)) == ["99"]
    assert list(assembler.feed_all([(EV_KEY, ENTER, 1, 20.0)])) == []  # Enter alone: nothing


def test_wedge_reads_reach_the_ledger_through_the_driver(make_node: Callable[..., Node]) -> None:
    node = make_node(simulate=False, readers=["K1=hid:/dev/input/by-id/no-such-reader"])
    reader = node.readers["K1"]
    assert isinstance(reader, WedgeReader)
    reader.backoff.first = 0.05
    wait_for(lambda: reader.health.errors >= 1)  # not plugged in: offline, retried
    assert not reader.health.connected
    assert "no-such-reader" in (reader.health.last_error or "")
    # The same assembler the live loop runs, fed a recording, delivering like the loop.
    s1_printed = f"{int.from_bytes(bytes.fromhex('04A1A1A1'), 'little'):010d}"
    for number in reader.assembler.feed_all(typed(s1_printed)):
        reader._sink = node._sink_for("K1")
        assert reader.deliver(number, "auto")
    wait_for(lambda: node.ledger.count_events() == 1)
    event = node.ledger.events_after(0, 1)[0]
    assert (event.kind, event.subject_id, event.uid) == ("signed_in", "S1", s1_printed)
