"""The receiving side of sync: one APIRouter over a store port (a hub's SQLite, central's PG).

The routes are the same at every level; what differs is the store behind them (any
``SyncStore``; ``add_sync_routes`` puts it on the app with the clock and the peers):
``LedgerStore`` on a hub (the node's own ledger, written by its one writer thread)
and ``edge.sync.central.CentralStore`` on the district central. Devices authenticate
with their device token (``campus-edge device add``); only its hash is kept, and a
revoked device is refused.

Rules every store keeps:
- every push is signed by the pushing node's key (``Push.signature``, over each
  chain's last event in the batch: edge.school.proof.push_message), checked with the
  key bound to the device (pinned at ``campus-edge device add --node-key``, or bound
  at its first hello) before anything is stored: a device with no key bound is
  refused (403), a push unsigned or signed otherwise is refused whole (422, kept
  aside), so a device token alone pushes nothing;
- a kiosk may push only its own node's events (its device name is its node id); a
  hub (registered at central) pushes its campus's events;
- every event is checked against a strict schema per kind (edge.school.schema), and a
  staff action that changes authority or history must carry the proof of the staff
  member who made it, signed with the sending node's key (edge.school.proof), which the
  device registers in its hello (bound on first use; another key later is refused);
- a batch that fails those checks, would break a chain (changed content, a fork), or
  that the database refuses is refused as a whole with 422 and kept aside in a
  quarantine table for the engineer on call (counted per device in the status), so a
  sender never retries a poisoned batch against a 5xx forever, and nothing of it is
  stored;
- every answer carries the receiver's clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
from collections.abc import Callable
from typing import Annotated, Any, Protocol

import orjson
from fastapi import APIRouter, Depends, FastAPI, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ValidationError

from edge import text
from edge.clock import Clock
from edge.errors import AuthError, TapError
from edge.school import proof, schema
from edge.school import roster as roster_mod
from edge.school.events import Event
from edge.store.access import Device
from edge.sync.protocol import Head, Hello, PullAnswer, Push, PushAnswer, RosterSnapshot
from edge.writer import ChainBroken, Ingested


class SyncStore(Protocol):
    """What the sync routes need from the node's storage."""

    def authenticate(self, token: str) -> Device | None:
        """Return the unrevoked device holding this token."""
        ...

    def node_info(self) -> tuple[str, str, int]:
        """Return (node_id, role, roster version) of the receiver."""
        ...

    def push(self, device: Device, events: list[Event]) -> Ingested:
        """Store a pushed batch; ChainBroken if it cannot be stored."""
        ...

    def note_clock_step(self, device: Device, seconds: float) -> None:
        """Remember how far a device's clock was off before it followed its upstream."""
        ...

    def quarantine(self, device: Device, reason: str, body: bytes) -> None:
        """Keep a refused batch aside, with the reason."""
        ...

    def quarantine_summary(self) -> dict[str, tuple[int, list[str]]]:
        """Return, per device, how many batches were kept aside and the latest reasons."""
        ...

    def bind_key(self, device: Device, node_id: str, key: str) -> None:
        """Register a device's node key on first use; AuthError (403) if another is bound."""
        ...

    def push_key(self, device: Device) -> str | None:
        """Return the node key a device's pushes are signed with (None: none bound yet)."""
        ...

    def key_for(self, device: Device, node_id: str) -> tuple[bool, str | None]:
        """Say whether this receiver checks the staff proofs of a node's events, and the key.

        (True, key): checked with this key (None: none registered, so refused);
        (False, None): the events were relayed by a hub that checked them.
        """
        ...

    def pull(self, device: Device, after: str, limit: int) -> tuple[list[Event], str]:
        """Return events after an opaque cursor, and the cursor after them."""
        ...

    def roster(self, device: Device, since: int, have: str | None = None) -> RosterSnapshot | None:
        """Return the roster in force if the caller does not hold it (see the route)."""
        ...

    def photo(self, device: Device, name: str) -> bytes | None:
        """Return a roster photo by its content-addressed name."""
        ...

    def pass_key(self) -> str | None:
        """Return the public key this node signs pickup passes with (None: it signs none)."""
        ...


