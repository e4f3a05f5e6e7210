"""Bearer tokens for staff: signed, expiring, checked against the roster in force.

A token is ``ce1.<payload>.<signature>``: the payload (staff id, role, issue and
expiry times) in base64url JSON, signed with HMAC-SHA256 under the node's secret
(``secret.key`` in the data directory, created 0600 on first use). A token stops
working when it expires, when the secret is replaced, or when the staff member is no
longer in the roster with that role. Pure apart from reading the secret file.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.errors import AuthError
from edge.files import read_or_create
from edge.school.roster import Roster

PREFIX = "ce1"
# How far a node's clock may have stepped between a sign-in and what the token signs
# (edge.school.proof checks a staff proof's token times within it).
CLOCK_SLACK = 3600.0
MAX_TOKEN_HOURS = 168.0  # a week: the longest token a node issues (and a proof may claim)


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for."""

    staff_id: str
    role: str
    name: str
    scope: str = "full"  # "view": signed in by card alone, no PIN
    issued: float = 0.0  # the token's issue and expiry times (epoch seconds), for proofs
    expires: float = 0.0


def load_secret(data_dir: Path) -> bytes:
    """Return the node's signing secret, creating it on first use."""
    text = read_or_create(Path(data_dir) / "secret.key", lambda: secrets.token_hex(32).encode())
    return bytes.fromhex(text.decode().strip())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(
    secret: bytes, staff_id: str, role: str, now: dt.datetime, hours: float, scope: str = "full"
) -> str:
    """Return a signed token for a staff member's role, valid for ``hours``.

    ``scope`` "view" (a card sign-in without PIN) allows viewing only.
    """
    payload = {
        "sub": staff_id,
        "role": role,
        "scope": scope,
        "iat": now.timestamp(),
        "exp": int((now + dt.timedelta(hours=hours)).timestamp()),
    }
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = _b64(hmac.new(secret, f"{PREFIX}.{body}".encode(), hashlib.sha256).digest())
    return f"{PREFIX}.{body}.{signature}"


def verify(
    secret: bytes,
    token: str,
    roster: Roster,
    now: dt.datetime,
    revoked_at: Callable[[str], float | None] | None = None,
) -> Principal:
    """Return who the token speaks for, or raise AuthError (401) saying why not.

    ``revoked_at(staff_id)`` gives the moment that staff member's tokens were revoked;
    a token issued at or before it is refused.
    """
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise AuthError("the token is not a campus-edge token")
    expected = hmac.new(secret, f"{PREFIX}.{parts[1]}".encode(), hashlib.sha256).digest()
    try:
        signature = _unb64(parts[2])
        payload = json.loads(_unb64(parts[1]))
        staff_id, role, expires = str(payload["sub"]), str(payload["role"]), int(payload["exp"])
        issued = float(payload.get("iat", 0))
        scope = str(payload.get("scope", "full"))
    except (ValueError, KeyError, TypeError) as err:
        raise AuthError("the token is damaged") from err
    if not hmac.compare_digest(signature, expected):
        raise AuthError("the token was not issued by this server")
    if now.timestamp() >= expires:
        raise AuthError("the token has expired: ask for a new one")
    if issued > now.timestamp() + CLOCK_SLACK:
        # Issued while this node's clock ran ahead (a Pi before NTP): what it signed now
        # would carry a proof its hub refuses, and stall this node's sync for good.
        raise AuthError(
            "this sign-in was made while this kiosk's clock was wrong: tap your staff card "
            "and sign in again"
        )
    revoked = revoked_at(staff_id) if revoked_at else None
    if revoked is not None and issued <= revoked:
        raise AuthError("this token was revoked: sign in again (tap your card at a kiosk)")
    staff = roster.staff.get(staff_id)
    if staff is None or staff.role != role:
        raise AuthError("the token's staff member is no longer in the roster with that role")
    if not staff.contract_holds(roster.calendar.day_of(now)):
        raise AuthError("外聘人员合同已到期或未生效 / an outside instructor's token works only "
                        "within their contract's dates")  # fmt: skip
    return Principal(staff_id, role, staff.name, scope, issued, expires)


def require(principal: Principal, allowed: frozenset[str], *, full: bool = False) -> None:
    """Raise AuthError (403) unless the role is allowed (and, if ``full``, a PIN was given)."""
    if principal.role not in allowed:
        raise AuthError(
            f"a {principal.role} may not do this; it needs one of: {', '.join(sorted(allowed))}",
            403,
        )
    if full and principal.scope != "full":
        raise AuthError(
            "this needs your PIN: sign in with your card's code and your PIN "
            "(a card alone lets you view)",
            403,
        )


PIN_PATTERN = r"^[0-9]{4,8}$"  # a staff member's PIN: 4 to 8 digits


def hash_pin(pin: str) -> str:
    """Return a salted scrypt hash of a PIN, as stored."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt$16384$8$1${salt.hex()}${digest.hex()}"


def check_pin(stored: str, pin: str) -> bool:
    """Tell whether ``pin`` matches a hash made by ``hash_pin``."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        given = hashlib.scrypt(pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p))
    except ValueError:
        return False
    return kind == "scrypt" and hmac.compare_digest(given, bytes.fromhex(digest))
