"""Card-number normalization: every form a reader or a roster uses maps to one key.

Readers report the same card in different forms:

- nfcpy and most USB/UART 13.56 MHz readers: the UID bytes as hex, in the order the
  card sends them (``8E3F1A2B`` for a 4-byte UID, ``04A2B3C4D5E6F7`` for 7 bytes);
- keyboard-wedge readers: ten decimal digits, usually the 4-byte UID read as a
  little-endian unsigned integer (``8E3F1A2B`` -> ``0723140494``), the number many
  cards also carry printed; some models read it big-endian, so the byte order is a
  school setting;
- 125 kHz modules (RDM6300 and friends): the 5-byte EM4100 id as ten hex digits
  (``0A00123456``); the number printed on those cards is its last four bytes read
  big-endian (``0001193046``), which is also what wedge readers type for them.

A wedge reader types only the printed decimal, so the canonical key of a 4-byte UID
or an EM4100 id *is* that ten-digit decimal: it is the one form every reader can
produce. Longer UIDs (7 and 10 bytes) have no common decimal form and keep their hex.

A roster cell is stricter than a reader (``roster_cell``): Excel drops the leading
zeros of a number, so the printed ``0012345678`` typed into a number cell becomes
``12345678``, which is also how nfcpy shows the hex UID of another physical card.
An all-digit cell that may be either is refused, never guessed; school.toml's
``card_form`` ("hex" or "decimal") says once which one such cells are:

=========== ================== ==================== ==========================
digits      .xlsx text cell    .xlsx number cell    CSV cell (no types)
=========== ================== ==================== ==========================
1-7         refused            refused              refused
8           hex UID            refused              hex UID (CONTRACT.md)
9, 10       printed decimal    printed decimal      printed decimal
11-13       refused            refused              refused
14, 20      hex UID            hex UID (14 only)    hex UID
=========== ================== ==================== ==========================

"refused" cells are read as ``card_form`` says when it is given (decimal: up to 10
digits, zeros restored; hex: zeros restored to the next UID length). Cells with a
letter A-F or a ``0x`` prefix are hex, and ten digits the printed decimal, whatever
``card_form`` says. A number cell of more than 15 digits is always refused: Excel
keeps only 15 digits of a number.

The functions here are pure and thread-safe.
"""

from __future__ import annotations

import re
from typing import Literal

ByteOrder = Literal["little", "big"]
Form = Literal["auto", "hex", "decimal"]
CellKind = Literal["csv", "text", "number"]  # a CSV cell, an .xlsx text or number cell

_SEPARATORS = re.compile(r"[\s:\-_]")
_HEX = re.compile(r"[0-9A-F]+")
_UID_HEX_LENGTHS = {8: "4-byte UID", 10: "EM4100 id", 14: "7-byte UID", 20: "10-byte UID"}


class CardNumberError(ValueError):
    """A string that is not a card number in any form a reader produces."""


class AmbiguousCardError(CardNumberError):
    """A roster cell that may name two different cards; the message says what to do."""


def normalize(raw: str, *, byte_order: ByteOrder = "little", form: Form = "auto") -> str:
    """Return the canonical key for a card number in any supported form.

    ``form`` lets a driver that knows what it reads say so ("hex" from nfcpy and
    serial modules, "decimal" from a wedge reader). With "auto" (roster files, the
    simulation endpoint) ten digits are the printed decimal, and hex may be forced
    with a ``0x`` prefix (an EM4100 id that happens to have no letters). Eight digits
    and no letters are read as a 4-byte hex UID, as nfcpy reports it.
    """
    text = _SEPARATORS.sub("", str(raw)).upper()
    if text.startswith("0X"):
        text, form = text[2:], "hex"
    if not text:
        raise CardNumberError("the card number is empty")
    if form == "auto":
        # Digits only: the printed decimal (a spreadsheet may have dropped leading
        # zeros), unless the length is one only a hex UID has (8, 14 or 20).
        form = "decimal" if _digits(text) and len(text) not in (8, 14, 20) else "hex"
    if form == "decimal":
        return _from_decimal(text)
    return _from_hex(text, byte_order)


def _digits(text: str) -> bool:
    # str.isdigit() is true of '²' and '٣' as well; a card number is ASCII 0-9.
    return text.isascii() and text.isdigit()