@dataclasses.dataclass
class PeerStatus:
    """How a device stands, as last heard from it (kept in memory)."""

    name: str
    kind: str
    last_push: dt.datetime | None = None
    last_pull: dt.datetime | None = None
    waiting: int = 0
    pushed: int = 0
    clock_trusted: bool = True
    clock_offset_ms: int | None = None  # the receiver's clock minus the device's
    clock_step_seconds: float = 0.0  # how far it stepped its clock to follow ours
    refused: str | None = None

    def to_json(
        self, now: dt.datetime, behind: dt.timedelta, kept: tuple[int, list[str]] = (0, [])
    ) -> dict[str, Any]:
        """Return the status the dashboard shows; ``behind`` flags a silent device."""
        seen = max((t for t in (self.last_push, self.last_pull) if t), default=None)
        return {
            "device": self.name,
            "kind": self.kind,
            "last_seen": seen.isoformat() if seen else None,
            "seconds_since": round((now - seen).total_seconds()) if seen else None,
            "waiting": self.waiting,
            "pushed": self.pushed,
            "clock_trusted": self.clock_trusted,
            "clock_offset_ms": self.clock_offset_ms,
            "clock_step_seconds": self.clock_step_seconds,
            "refused": self.refused,
            "quarantined": kept[0],
            "quarantine_reasons": kept[1],
            "behind": seen is None or now - seen > behind or bool(self.refused),
        }


class Peers:
    """The devices that sync with this node, and when each was last heard from."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._peers: dict[str, PeerStatus] = {}
        # Per device: batches kept aside and the latest reasons (set by add_sync_routes).
        self.summary: Callable[[], dict[str, tuple[int, list[str]]]] = dict

    def get(self, device: Device) -> PeerStatus:
        """Return (creating) the status of a device."""
        with self._lock:
            peer = self._peers.get(device.name)
            if peer is None:
                peer = self._peers[device.name] = PeerStatus(device.name, device.kind)
            return peer

    def report(
        self, devices: list[Device], now: dt.datetime, behind: dt.timedelta
    ) -> list[dict[str, Any]]:
        """Return every registered, unrevoked device's status, never-seen ones included."""
        kept = self.summary()
        return [
            self.get(d).to_json(now, behind, kept.get(d.name, (0, [])))
            for d in devices
            if d.revoked_at is None
        ]


@dataclasses.dataclass(frozen=True)
class Receiver:
    """What the sync routes answer from: a store, the receiver's clock, its peers' status."""

    store: SyncStore
    clock: Clock
    peers: Peers
    max_batch: int = 2000


def add_sync_routes(
    app: FastAPI, store: SyncStore, clock: Clock, peers: Peers, max_batch: int = 2000
) -> None:
    """Serve the sync endpoints (CONTRACT.md, Sync) on an app, over a store."""
    peers.summary = store.quarantine_summary
    app.state.sync_receiver = Receiver(store, clock, peers, max_batch)
    # The routes themselves, not include_router's one lazy entry: app.routes lists them.
    app.router.routes.extend(router.routes)
    _publish_push_schema(app)


def _publish_push_schema(app: FastAPI) -> None:
    """Add the push body's schema to the app's OpenAPI document (the route parses bytes)."""
    body_schema = Push.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = {**body_schema.pop("$defs", {}), "Push": body_schema}
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = build_openapi()
            document.setdefault("components", {}).setdefault("schemas", {}).update(definitions)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


router = APIRouter(prefix="/api/v1/sync", tags=["sync"])
_bearer = HTTPBearer(auto_error=False)
PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or unknown device token"},
    403: {
        "description": "events of another node, a node key other than the one bound, "
        "or a push from a device with no node key bound"
    },
    422: {"description": "a malformed or chain-breaking batch (quarantined)"},
}
_PUSH_BODY = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Push"}}},
              "required": True}  # fmt: skip


def receiver(request: Request) -> Receiver:
    """Return the app's sync receiver (set by ``add_sync_routes``)."""
    found: Receiver = request.app.state.sync_receiver
    return found


