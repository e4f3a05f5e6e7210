"""A raw read (station, uid) checked into the Tap the writer decides."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from edge.clock import Clock, reading
from edge.errors import TapError
from edge.school import cards, passes
from edge.school.events import Tap
from edge.school.roster import Roster


def read_tap(
    roster: Roster, clock: Clock, pass_publics: Callable[[], list[str]], station: str,
    uid: str, at: dt.datetime | None = None, form: cards.Form = "auto",
) -> Tap:  # fmt: skip
    """Check a raw read and return the Tap to decide; TapError if it cannot be taken.

    ``at`` None is now (with the clock's monotonic reading, for the debounce); a
    naive ``at`` is school time. A pass from a QR scanner is verified here, against
    ``pass_publics()`` (the keys this node knows).
    """
    if station not in roster.stations:
        raise TapError(f"station '{station}' is not in the roster (stations.csv)", 404)
    mono = None
    if at is None:
        at, mono = clock.now(), reading(clock)
    elif at.tzinfo is None:
        at = at.replace(tzinfo=roster.calendar.tz)
    check_moment(at, "at")
    if uid.strip().upper().startswith(passes.PREFIX):
        try:
            payload = passes.verify(uid, pass_publics())
        except ValueError as err:
            return Tap(station, passes.CARD_PREFIX + "?", "", at, {"error": str(err)}, mono)
        pass_id = str(payload.get("id", ""))[:40]
        return Tap(station, passes.CARD_PREFIX + pass_id, pass_id, at, payload, mono)
    byte_order: cards.ByteOrder = "big" if roster.calendar.card_byte_order == "big" else "little"
    try:
        card = cards.normalize(uid, byte_order=byte_order, form=form)
    except cards.CardNumberError as err:
        raise TapError(f"uid: {err}") from err
    return Tap(station=station, card=card, uid=uid, at=at, mono=mono)


def check_moment(moment: dt.datetime, name: str) -> None:
    """Refuse a moment outside 2000-2100 (TapError, 422): no school day lies there."""
    if not 2000 <= moment.year <= 2100:
        raise TapError(f"{name}: {moment.isoformat()} is not a moment of a school day (2000-2100)")
