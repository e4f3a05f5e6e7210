"""Staff actions carry proof: who made them, signed by the node that checked their token.

A device token lets a kiosk push its own events; it does not make its holder staff.
So every staff action that changes authority or history (``STAFF_ACTIONS``: a
delegate granted or revoked, a pickup code, a pass issued or revoked, a dismissal
plan, a correction) carries in its data a ``proof``: the staff member, role and scope
of the token the node verified, the token's issue and expiry times, the node, and
``sig``, the node key's Ed25519 signature over the event's content (hash chain place
included) with ``sig`` left empty, under the domain prefix ``DOMAIN``.

Each node keeps its key in ``node.key`` (0600, made on first use, as edge.school.passes
keeps the pass key) and tells its upstream the public half in the sync hello, where it
is bound to the device on first use (SECURITY.md, "Staff actions carry proof"). The
same key signs every sync push (``sign_push``: each chain's last event in the batch and
how the sender stands), checked by the receiver before anything of it is stored.

Signing and checking are pure: the receiver's schema (edge.school.schema), which every
writer of a node asks before it writes, checks proofs without anything above school.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from edge.files import read_or_create
from edge.school import events as ev
from edge.school.auth import CLOCK_SLACK, MAX_TOKEN_HOURS, Principal
from edge.school.events import Event, utc_text

if TYPE_CHECKING:  # cryptography (some 8 MB) is imported when a key is first used
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

DOMAIN = b"campus-edge action v1\x00"
PUSH_DOMAIN = b"campus-edge push v1\x00"
KEY_FILE = "node.key"
# Who may make each staff action, here and in edge.actions (one definition for both).
GRANT_ROLES = frozenset({"teacher", "duty_leader", "admin"})
CORRECT_ROLES = frozenset({"teacher", "guard", "duty_leader", "admin"})
STAFF_ACTIONS = frozenset(
    {"delegate_granted", "delegate_revoked", "pickup_code_issued", "pass_issued",
     "pass_revoked", "plan_set"}
)  # fmt: skip
SLACK = CLOCK_SLACK  # seconds a node's clock may have stepped between sign-in and action
# The longest token a node issues (campus-edge token --hours, token_hours): a proof
# claiming a longer one is refused, so a stolen key cannot vouch for years ahead.
MAX_TOKEN_SECONDS = MAX_TOKEN_HOURS * 3600
# The duty leader's sign-off of a day (edge.reports.duty): by card and PIN, duty_leader or admin.
DUTY_ROLES = frozenset({"duty_leader", "admin"})
DUTY_NOTE, DUTY_SIGNED_OFF = "duty_note", "duty_signed_off"  # the note needs no proof
DUTY_ACTIONS = frozenset({DUTY_SIGNED_OFF})
PROOF_FIELDS = frozenset({"staff_id", "role", "scope", "iat", "exp", "node", "sig"})


def roles_for(event: Event) -> frozenset[str] | None:
    """Return the roles that may make this event if it needs proof, else None."""
    if event.kind == ev.CORRECTED:
        return CORRECT_ROLES
    if event.kind == ev.ACTION and event.code in STAFF_ACTIONS:
        return GRANT_ROLES
    if event.kind == ev.ACTION and event.code in DUTY_ACTIONS:
        return DUTY_ROLES
    return None


def load_key(data_dir: Path) -> Ed25519PrivateKey:
    """Return this node's signing key, made on first use (node.key, mode 0600)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    raw = read_or_create(
        Path(data_dir) / KEY_FILE, lambda: Ed25519PrivateKey.generate().private_bytes_raw()
    )
    return Ed25519PrivateKey.from_private_bytes(raw)


def public_text(key: Ed25519PrivateKey) -> str:
    """Return a key's public half as the sync hello carries it (base64url, 43 characters)."""
    return _b64(key.public_key().public_bytes_raw())


def is_public_key(text: str) -> bool:
    """Tell whether a text is a node's public key as ``public_text`` writes it."""
    if len(text) != 43 or not all(c.isascii() and (c.isalnum() or c in "-_") for c in text):
        return False
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(_unb64(text))
    except ValueError:
        return False
    return True


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _message(event: Event) -> bytes:
    """Return what the signature covers: the event's content with proof.sig empty."""
    proof = dict(event.data.get("proof") or {})
    proof["sig"] = ""
    blank = dataclasses.replace(event, data={**event.data, "proof": proof}, stored_hash=None)
    return DOMAIN + blank.content_hash().encode()


def prover(who: Principal, data_dir: Path) -> Callable[[Event], Event]:
    """Return what signs an action event made for ``who`` (whose token the node verified)."""
    key = load_key(data_dir)

    def sign(event: Event) -> Event:
        proof = {
            "staff_id": who.staff_id, "role": who.role, "scope": who.scope, "iat": who.issued,
            "exp": who.expires, "node": event.node_id, "sig": "",
        }  # fmt: skip
        unsigned = dataclasses.replace(event, data={**event.data, "proof": proof})
        proof = {**proof, "sig": _b64(key.sign(_message(unsigned)))}
        signed = dataclasses.replace(event, data={**event.data, "proof": proof})
        return dataclasses.replace(signed, stored_hash=signed.content_hash())

    return sign


