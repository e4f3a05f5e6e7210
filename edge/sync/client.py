"""The sending side of sync: a node keeps in step with its upstream (kiosk -> hub -> central).

One thread per node, looping: roster down (when the upstream has a newer version),
own events up (a kiosk pushes its own; a hub pushes everything it holds), the
campus's events down (kiosks only). Each push is signed with this node's key
(``node.key``, the one its hello registers; edge.school.proof.sign_push). Cursors live
in the ledger's meta table and move only after the upstream acknowledged (push) or the
events are committed here (pull, in the same transaction), so a kill at any moment
repeats work, never loses it.

Failures back off with jitter up to a minute; a refused batch (422: the upstream kept
it aside) backs off longer and shows in the status, which /healthz and the dashboard
carry. A node offline for 30 days keeps its cursors and catches up in batches.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import functools
import hashlib
import json
import logging
import threading
import time
from typing import Any, Protocol

import httpx
import orjson

from edge.backoff import Backoff
from edge.clock import Clock, CorrectedClock
from edge.errors import CampusEdgeError
from edge.files import write_atomic
from edge.school import proof, schema
from edge.school import roster as roster_mod
from edge.school.events import Event
from edge.school.pickup import DELEGATE_GRANTED
from edge.school.placement import CLOCK_STEPPED
from edge.settings import Settings
from edge.store import meta, rosters
from edge.store.ledger import Ledger
from edge.sync.protocol import Hello, PullAnswer, PushAnswer, RosterSnapshot, WireEvent
from edge.writer import TapResult, TapWriter

log = logging.getLogger(__name__)

PUSH_CURSOR, PULL_CURSOR = "sync.push_cursor", "sync.pull_cursor"
STEP_RECORDED = 1.0  # seconds: a smaller step moves no tap to another place
UPSTREAM_ROSTER = "sync.upstream_roster"  # the tag of the roster last taken from upstream
PUSH_BATCH, PULL_BATCH = 2000, 2000


def ask_hello(settings: Settings, timeout: float = 5.0) -> httpx.Response:
    """Greet the upstream with this device's token, as a kiosk does before it syncs.

    For the CLI: `serve` learns the name its token was registered under, `doctor`
    whether the hub can be reached and takes the token. No node key is sent: nothing
    is bound by this greeting.
    """
    return httpx.get(
        f"{(settings.upstream or '').rstrip('/')}/api/v1/sync/hello",
        headers={"Authorization": f"Bearer {settings.device_token or ''}"},
        timeout=timeout,
    )


class SyncedNode(Protocol):
    """What the client needs of the node it keeps in step (edge.node.Node is one)."""

    settings: Settings
    clock: Clock
    ledger: Ledger
    writer: TapWriter

    def clock_trusted(self) -> bool:
        """Tell whether this machine's own clock is synchronized (or declared trusted)."""
        ...


class SyncRefused(CampusEdgeError):
    """The upstream refused what was sent (a 4xx other than 401)."""


@dataclasses.dataclass
class SyncStatus:
    """How this node stands with its upstream."""

    upstream: str
    last_success: dt.datetime | None = None
    last_attempt: dt.datetime | None = None
    last_error: str | None = None
    waiting: int = 0
    pushed: int = 0
    pulled: int = 0
    clock_step_seconds: float = 0.0
    upstream_node: str | None = None

    def to_json(self, now: dt.datetime, behind: dt.timedelta) -> dict[str, Any]:
        """Return the status /healthz and the dashboard show."""
        since = (now - self.last_success).total_seconds() if self.last_success else None
        return {
            "upstream": self.upstream,
            "upstream_node": self.upstream_node,
            "last_success": self.last_success.isoformat() if self.last_success else None,
            "seconds_since": round(since) if since is not None else None,
            "last_error": self.last_error,
            "waiting": self.waiting,
            "pushed": self.pushed,
            "pulled": self.pulled,
            "clock_step_seconds": round(self.clock_step_seconds, 3),
            "behind": since is None or since > behind.total_seconds(),
        }


