"""Staff sign-in by the code a kiosk shows after a staff card tap (SECURITY.md).

A staff card tapped at an open screen gets a six-digit code (``issue``), live 60 s and
good once; a dashboard trades it for a staff token (``redeem``), with the staff
member's PIN for a full token, without it for viewing only. A caller (an address, an
IPv6 /64) gets 5 wrong codes per 10 minutes; the node as a whole 30 in any minute, so
no code meets more than 30 wrong guesses in its life (a chance of 3 in 100,000). Wrong
codes never void anybody's valid code. Five wrong PINs for one staff member lock their
PIN for 10 minutes: a card can be copied, its PIN is what stands between a copy and a
grant. The sign-in is recorded before the token is handed over.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from edge.clock import Clock
from edge.errors import AuthError
from edge.lockout import Lockout
from edge.school import auth
from edge.school.roster import Staff
from edge.store.ledger import Ledger
from edge.writer import TapWriter

CODE_SECONDS = 60.0
SIGNIN_CALLER = (5, 600.0)  # wrong codes per caller in 10 minutes
SIGNIN_CAMPUS = (30, 60.0)  # wrong codes on the campus in any minute
PIN_FAILURES = (5, 600.0)  # wrong PINs per staff member in 10 minutes
SIGNED_IN = "staff_signed_in"


@dataclass(frozen=True)
class SignedIn:
    """A staff token and whom it is for, as the sign-in answers it."""

    token: str
    staff_id: str
    name: str
    role: str
    scope: str  # "full" (with the PIN) or "view"

    def to_json(self) -> dict[str, str]:
        """Return the answer's JSON."""
        return asdict(self)


class SignInCodes:
    """Sign-in codes: made for staff card taps, traded once for a staff token."""

    def __init__(
        self,
        writer: TapWriter,
        ledger: Ledger,
        secret: bytes,
        clock: Clock,
        token_hours: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._writer = writer
        self._ledger = ledger
        self._secret = secret
        self._clock = clock
        self._token_hours = token_hours
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._codes: dict[str, tuple[str, float]] = {}  # code: (staff_id, expires)
        self._callers = Lockout(*SIGNIN_CALLER, clock=monotonic)
        self._campus = Lockout(*SIGNIN_CAMPUS, clock=monotonic)
        self._pins = Lockout(*PIN_FAILURES, clock=monotonic)  # per staff member

    def issue(self, staff_id: str) -> str:
        """Return a one-time code that signs a staff member in on a dashboard for 60 s."""
        code = f"{secrets.randbelow(1_000_000):06d}"
        with self._lock:
            now = self._monotonic()
            self._codes = {c: held for c, held in self._codes.items() if held[1] >= now}
            self._codes[code] = (staff_id, now + CODE_SECONDS)
        return code

    def __contains__(self, code: object) -> bool:
        """Tell whether a code is still good (issued, unused, not expired)."""
        with self._lock:
            held = self._codes.get(str(code))
        return held is not None and held[1] >= self._monotonic()

    def redeem(self, code: str, pin: str | None, caller: str) -> SignedIn:
        """Trade a code (and a PIN, for a full token) for a staff token; AuthError why not."""
        mine = self._callers.reserve(caller)
        if mine is None:
            raise AuthError(
                "too many wrong codes from this device: wait 10 minutes, then tap your "
                "staff card again",
                429,
            )
        campus = self._campus.reserve("campus")
        if campus is None:
            self._callers.release(mine)
            raise AuthError(
                "too many wrong codes on this campus in the last minute: wait a minute and "
                "try your code again (tap your card again if it has expired)",
                429,
            )
        member = self._writer.roster.staff.get(self._take(code) or "")
        if member is None:
            raise AuthError("that code is wrong or has expired: tap your staff card again")
        self._campus.release(campus)  # the code was right: the campus count is not touched
        scope = "view"
        if pin is not None:
            stored = self._ledger.pin_hash(member.staff_id)
            if stored is None:
                self._callers.release(mine)
                raise AuthError(
                    "no PIN is set for you: ask the admin (campus-edge pin --staff "
                    f"{member.staff_id}), or sign in without one to view"
                )
            scope = self._check_pin(member.staff_id, stored, pin)
        self._callers.release(mine)
        return self._grant(member, scope)

    def _take(self, code: str) -> str | None:
        """Return the staff id a valid code was issued to, once; None otherwise."""
        with self._lock:
            held = self._codes.pop(code, None)
        if held is None or held[1] < self._monotonic():
            return None
        return held[0]

    def _check_pin(self, staff_id: str, stored: str, pin: str) -> str:
        """Return "full" if the PIN is right; AuthError (counted) if not."""
        attempt = self._pins.reserve(staff_id)
        if attempt is None:
            raise AuthError(
                "too many wrong PINs for you: wait 10 minutes, or sign in without the "
                "PIN to view; tell the admin if it was not you",
                429,
            )
        if not auth.check_pin(stored, pin):
            raise AuthError("that PIN is wrong: tap your staff card again")
        self._pins.release(attempt)
        return "full"

    def _grant(self, member: Staff, scope: str) -> SignedIn:
        """Record the sign-in, then return the token (recorded before it is handed over)."""
        token = auth.issue(
            self._secret, member.staff_id, member.role, self._clock.now(),
            self._token_hours, scope,
        )  # fmt: skip
        self._writer.record_action(
            SIGNED_IN, {"via": "kiosk code", "role": member.role, "scope": scope}, member.staff_id
        ).result(timeout=30)
        return SignedIn(token, member.staff_id, member.name, member.role, scope)
