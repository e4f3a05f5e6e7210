"""Signed pickup passes (接送通行证): checked by a kiosk with no network.

A pass names one child, one adult and a date range, signed with the campus hub's
Ed25519 key. It is text a QR code carries and a USB QR scanner (a keyboard-wedge
reader) types: ``CE1.`` + the payload in base32 + ``.`` + the signature in base32,
only capitals, digits and dots, so it survives any keyboard layout and QR's
alphanumeric mode. Kiosks learn the hub's public key from the sync hello and keep
it, so a pass is verified with the hub stopped; revocations are action events and
travel down like every other (PickupBook.revoked_passes).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from edge.errors import StorageError
from edge.files import read_or_create

if TYPE_CHECKING:  # cryptography (some 8 MB) is imported when a key is first used
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

PREFIX = "CE1."
CARD_PREFIX = "pass:"
ISSUED = "pass_issued"


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=")


def _unb32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def key_bytes(data_dir: Path) -> bytes:
    """Return this node's pass-signing key as stored, made on first use (pass.key, 0600).

    An Ed25519 private key is 32 random bytes, so it is made (and a full or read-only
    disk found) at a node's start without loading cryptography.
    """
    path = Path(data_dir) / "pass.key"
    raw = read_or_create(path, lambda: secrets.token_bytes(32))
    if len(raw) != 32:
        raise StorageError(
            f"{path} holds {len(raw)} bytes, not a pass key (32): restore it from the "
            "backup (a new key makes every pass issued so far unreadable)"
        )
    return raw


def private_key(raw: bytes) -> Ed25519PrivateKey:
    """Return the signing key of pass.key's bytes (ValueError if they are not 32)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(raw)


def load_key(data_dir: Path) -> Ed25519PrivateKey:
    """Return this node's pass-signing key, made on first use (pass.key, mode 0600)."""
    return private_key(key_bytes(data_dir))


def public_text(key: Ed25519PrivateKey) -> str:
    """Return a key's public half as text (what the sync hello hands to kiosks)."""
    return _b32(key.public_key().public_bytes_raw())


def key_id(public: str) -> str:
    """Return a short name of a public key, carried in each pass it signed."""
    return hashlib.sha256(public.encode()).hexdigest()[:8]


def issue(key: Ed25519PrivateKey, payload: dict[str, Any]) -> str:
    """Return the text of a pass: the payload, signed."""
    body = orjson.dumps({**payload, "kid": key_id(public_text(key))}, option=orjson.OPT_SORT_KEYS)
    return f"{PREFIX}{_b32(body)}.{_b32(key.sign(body))}"


def verify(text: str, publics: list[str]) -> dict[str, Any]:
    """Return a pass's payload if one of the known keys signed it; else raise ValueError.

    The error's message is a reason code: malformed, unknown_key or bad_signature.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        body_text, signature_text = text.strip().upper().removeprefix(PREFIX).split(".")
        body, signature = _unb32(body_text), _unb32(signature_text)
        payload = orjson.loads(body)
        if not isinstance(payload, dict):
            raise ValueError("malformed")
    except (ValueError, orjson.JSONDecodeError) as err:
        raise ValueError("malformed") from err
    for public in publics:
        if key_id(public) != payload.get("kid"):
            continue
        try:
            Ed25519PublicKey.from_public_bytes(_unb32(public)).verify(signature, body)
        except (InvalidSignature, ValueError) as err:
            raise ValueError("bad_signature") from err
        return payload
    raise ValueError("unknown_key")


def holds_on(payload: dict[str, Any], day: dt.date) -> bool:
    """Tell whether a verified pass is valid on ``day`` (False when its dates are unreadable)."""
    try:
        return dt.date.fromisoformat(payload["f"]) <= day <= dt.date.fromisoformat(payload["t"])
    except (KeyError, TypeError, ValueError):
        return False