class SyncClient:
    """Keeps one node in step with its upstream, on a thread of its own."""

    def __init__(
        self,
        node: SyncedNode,
        upstream: str,
        token: str,
        interval: float = 2.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.node = node
        self.ledger = node.ledger
        self.interval = interval
        self.http = httpx.Client(
            base_url=upstream.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(15.0, connect=3.0),
            transport=transport,
        )
        self.status = SyncStatus(upstream=upstream)
        self.own_only = node.settings.role == "kiosk"
        self.pull_events = node.settings.role == "kiosk"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._greeted = False
        self._unrecorded_step = 0.0  # a clock step not yet recorded in the chain (seconds)
        self._key = proof.load_key(node.settings.data_dir)  # signs hello's key and each push
        self._refused_page: str | None = None
        self._reader = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sync-read")
        node.writer.listen(self._on_commit)

    # -- running ---------------------------------------------------------------

    def start(self) -> None:
        """Start syncing in the background."""
        self._thread = threading.Thread(target=self._loop, name="sync", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop syncing (what is not acknowledged is sent again next time)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=20)
        self._reader.shutdown()
        self.http.close()

    def _on_commit(self, results: list[TapResult]) -> None:
        if any(not r.synced for r in results):
            self._wake.set()  # push a new local tap now, not at the next tick

    def _loop(self) -> None:
        backoff = Backoff(first=1.0, cap=60.0)
        while not self._stop.is_set():
            self.status.last_attempt = self.node.clock.now()
            try:
                more = self.run_once()
            except SyncRefused as err:
                self._failed(str(err))
                delay = max(backoff.next(), 30.0)
            except (httpx.HTTPError, CampusEdgeError, ValueError) as err:
                self._failed(_describe(err))
                delay = backoff.next()
            except Exception as err:  # never let sync take the kiosk down
                log.exception("sync failed")
                self._failed(_describe(err))
                delay = backoff.next()
            else:
                backoff.reset()
                delay = 0.0 if more else self.interval
            if delay:
                self._wake.wait(delay)
                self._wake.clear()

    def _failed(self, message: str) -> None:
        if message != self.status.last_error:
            log.warning("sync with %s failed: %s", self.status.upstream, message)
        self.status.last_error = message
        self._greeted = False
        self.status.waiting = self._waiting()

    def run_once(self) -> bool:
        """Do one round of sync; return True when more is waiting on either side."""
        if not self._greeted:
            self._hello()
        self._roster()
        more = self._push()
        if self.pull_events:
            more = self._pull() or more
        self.status.last_success = self.node.clock.now()
        self.status.last_error = None
        return more

    # -- steps -------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        sent = self.node.clock.now()
        response = self.http.request(method, path, **kwargs)
        received = self.node.clock.now()
        if response.status_code == 401:
            raise SyncRefused(f"the upstream refused this device's token: {_detail(response)}")
        if 400 <= response.status_code < 500:
            raise SyncRefused(f"{method} {path}: {response.status_code} {_detail(response)}")
        response.raise_for_status()
        if response.status_code == 200:
            now = _server_now(response)
            if now is not None:
                self._follow_clock(now, sent, received)
        return response

    def _follow_clock(self, now: dt.datetime, sent: dt.datetime, received: dt.datetime) -> None:
        clock, writer = self.node.clock, self.node.writer
        if isinstance(clock, CorrectedClock) and not self.node.clock_trusted():
            step = clock.follow(now, sent, received)
            if step:
                log.warning("clock not synchronized: following the hub's, a %+.1f s step", step)
                self.status.clock_step_seconds += step
            if not writer.clock_synced:  # the step that corrects the taps made till now
                self._unrecorded_step += step
            writer.clock_synced = True
        if abs(self._unrecorded_step) >= STEP_RECORDED:
            # The taps made on the wrong clock go where they belong, here and on the
            # hub, once the step is in this node's chain (edge.school.placement).
            step_seconds = round(self._unrecorded_step, 3)
            data = {"step_seconds": step_seconds, "since_seq": writer.first_seq}
            writer.record_action(CLOCK_STEPPED, data, station="system").result(timeout=30)
            self._unrecorded_step = 0.0

    def _hello(self) -> None:
        key = proof.public_text(self._key)
        params = {"node_key": key, "node": self.ledger.node_id}  # bound there on first use
        hello = Hello.model_validate(
            self._request("GET", "/api/v1/sync/hello", params=params).json()
        )
        self.status.upstream_node = hello.node_id
        if hello.pass_key and self.ledger.meta(meta.UPSTREAM_PASS_KEY) != hello.pass_key:
            keep = functools.partial(meta.put, key=meta.UPSTREAM_PASS_KEY, value=hello.pass_key)
            self.node.writer.write(keep, timeout=30)  # kept for offline checks
        if self.own_only and hello.device != self.ledger.node_id:
            raise SyncRefused(
                f"this kiosk's node id is '{self.ledger.node_id}' but its device token is "
                f"registered as '{hello.device}': start it with --node-id {hello.device}"
            )
        self._greeted = True

    def _roster(self) -> None:
        # The upstream's roster wins over one imported here, or numbered like ours: ask
        # with the tag of the one last taken from it ('' at first: take its roster).
        since = self.ledger.roster_version()
        have = self.ledger.meta(UPSTREAM_ROSTER) or ""
        response = self._request(
            "GET", "/api/v1/sync/roster", params={"since": since, "have": have}
        )
        if response.status_code == 204:
            return
        snapshot = RosterSnapshot.model_validate(response.json())
        photos = {}
        for name in snapshot.photos:
            if not (self.ledger.photos / name).is_file():
                photos[name] = self._photo(name)
        roster = roster_mod.build(snapshot.tables, snapshot.school_toml, snapshot.version)
        roster = dataclasses.replace(roster, photos=photos)
        source = f"{self.status.upstream} ({snapshot.source})"
        version = rosters.save(
            self.ledger.photos, roster, source, snapshot.version, self.node.writer.write
        )  # and the writer loads the new roster now
        tag = functools.partial(meta.put, key=UPSTREAM_ROSTER, value=snapshot.tag)
        self.node.writer.write(tag, timeout=30)
        log.info("roster version %s from %s now in force", version, self.status.upstream)

    def _photo(self, name: str) -> bytes:
        data = self._request("GET", f"/api/v1/sync/photos/{name}").content
        if name.split(".")[0] != hashlib.sha256(data).hexdigest():
            raise SyncRefused(f"photo {name} arrived damaged (its content does not match)")
        return data

    def _waiting(self) -> int:
        cursor = int(self.ledger.meta(PUSH_CURSOR) or 0)
        return self.ledger.count_after(cursor, self.ledger.node_id if self.own_only else None)

    def _batch(self, after: int) -> tuple[list[Event], bytes]:
        """Read and encode the batch after a ledger position (b'' when none is waiting)."""
        only = self.ledger.node_id if self.own_only else None
        events = self.ledger.events_after(after, PUSH_BATCH, only_node=only)
        return events, orjson.dumps([e.to_wire() for e in events]) if events else b""

    def _push(self) -> bool:
        """Push what waits, batch after batch, each read while the one before travels.

        Returns True when more waits than one round may send (so pull gets its turn).
        """
        cursor = int(self.ledger.meta(PUSH_CURSOR) or 0)
        only = self.ledger.node_id if self.own_only else None
        events, encoded = self._batch(cursor)
        waiting = self.ledger.count_after(cursor, only) if events else 0
        deadline = time.monotonic() + 5.0
        while events:
            waiting -= len(events)
            upcoming = self._reader.submit(self._batch, events[-1].rowid or cursor)
            try:
                acked = self._send(cursor, events, encoded, max(waiting, 0))
            finally:
                following = upcoming.result()
            if acked != events[-1].rowid or time.monotonic() > deadline:
                break  # part was stored (a gap upstream), or time for the pull
            cursor = acked
            events, encoded = following
        self.status.waiting = self._waiting()
        return self.status.waiting > 0

    def _send(self, cursor: int, events: list[Event], encoded: bytes, waiting: int) -> int:
        """Send one batch; move the cursor past what the upstream acknowledged."""
        stands = proof.PushHead(
            waiting, self.node.clock.now(), bool(self.node.writer.clock_synced),
            float(self.status.clock_step_seconds),
        )  # fmt: skip
        head = orjson.dumps(
            {
                "waiting": stands.waiting,
                "sent_at": stands.sent_at.isoformat() if stands.sent_at else None,
                "clock_trusted": stands.clock_trusted,
                "clock_step_seconds": stands.clock_step_seconds,
                "signature": proof.sign_push(self._key, events, stands),
            }
        )
        body = head[:-1] + b',"events":' + encoded + b"}"  # the events encoded beforehand
        response = self._request(
            "POST", "/api/v1/sync/events", content=body,
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        answer = PushAnswer.model_validate(response.json())
        heads = {(h.node_id, h.epoch): h.seq for h in answer.heads}
        acked = cursor
        for event in events:
            if heads.get((event.node_id, event.epoch), 0) < event.seq:
                break
            acked = event.rowid or acked
        if acked == cursor:
            raise SyncRefused(
                f"the upstream stored none of {len(events)} events from {events[0].event_id} on"
            )
        self.node.writer.write(
            functools.partial(meta.put, key=PUSH_CURSOR, value=str(acked)), timeout=30
        )
        self.status.pushed += answer.stored
        return acked

    def _pull(self) -> bool:
        cursor = self.ledger.meta(PULL_CURSOR) or ""
        response = self._request(
            "GET", "/api/v1/sync/events", params={"after": cursor, "limit": PULL_BATCH}
        )
        page = PullAnswer.model_validate(response.json())
        events = [
            WireEvent.model_validate(e).to_event()
            for e in page.events
            if e.get("node_id") != self.ledger.node_id
        ]
        refused = schema.problems(events, self.node.clock.now())
        if refused:
            reason = "; ".join(refused[:5])
            if self._refused_page == cursor:  # kept aside already, the first time
                raise SyncRefused(f"a page from the upstream is refused: {reason}")
            self._refused_page = cursor
            body = json.dumps(page.events, ensure_ascii=True, default=str)
            keep = functools.partial(
                meta.quarantine, received_at=self.node.clock.now().isoformat(),
                device=self.status.upstream, reason=reason, body=body,
            )  # fmt: skip
            self.node.writer.write(keep, timeout=30)
            raise SyncRefused(f"a page from the upstream was refused and kept aside: {reason}")
        if page.next != cursor or events:
            ingested = self.node.writer.ingest(events, {PULL_CURSOR: page.next}).result(timeout=60)
            self.status.pulled += len(ingested.stored)
            self._delegate_photos(ingested.stored)
        return page.more

    def _delegate_photos(self, events: list[Event]) -> None:
        """Fetch the photos of delegations made upstream, so the guard sees who comes."""
        for event in events:
            name = event.data.get("photo") if event.code == DELEGATE_GRANTED else None
            if not name or not roster_mod.PHOTO_NAME.match(name):
                continue
            target = self.ledger.photos / name
            if target.is_file():
                continue
            try:
                data = self._photo(name)
            except (SyncRefused, httpx.HTTPError) as err:
                log.warning("delegation photo %s not fetched: %s", name, err)
                continue
            self.ledger.photos.mkdir(exist_ok=True)
            write_atomic(target, data)


def _server_now(response: httpx.Response) -> dt.datetime | None:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return None
    try:
        now = orjson.loads(response.content).get("now")
        return dt.datetime.fromisoformat(now) if isinstance(now, str) else None
    except (orjson.JSONDecodeError, AttributeError, ValueError):
        return None


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail", response.text[:200]))
    except ValueError:
        return response.text[:200]


def _describe(err: BaseException) -> str:
    if isinstance(err, httpx.ConnectError):
        return "the upstream cannot be reached (no network, or it is down)"
    if isinstance(err, httpx.TimeoutException):
        return "the upstream did not answer in time"
    if isinstance(err, httpx.HTTPStatusError):
        return f"the upstream answered {err.response.status_code}: {_detail(err.response)}"
    return str(err) or type(err).__name__
