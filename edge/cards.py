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

The functions here are pure and thread-safe.
"""

from __future__ import annotations

import re
from typing import Literal

ByteOrder = Literal["little", "big"]
Form = Literal["auto", "hex", "decimal"]

_SEPARATORS = re.compile(r"[\s:\-_]")
_HEX = re.compile(r"[0-9A-F]+")
_UID_HEX_LENGTHS = {8: "4-byte UID", 10: "EM4100 id", 14: "7-byte UID", 20: "10-byte UID"}


class CardNumberError(ValueError):
    """A string that is not a card number in any form a reader produces."""


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