Sync = Annotated[Receiver, Depends(receiver)]


def device(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)], sync: Sync
) -> Device:
    """Return the device whose token the request carries; AuthError (401) otherwise."""
    if credentials is None:
        raise AuthError("this needs a device token (Authorization: Bearer dev1...)")
    found = sync.store.authenticate(credentials.credentials)
    if found is None:
        raise AuthError(
            "this device token is not registered here or was revoked: ask the hub's "
            "admin for a new one (campus-edge device add NAME)"
        )
    return found


Caller = Annotated[Device, Depends(device)]


def _answer(model: BaseModel) -> Response:
    return Response(orjson.dumps(model.model_dump(mode="json")), media_type="application/json")


@router.get("/hello", response_model=Hello, responses=PROBLEMS)
def hello(
    caller: Caller,
    sync: Sync,
    node_key: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z0-9_-]{43}$", description="the caller's node key (public)"),
    ] = None,
    node: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9._-]{1,64}$", description="its node id")
    ] = None,
) -> Response:
    """Tell a device who it is here, and this node's clock; bind its node key."""
    if node_key is not None:
        sync.store.bind_key(caller, node or caller.name, node_key)
    node_id, role, version = sync.store.node_info()
    return _answer(Hello(device=caller.name, kind=caller.kind, node_id=node_id, role=role,
                         now=sync.clock.now(), roster_version=version,
                         pass_key=sync.store.pass_key()))  # fmt: skip


# The push body is parsed straight from its bytes (pydantic's JSON mode, about twice as
# fast as FastAPI's parse-then-validate on a 2,000-event batch); its schema is still
# published in the OpenAPI document (_publish_push_schema).
@router.post(
    "/events",
    response_model=PushAnswer,
    responses=PROBLEMS,
    openapi_extra={"requestBody": _PUSH_BODY},
)
async def push(caller: Caller, sync: Sync, request: Request) -> Response:
    """Store a batch of events; answer how far each chain is now stored."""
    try:
        body = Push.model_validate_json(await request.body())
    except ValidationError as err:
        raise RequestValidationError(err.errors(include_url=False)) from err
    return await run_in_threadpool(store_push, sync, caller, body)


def store_push(sync: Receiver, caller: Device, body: Push) -> Response:
    """Check a pushed batch and store it, or refuse it whole and keep it aside."""
    now = sync.clock.now()
    peer = sync.peers.get(caller)
    events = _own_events(caller, body, sync.max_batch)
    public = _push_key(sync.store, caller, peer)
    # Only a push signed by the node's key speaks for the node: nothing else of an
    # unsigned one is taken, not even how its clock or queue stands.
    stands = proof.PushHead(
        body.waiting, body.sent_at, body.clock_trusted, body.clock_step_seconds
    )  # the head is signed too: a captured push cannot be replayed with another
    unsigned = proof.push_problem(events, body.signature, public, stands)
    if unsigned is None:
        _note_stands(sync.store, caller, peer, body, now)
    refused = (
        [unsigned]
        if unsigned is not None
        else schema.problems(events, now, lambda node_id: sync.store.key_for(caller, node_id))
    )
    try:
        if refused:
            raise ChainBroken(refused)
        stored = sync.store.push(caller, events)
    except ChainBroken as err:
        reason = _printable(str(err))
        sync.store.quarantine(caller, reason, body.model_dump_json().encode())
        peer.refused = reason
        raise TapError(
            f"the batch was refused and kept aside for review, nothing of it stored: {reason}"
        ) from err
    peer.refused = None
    peer.pushed += len(stored.stored)
    heads = [Head(node_id=n, epoch=e, seq=s) for (n, e), s in sorted(stored.heads.items())]
    return _answer(PushAnswer(stored=len(stored.stored), duplicates=stored.duplicates,
                              heads=heads, now=now))  # fmt: skip


