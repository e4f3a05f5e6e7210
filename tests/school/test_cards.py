"""Every printed form of a card names the same card (CONTRACT.md, Roster bundle)."""

from __future__ import annotations

import pytest

from edge.school.cards import CardNumberError, normalize, roster_cell


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


# The table of cards.py: (cell, kind, card_form) -> the cell as stored, or None: refused.
CELLS = [
    ("1234567", "text", "", None),
    ("1234567", "number", "", None),
    ("1234567", "csv", "", None),
    ("1234567", "csv", "decimal", "0001234567"),
    ("1234567", "number", "hex", "0x01234567"),
    ("12345678", "text", "", "12345678"),
    ("12345678", "text", "decimal", "0012345678"),
    ("12345678", "number", "", None),
    ("12345678", "csv", "", "12345678"),  # CONTRACT.md: a CSV's 8 digits are hex
    ("12345678", "csv", "hex", "12345678"),
    ("723140494", "number", "", "723140494"),
    ("723140494", "csv", "hex", "723140494"),
    ("0723140494", "csv", "hex", "0723140494"),
    ("4112233445566", "number", "", None),
    ("4112233445566", "number", "hex", "0x04112233445566"),
    ("12345678901234", "number", "", "12345678901234"),
    ("12345678901234567890", "number", "hex", None),
    ("12345678901234567890", "csv", "", "12345678901234567890"),
    ("8E3F1A2B", "csv", "decimal", "8E3F1A2B"),
    ("0x12345678", "csv", "", "0x12345678"),
    ("-12345678", "number", "hex", None),
]


@pytest.mark.parametrize(("cell", "kind", "form", "stored"), CELLS)
def test_a_roster_cell_reads_one_way_or_is_refused(
    cell: str, kind: str, form: str, stored: str | None
) -> None:
    if stored is None:
        with pytest.raises(CardNumberError):
            roster_cell(cell, kind, form)  # type: ignore[arg-type]
        return
    assert roster_cell(cell, kind, form) == stored  # type: ignore[arg-type]
    normalize(stored)  # what is stored is a card number the roster can enrol
