"""Free text that may enter the ledger: names, reasons, ids, as people typed them.

A ledger keeps text for years and hands it to PostgreSQL, spreadsheets and screens,
so text is refused when it holds a control character (NUL, escape, line breaks and
the other C0/C1 codes), an unpaired surrogate, or a bidirectional override (which
would show a name backwards). The same rule holds where text is typed (the HTTP API,
``Clean``) and where a synced event arrives (edge.sync.schema).
"""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def problem(text: str) -> str | None:
    """Return why ``text`` may not enter the ledger, or None when it may."""
    for place, char in enumerate(text):
        if char in _BIDI or unicodedata.category(char) in ("Cc", "Cs"):
            return f"holds a control character (U+{ord(char):04X}) at position {place + 1}"
    return None


def check(text: str) -> str:
    """Return ``text`` unchanged, or raise ValueError saying what is wrong with it."""
    wrong = problem(text)
    if wrong is not None:
        raise ValueError(f"{wrong}: type it again without it")
    return text


# A pydantic field type for typed-in text: ``reason: Clean = Field(max_length=200)``.
Clean = Annotated[str, AfterValidator(check)]