def _own_events(caller: Device, body: Push, max_batch: int) -> list[Event]:
    """Return the batch's events; refuse an oversized one, or a kiosk's of another node."""
    if len(body.events) > max_batch:
        raise TapError(f"a batch holds at most {max_batch} events; send fewer at a time")
    if caller.kind == "kiosk":
        foreign = sorted({e.node_id for e in body.events if e.node_id != caller.name})
        if foreign:
            raise AuthError(
                f"device '{caller.name}' may push only its own events, and this batch "
                f"holds events of {', '.join(foreign)}: start the kiosk with "
                f"--node-id {caller.name}",
                403,
            )
    return [e.to_event() for e in body.events]


def _push_key(store: SyncStore, caller: Device, peer: PeerStatus) -> str:
    """Return the node key the caller's pushes are signed with; AuthError (403) if none."""
    public = store.push_key(caller)
    if public is None:
        peer.refused = (
            f"device '{caller.name}' has not said hello with its node key: update and "
            f"restart the {caller.kind}"
        )
        raise AuthError(
            f"this device has not said hello with its node key: update and restart the "
            f"{caller.kind} (or register it with its key: campus-edge device add NAME "
            "--node-key KEY)",
            403,
        )
    return public


def _note_stands(
    store: SyncStore, caller: Device, peer: PeerStatus, body: Push, now: dt.datetime
) -> None:
    """Keep how a signed push says its sender stands: backlog, clock and clock step."""
    peer.last_push, peer.waiting = now, body.waiting
    peer.clock_trusted = body.clock_trusted
    if body.sent_at is not None:
        peer.clock_offset_ms = round((now - body.sent_at).total_seconds() * 1000)
    if body.clock_step_seconds and body.clock_step_seconds != peer.clock_step_seconds:
        store.note_clock_step(caller, body.clock_step_seconds)
        peer.clock_step_seconds = body.clock_step_seconds


@router.get("/events", response_model=PullAnswer, responses=PROBLEMS)
def pull(
    caller: Caller,
    sync: Sync,
    after: Annotated[str, Query(max_length=80, description="'next' of the last page")] = "",
    limit: Annotated[int, Query(ge=1, le=2000)] = 1000,
) -> Response:
    """Page through this node's events (its campus's, for a hub at central)."""
    sync.peers.get(caller).last_pull = sync.clock.now()
    events, cursor = sync.store.pull(caller, after, limit)
    return _answer(PullAnswer(events=[e.to_wire() for e in events], next=cursor,
                              more=len(events) == limit, now=sync.clock.now()))  # fmt: skip


@router.get(
    "/roster",
    response_model=RosterSnapshot,
    responses={**PROBLEMS, 204: {"description": "the caller's roster is current"}},
)
def roster(
    caller: Caller,
    sync: Sync,
    since: Annotated[int, Query(ge=0, le=2**62, description="the caller's version")] = 0,
    have: Annotated[
        str | None,
        Query(
            max_length=120,
            pattern=r"^[0-9A-Za-z:._-]*$",
            description="the tag of the roster the caller last took from here ('' for "
            "none): given, the roster in force comes whenever it is another one, whatever "
            "the caller's own version; without it, when newer than `since`",
        ),
    ] = None,
) -> Response:
    """Return the roster in force, if the caller does not hold it already."""
    snapshot = sync.store.roster(caller, since, have)
    if snapshot is None:
        return Response(status_code=204)
    return _answer(snapshot)


@router.get(
    "/photos/{name}",
    responses={**PROBLEMS, 404: {"description": "no such photo here"}},
)
def photo(caller: Caller, sync: Sync, name: str) -> Response:
    """Return a roster photo by its content-addressed name."""
    if not roster_mod.PHOTO_NAME.match(name):
        raise TapError(f"'{name}' is not a photo name", 404)
    data = sync.store.photo(caller, name)
    if data is None:
        raise TapError(f"photo '{name}' is not held here", 404)
    return Response(data, media_type="application/octet-stream")


def _printable(reason: str) -> str:
    """Return a reason with any control character escaped (it is stored and shown)."""
    if text.problem(reason) is None:
        return reason
    return "".join(c if text.problem(c) is None else f"\\u{ord(c):04x}" for c in reason)
