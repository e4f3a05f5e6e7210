"""The display channel: the screen in front of a kiosk, and how a request proves it is one.

A caller on the LAN without a token gets what the idle screen shows to anyone walking
past (station and group names, the head count, the custodian, the reader's health).
What the screen shows to the person in front of it (taps with names and photos, a
staff member's sign-in code, today's plans, the adult search, a manual release, the
pickup-code keypad) goes only to the display channel of that station:

- the machine itself: a loopback client that came through no proxy (no
  ``X-Forwarded-For``, ``Forwarded`` or ``X-Real-IP``) and names a loopback host (so a
  web page cannot reach it by DNS rebinding). It could fetch the key from the node's
  own files anyway; Chromium on the Pi opens ``http://127.0.0.1:PORT/kiosk/STATION``.
- a screen elsewhere (a tablet at a gate on the hub) sends the station's display key
  in ``X-Display-Key``: HMAC-SHA256 of ``display:STATION`` under the node's
  ``secret.key``, given once by ``campus-edge display STATION`` as ``#key=`` in the
  page's URL (the fragment never reaches a server or a log). Replacing ``secret.key``
  voids every display key with every token.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from starlette.requests import HTTPConnection

HEADER = "x-display-key"
_LOOPBACK = frozenset({"127.0.0.1", "::1"})
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "[::1]"})
_PROXY_HEADERS = (b"x-forwarded-for", b"forwarded", b"x-real-ip")


def display_key(secret: bytes, station: str) -> str:
    """Return the display key of one station's screen (128 bits, hex)."""
    digest = hmac.new(secret, f"display:{station}".encode(), hashlib.sha256).hexdigest()
    return digest[:32]


def is_local(request: HTTPConnection) -> bool:
    """Tell whether a request comes from this machine itself, not through a proxy."""
    caller = request.client.host if request.client else ""
    if caller not in _LOOPBACK:
        return False
    headers = dict(request.scope.get("headers") or ())
    if any(name in headers for name in _PROXY_HEADERS):
        return False
    host = request.headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name.lower() in _LOCAL_HOSTS


def is_display(request: HTTPConnection, secret: bytes, station: str) -> bool:
    """Tell whether a request comes from the screen of ``station``."""
    if is_local(request):
        return True
    given = request.headers.get(HEADER, "")
    return bool(given) and hmac.compare_digest(
        given.encode(), display_key(secret, station).encode()
    )


def caller_key(request: HTTPConnection) -> str:
    """Return whom a lockout counts a request against: its address (an IPv6 /64)."""
    caller = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(caller)
    except ValueError:
        return caller
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def refusal(station: str, staff: bool = False) -> str:
    """Say why a caller that is not the station's screen is refused, and what to do."""
    return (
        f"this is for the display of station '{station}': open it on that kiosk, or give "
        f"a screen elsewhere its display key (campus-edge display {station} on the node)"
        + ("; or sign in as staff" if staff else "")
    )