def check(event: Event, roles: frozenset[str], public: str | None) -> str | None:
    """Return why an event's staff proof does not hold, or None when it does.

    ``public`` is the key registered for the event's node (None: the signature is
    not checked here, the node's hub checked it).
    """
    proof = event.data.get("proof")
    if not isinstance(proof, dict) or set(proof) != PROOF_FIELDS:
        return "it carries no proof of the staff member who made it (data.proof)"
    staff, role, scope = proof["staff_id"], proof["role"], proof["scope"]
    iat, exp = proof["iat"], proof["exp"]
    if not all(isinstance(v, str) for v in (staff, role, scope, proof["node"], proof["sig"])):
        return "its proof is malformed"
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (iat, exp)):
        return "its proof's token times are not numbers"
    if not 0 <= exp - iat <= MAX_TOKEN_SECONDS:
        return (
            f"its proof's token runs {(exp - iat) / 3600:.0f} hours, longer than the "
            f"{MAX_TOKEN_HOURS:.0f} hours a node issues"
        )
    if proof["node"] != event.node_id or staff != event.subject_id:
        return "its proof names another node or another staff member than the event"
    if role not in roles or scope != "full":
        return f"its proof's staff member is a {role} signed in with '{scope}' scope"
    moment = event.at.timestamp()
    if not iat - SLACK <= moment < exp + SLACK:
        when = dt.datetime.fromtimestamp(min(max(exp, 0), 4e9), dt.UTC).isoformat()
        return f"its proof's token was not valid at {event.at.isoformat()} (expires {when})"
    # The roster is not asked again here: the node that verified the token judged the
    # staff member against the roster in force at that moment. A staff member who left
    # since (or a role changed) does not unmake what they did then; refusing it would
    # stall the sender's chain at a lawful event for good.
    if public is None:
        return None
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(_unb64(public))
        key.verify(_unb64(proof["sig"]), _message(event))
    except (ValueError, InvalidSignature):
        return f"its proof's signature is not node {event.node_id}'s"
    return None


@dataclasses.dataclass(frozen=True)
class PushHead:
    """How the sender says it stands in a push, signed with its events.

    So a captured push cannot be sent again with another clock step or backlog shown
    for the kiosk (the clock step corrects the times of its unsynchronized events).
    """

    waiting: int = 0
    sent_at: dt.datetime | None = None
    clock_trusted: bool = True
    clock_step_seconds: float = 0.0

    def text(self) -> str:
        """Return the head as the signature covers it (one line, fixed form)."""
        sent = "" if self.sent_at is None else utc_text(self.sent_at)
        return (f"waiting={self.waiting} sent_at={sent} clock_trusted={int(self.clock_trusted)} "
                f"clock_step_seconds={float(self.clock_step_seconds)!r}")  # fmt: skip


def push_message(events: list[Event], head: PushHead = PushHead()) -> bytes:  # noqa: B008
    """Return what a push's signature covers: its head and each chain's last event.

    The head (``PushHead.text``) on the first line; then for every (node_id, epoch)
    chain of the batch, the last event's node, epoch, seq and hash, sorted, one a
    line, under ``PUSH_DOMAIN`` (node ids and epochs hold no space or newline). Each
    event's hash covers its predecessor's, and the receiver takes a batch only when
    each chain's events in it lead up to that last one unbroken (``push_problem``), so
    vouching for the last hash vouches for them all.
    """
    last: dict[tuple[str, str], Event] = {}
    for event in events:
        last[(event.node_id, event.epoch)] = event
    lines = sorted(f"{e.node_id} {e.epoch} {e.seq} {e.stored_hash}" for e in last.values())
    return PUSH_DOMAIN + "\n".join([head.text(), *lines]).encode()


def sign_push(
    key: Ed25519PrivateKey,
    events: list[Event],
    head: PushHead = PushHead(),  # noqa: B008
) -> str:
    """Return the signature a push of these events, with this head, carries (base64url)."""
    return _b64(key.sign(push_message(events, head)))


def push_problem(
    events: list[Event],
    signature: str | None,
    public: str,
    head: PushHead = PushHead(),  # noqa: B008
) -> str | None:
    """Return why a push is not signed by the node key ``public``, or None when it is.

    Besides the signature, each chain's events in the batch must lead up to its last
    one unbroken (the next seq, naming the hash of the one before): an event the
    signed last one does not descend from would go in unvouched. Each hash is checked
    against its event's content by ``edge.school.events.check_chains`` before anything is
    stored.
    """
    if not signature:
        return (
            "the push carries no signature of the sending node's key: update the sender "
            "to a version that signs its pushes"
        )
    last: dict[tuple[str, str], Event] = {}
    for event in events:
        before = last.get((event.node_id, event.epoch))
        if before is not None and (
            event.seq != before.seq + 1 or event.prev_hash != before.stored_hash
        ):
            return (
                f"event {event.event_id} does not follow event {before.event_id} in the "
                "batch, so the push's signature does not vouch for it"
            )
        last[(event.node_id, event.epoch)] = event
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(_unb64(public))
        key.verify(_unb64(signature), push_message(events, head))
    except (ValueError, InvalidSignature):
        return "the push is not signed by the node key this device registered"
    return None