def _from_decimal(text: str) -> str:
    if not _digits(text):
        raise CardNumberError(f"'{text}' is not a decimal card number (digits only)")
    if len(text) > 10:
        raise CardNumberError(f"'{text}' has {len(text)} digits; printed card numbers have 10")
    value = int(text)
    if value > 0xFFFFFFFF:
        raise CardNumberError(f"'{text}' is larger than any 4-byte card number")
    return f"{value:010d}"


def _from_hex(text: str, byte_order: ByteOrder) -> str:
    if not _HEX.fullmatch(text):
        raise CardNumberError(f"'{text}' is neither hex (0-9, A-F) nor a 10-digit decimal")
    if len(text) not in _UID_HEX_LENGTHS:
        raise CardNumberError(
            f"'{text}' has {len(text)} hex digits; card UIDs have 8 (4 bytes), "
            "10 (EM4100), 14 (7 bytes) or 20 (10 bytes)"
        )
    data = bytes.fromhex(text)
    if len(data) == 4:
        return f"{int.from_bytes(data, byte_order):010d}"
    if len(data) == 5:
        # EM4100: the first byte is the version/customer code, not printed.
        return f"{int.from_bytes(data[1:], 'big'):010d}"
    return text


_AS_TEXT = (
    "In Excel, format the card_uid column as Text and type the number again as printed "
    "on the card or as the reader shows it"
)
_SAY_FORM = (
    "if every such number in the files is of one kind, say which in school.toml: "
    'card_form = "decimal" (the 10-digit numbers printed on cards) or card_form = "hex" '
    "(UIDs as a reader shows them)"
)


def roster_cell(raw: str, kind: CellKind, card_form: str = "") -> str:
    """Return a roster cell's card number written so it reads one way only, or raise.

    ``kind`` says where the cell came from (see the table above); ``card_form`` is
    school.toml's setting ("", "hex" or "decimal"). A cell that needs no choice is
    returned as it is; one that ``card_form`` decides comes back as the 10-digit
    decimal or as ``0x`` and the full hex, which ``normalize`` reads the same way.
    Raises AmbiguousCardError for a cell that may name two cards.
    """
    if kind == "number" and not _digits(raw):
        raise CardNumberError(f"{raw} is a number no card carries (a minus sign?)")
    text = _SEPARATORS.sub("", raw).upper()
    if not _digits(text):
        return raw  # a letter A-F or a 0x prefix: hex; anything else normalize refuses
    digits = len(text)
    if kind == "number" and digits > 15:
        raise AmbiguousCardError(
            f"card number {text} has {digits} digits, but Excel keeps only 15 digits of a "
            "number, so the card number is no longer the one typed. In Excel, format the "
            "card_uid column as Text and type the number again as the reader shows it."
        )
    if digits in (9, 10, 14, 20):
        return raw  # the printed decimal (zero restored), or a UID too long for it
    if digits == 8 and kind != "number" and card_form != "decimal":
        # A text cell keeps what was typed, and CONTRACT.md reads 8 digits in a CSV as
        # the reader's hex UID: only a number cell has certainly lost its zeros.
        return raw
    if card_form == "decimal" and digits < 10:
        return f"{int(text):010d}"
    if card_form == "hex":
        length = next(n for n in sorted(_UID_HEX_LENGTHS) if n >= digits)
        return "0x" + text.rjust(length, "0")
    if digits > 10:
        if kind == "number":
            raise AmbiguousCardError(
                f"card number {text} was a number in Excel, which drops leading zeros; "
                f"a 7-byte UID has 14 hex digits (was it {text.rjust(14, '0')}?). "
                f"{_AS_TEXT}; or, {_SAY_FORM}."
            )
        return raw  # normalize says what is wrong with it
    hex_uid, printed = text.rjust(8, "0"), text.rjust(10, "0")
    if kind == "number":
        raise AmbiguousCardError(
            f"card number {text} was a number in Excel, which drops leading zeros: it may be "
            f"the hex UID {hex_uid} or the printed number {printed}, two different cards. "
            f"{_AS_TEXT}; or, {_SAY_FORM}."
        )
    cause = "has 8 digits and no letter" if digits == 8 else f"has only {digits} digits"
    raise AmbiguousCardError(
        f"card number {text} {cause}: it may be the hex UID {hex_uid} or a printed number "
        f"that lost its leading zeros in Excel ({printed}), two different cards. Write "
        f"0x{hex_uid} for the hex UID or {printed} for the printed number (format the "
        f"column as Text first if you edit the file in Excel); or, {_SAY_FORM}."
    )
