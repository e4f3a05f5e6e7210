"""Every printed form of a card names the same card (CONTRACT.md, Roster bundle)."""

from __future__ import annotations

import pytest

from edge.cards import CardNumberError, normalize


@pytest.mark.parametrize(
    ("raw", "byte_order", "key"),
    [
        ("8E3F1A2B", "little", "0723140494"),  # CONTRACT.md's example, nfcpy hex
        ("0723140494", "little", "0723140494"),  # the same card typed by a wedge reader
        ("723140494", "little", "0723140494"),  # a spreadsheet dropped the leading zero
        ("8e:3f:1a:2b", "little", "0723140494"),  # lower case with separators
        ("8E3F1A2B", "big", "2386500139"),  # a school whose wedge readers read big-endian
        ("0A00123456", "little", "0001193046"),  # EM4100 from a serial module
        ("0001193046", "little", "0001193046"),  # the number printed on that fob
        ("0x0100123456", "little", "0001193046"),  # EM4100 id without letters, forced hex
        ("04A2B3C4D5E6F7", "little", "04A2B3C4D5E6F7"),  # 7-byte UID keeps its hex
    ],
)
def test_every_form_normalizes_to_the_printed_key(raw: str, byte_order: str, key: str) -> None:
    assert normalize(raw, byte_order=byte_order) == key  # type: ignore[arg-type]


def test_a_card_enrolled_as_decimal_is_the_card_read_as_hex() -> None:
    enrolled = normalize("0723140494")
    assert normalize("8E3F1A2B", form="hex") == enrolled
    assert normalize("0723140494", form="decimal") == normalize("8E3F1A2B")


def test_a_driver_that_knows_it_reads_hex_is_not_mistaken_for_decimal() -> None:
    # An all-digit EM4100 id from an RDM6300 is hex; auto-detection would call it decimal.
    assert normalize("0100123456", form="hex") == "0001193046"
    assert normalize("0100123456") == "0100123456"


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", "empty"),
        ("ZZ", "neither hex"),
        ("04A2B3", "6 hex digits"),
        ("12345678901", "11 digits"),
        ("9999999999", "larger than any 4-byte"),
        ("12.5", "neither hex"),
    ],
)
def test_a_non_card_is_refused_with_what_is_wrong(raw: str, words: str) -> None:
    with pytest.raises(CardNumberError, match=words):
        normalize(raw)
