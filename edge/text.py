"""Free text that may enter the ledger: names, reasons, ids, as people typed them.

A ledger keeps text for years and hands it to PostgreSQL, spreadsheets and screens,
so text is refused when it holds a control character (NUL, escape, line breaks and
the other C0/C1 codes), an unpaired surrogate, or a bidirectional override (which
would show a name backwards). The same rule holds where text is typed (the HTTP API,
``Clean``) and where a synced event arrives (edge.school.schema).
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator

# Unicode's control characters (category Cc: U+0000-001F, U+007F-009F), surrogates
# (Cs) and the bidirectional overrides and isolates, as one pattern: it runs on every
# text of every event written or received, so it is a regex, not a loop in Python.
_REFUSED = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")


def problem(text: str) -> str | None:
    """Return why ``text`` may not enter the ledger, or None when it may."""
    if text and not text.strip():
        return "is blank (spaces only)"
    found = _REFUSED.search(text)
    if found is None:
        return None
    return f"holds a control character (U+{ord(found.group()):04X}) at position {found.start() + 1}"


def check(text: str) -> str:
    """Return ``text`` unchanged, or raise ValueError saying what is wrong with it."""
    wrong = problem(text)
    if wrong is not None:
        raise ValueError(f"{wrong}: type it again without it")
    return text


# A pydantic field type for typed-in text: ``reason: Clean = Field(max_length=200)``.
Clean = Annotated[str, AfterValidator(check)]
