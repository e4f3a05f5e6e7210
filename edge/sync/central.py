"""The district central: the same sync protocol, stored in PostgreSQL (psycopg 3).

Campus hubs push their campus's events here (each hub is a device of kind "hub",
and its device name is its campus) and pull their roster from here. Nothing here
decides taps: the central keeps the district's record.

Storage decisions:
- Own migrations, each in one transaction under an advisory lock, recorded in
  ``ce_migrations``; events are append-only (a trigger refuses UPDATE and DELETE).
- Ingest: one transaction per push. The batch's chains are locked (``chains`` rows,
  FOR UPDATE, in a fixed order so concurrent pushers never deadlock), checked with
  the same ``check_chains`` as every node, then written with COPY.
- Pull cursor: (transaction id, position). A bigserial is not in commit order: a
  transaction that took position 10 may commit after one that took 11. Rows are
  served only from transactions older than the oldest one still running
  (``pg_snapshot_xmin``), in (xid, position) order, so no late commit is skipped.
- Every pushed event is checked first (edge.sync.schema); a batch the database still
  refuses (a value PostgreSQL cannot hold) is refused like a broken chain, kept aside
  with its reason and answered 422, never a 500 the hub would retry forever.
- Every push is signed with the hub's node key (edge.sync.proof.push_message), bound
  with its node id at its first hello (or pinned at ``device add --hub --node-key``,
  its node id then learnt at its first hello); a hub that has not said hello pushes
  nothing, and a push unsigned or signed otherwise is refused whole and kept aside.
- Staff proofs (edge.sync.proof): a hub binds its node key and node id at its first
  hello; the proofs of the hub's own actions are checked with that key. Events of the
  hub's kiosks, relayed, carry proofs the hub checked with each kiosk's key when they
  arrived there; the central checks their form but trusts the hub for the signature
  (it learns no kiosk keys), and nothing flows from the central down to any node.
- Events are indexed by (campus, day) for the district's reports; partitioning by
  day is the next step at 20 million events a day, and needs no change here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from edge.clock import SystemClock
from edge.errors import AuthError, StorageError, TapError
from edge.school.events import Chain, Event, check_chains
from edge.school.roster import Roster
from edge.settings import Settings
from edge.store.access import Device
from edge.sync.protocol import RosterSnapshot
from edge.writer import ChainBroken, Ingested

log = logging.getLogger(__name__)

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_central",
        """
        CREATE TABLE devices (
            name text PRIMARY KEY,
            kind text NOT NULL,
            token_sha256 text NOT NULL UNIQUE,
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz
        );
        CREATE TABLE chains (
            node_id text NOT NULL,
            epoch text NOT NULL,
            campus text NOT NULL,
            head_seq bigint NOT NULL,
            head_hash text NOT NULL,
            PRIMARY KEY (node_id, epoch)
        );
        CREATE TABLE events (
            pos bigserial NOT NULL,
            tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
            campus text NOT NULL,
            id text NOT NULL,
            node_id text NOT NULL,
            epoch text NOT NULL,
            seq bigint NOT NULL,
            hlc bigint NOT NULL,
            at timestamptz NOT NULL,
            day date NOT NULL,
            station text NOT NULL,
            kind text NOT NULL,
            outcome text NOT NULL,
            code text NOT NULL,
            card text,
            uid text,
            subject_kind text,
            subject_id text,
            data jsonb NOT NULL,
            roster_version integer NOT NULL,
            clock_synced boolean NOT NULL,
            prev_hash text NOT NULL,
            hash text NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (node_id, epoch, seq)
        );
        CREATE INDEX events_campus_day ON events (campus, day, hlc);
        CREATE INDEX events_campus_pull ON events (campus, tx, pos);
        CREATE FUNCTION ce_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'the events table is append-only'; END $$;
        CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
            FOR EACH ROW EXECUTE FUNCTION ce_append_only();
        CREATE TABLE quarantine (
            id bigserial PRIMARY KEY,
            received_at timestamptz NOT NULL DEFAULT now(),
            device text NOT NULL,
            reason text NOT NULL,
            body text NOT NULL
        );
        CREATE TABLE rosters (
            campus text NOT NULL,
            version integer NOT NULL,
            source text NOT NULL,
            school_toml text NOT NULL,
            tables jsonb NOT NULL,
            imported_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (campus, version)
        );
        CREATE TABLE photos (name text PRIMARY KEY, data bytea NOT NULL);
        """,
    ),
    (
        "0002_actions",
        """
        CREATE TABLE actions (
            id bigserial PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            by text NOT NULL,
            code text NOT NULL,
            data jsonb NOT NULL
        );
        CREATE TRIGGER actions_append_only BEFORE UPDATE OR DELETE ON actions
            FOR EACH ROW EXECUTE FUNCTION ce_append_only();
        """,
    ),
    (
        "0003_node_keys",
        """
        CREATE TABLE node_keys (
            device text PRIMARY KEY,
            device_created text NOT NULL,
            node_id text NOT NULL,
            key text NOT NULL,
            bound_at timestamptz NOT NULL DEFAULT now()
        );
        """,
    ),
    (
        "0004_pinned_keys",
        """
        ALTER TABLE node_keys ALTER COLUMN node_id DROP NOT NULL;
        ALTER TABLE node_keys ADD COLUMN pinned boolean NOT NULL DEFAULT false;
        """,
    ),
]

_COPY_COLUMNS = (
    "campus, id, node_id, epoch, seq, hlc, at, day, station, kind, outcome, code, card, uid, "
    "subject_kind, subject_id, data, roster_version, clock_synced, prev_hash, hash"
)
_SELECT = (
    "tx::text, pos, node_id, epoch, seq, hlc, at, day, station, kind, outcome, code, card, uid, "
    "subject_kind, subject_id, data, roster_version, clock_synced, prev_hash, hash"
)
_LOCK_MIGRATIONS = 7_304_221  # pg_advisory_xact_lock key: one migrator at a time


def _connect_error(url: str, err: Exception) -> StorageError:
    return StorageError(
        f"the central's PostgreSQL database ({_safe(url)}) cannot be used: {err}".strip()
    )


def _safe(url: str) -> str:
    """Return a database URL without its password, for messages."""
    if "@" in url and ":" in url.split("@")[0].split("//")[-1]:
        scheme, rest = url.split("//", 1)
        user = rest.split("@")[0].split(":")[0]
        return f"{scheme}//{user}:***@{rest.split('@', 1)[1]}"
    return url


class CentralStore:
    """The SyncStore of the district central, on PostgreSQL."""

    def __init__(self, url: str, pool_size: int = 16, node_id: str = "central") -> None:
        import psycopg
        from psycopg_pool import ConnectionPool

        self.url = url
        self.node_id = node_id
        try:
            psycopg.connect(url, connect_timeout=5).close()  # fail fast, with the reason
            self.pool = ConnectionPool(
                url, min_size=1, max_size=pool_size, open=True, timeout=10,
                kwargs={"autocommit": False},
            )  # fmt: skip
            self.pool.wait(timeout=10)
            with self.pool.connection() as conn:
                migrate(conn)
        except StorageError:
            raise
        except (psycopg.Error, OSError, RuntimeError) as err:  # pool timeouts included
            raise _connect_error(url, err) from err

    def close(self) -> None:
        """Close the connection pool."""
        self.pool.close()

    # -- devices ------------------------------------------------------------------

    def add_device(self, name: str, kind: str = "hub") -> str:
        """Register a hub (its name is its campus); return its token, stored only hashed."""
        import psycopg

        token = "dev1." + secrets.token_urlsafe(32)
        digest = hashlib.sha256(token.encode()).hexdigest()
        try:
            with self.pool.connection() as conn:
                conn.execute(
                    "INSERT INTO devices (name, kind, token_sha256) VALUES (%s, %s, %s)",
                    (name, kind, digest),
                )
        except psycopg.errors.UniqueViolation as err:
            raise StorageError(
                f"a device named '{name}' is already registered; choose another name"
            ) from err
        return token

    def record_action(self, code: str, data: dict[str, Any]) -> None:
        """Keep an operator's action on the central (append-only), with who ran it."""
        import getpass
        import os

        who = os.environ.get("SUDO_USER") or getpass.getuser()
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO actions (by, code, data) VALUES (%s, %s, %s)",
                (who, code, orjson.dumps(data).decode()),
            )

    def actions(self) -> list[tuple[str, str, dict[str, Any]]]:
        """Return the recorded actions, oldest first, as (by, code, data)."""
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT by, code, data FROM actions ORDER BY id").fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def revoke_device(self, name: str) -> bool:
        """Refuse a device's token from now on; False if no such active device."""
        with self.pool.connection() as conn:
            cursor = conn.execute(
                "UPDATE devices SET revoked_at = now() WHERE name = %s AND revoked_at IS NULL",
                (name,),
            )
            return cursor.rowcount == 1

    def devices(self) -> list[Device]:
        """Return every registered device."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT name, kind, created_at::text, revoked_at::text FROM devices ORDER BY name"
            ).fetchall()
        return [Device(*r) for r in rows]

    def authenticate(self, token: str) -> Device | None:
        """Return the unrevoked device holding this token."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT name, kind, created_at::text, revoked_at::text FROM devices "
                "WHERE token_sha256 = %s AND revoked_at IS NULL",
                (digest,),
            ).fetchone()
        return Device(*row) if row else None

    def node_info(self) -> tuple[str, str, int]:
        """Return (node_id, role, roster version): the central keeps no roster of its own."""
        return self.node_id, "central", 0

    # -- events ---------------------------------------------------------------------

    def push(self, device: Device, events: list[Event]) -> Ingested:
        """Store a hub's batch in one transaction; ChainBroken if it cannot be stored.

        A batch PostgreSQL refuses (DataError, IntegrityError) is ChainBroken too: sent
        again it would be refused again.
        """
        import psycopg

        try:
            return self._push(device, events)
        except (psycopg.DataError, psycopg.IntegrityError) as err:
            detail = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ChainBroken([f"the database refused the batch ({detail})"]) from err

    def _push(self, device: Device, events: list[Event]) -> Ingested:
        campus = device.name
        chains = sorted({(e.node_id, e.epoch) for e in events})
        with self.pool.connection() as conn, conn.transaction():
            if chains:
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO chains (node_id, epoch, campus, head_seq, head_hash) "
                        "VALUES (%s, %s, %s, 0, '') ON CONFLICT DO NOTHING",
                        [(n, e, campus) for n, e in chains],
                    )
            rows = conn.execute(
                "SELECT node_id, epoch, campus, head_seq, head_hash FROM chains "
                "WHERE (node_id, epoch) IN (SELECT * FROM unnest(%s::text[], %s::text[])) "
                "ORDER BY node_id, epoch FOR UPDATE",
                ([n for n, _ in chains], [e for _, e in chains]),
            ).fetchall()
            heads: dict[Chain, tuple[int, str]] = {}
            problems = []
            for node_id, epoch, owner, seq, digest in rows:
                heads[(node_id, epoch)] = (int(seq), str(digest))
                if owner != campus:
                    problems.append(f"node {node_id} belongs to campus {owner}, not {campus}")
            held = self._held(conn, [e for e in events if e.seq <= heads[(e.node_id, e.epoch)][0]])
            check = check_chains(events, heads.__getitem__, lambda e: held.get(e.event_id))
            check.problems[:0] = problems
            if check.problems:
                raise ChainBroken(check.problems)
            if check.stored:
                with (
                    conn.cursor() as cur,
                    cur.copy(
                        f"COPY events ({_COPY_COLUMNS}) FROM STDIN"  # noqa: S608 - constants
                    ) as copy,
                ):
                    for event in check.stored:
                        copy.write_row(_copy_row(campus, event))
                    # The chain heads move in the same transaction as the rows.
                with conn.cursor() as cur:
                    cur.executemany(
                        "UPDATE chains SET head_seq = %s, head_hash = %s "
                        "WHERE node_id = %s AND epoch = %s",
                        [(s, h, n, e) for (n, e), (s, h) in check.heads.items()],
                    )
        return Ingested(check.stored, check.duplicates, {c: h[0] for c, h in check.heads.items()})

    @staticmethod
    def _held(conn: Any, events: list[Event]) -> dict[str, str]:
        if not events:
            return {}
        rows = conn.execute(
            "SELECT node_id || ':' || epoch || ':' || seq, hash FROM events "
            "WHERE (node_id, epoch, seq) IN "
            "(SELECT * FROM unnest(%s::text[], %s::text[], %s::bigint[]))",
            ([e.node_id for e in events], [e.epoch for e in events], [e.seq for e in events]),
        ).fetchall()
        return {r[0]: r[1] for r in rows}

    def quarantine(self, device: Device, reason: str, body: bytes) -> None:
        """Keep a refused batch aside (its body for the device's first BODIES_KEPT only)."""
        from edge.store.meta import BODIES_KEPT

        with self.pool.connection() as conn:
            held = conn.execute(
                "SELECT count(*) FROM quarantine WHERE device = %s AND body != ''",
                (device.name,),
            ).fetchone()
            kept = held is not None and int(held[0]) < BODIES_KEPT
            conn.execute(
                "INSERT INTO quarantine (device, reason, body) VALUES (%s, %s, %s)",
                (device.name, reason, body.decode() if kept else ""),
            )

    def quarantine_summary(self) -> dict[str, tuple[int, list[str]]]:
        """Return, per device, how many batches were kept aside and the latest reasons."""
        from edge.store.meta import QUARANTINE_COUNTS, QUARANTINE_LATEST, summarize

        with self.pool.connection() as conn:
            counts = conn.execute(QUARANTINE_COUNTS).fetchall()
            latest = conn.execute(QUARANTINE_LATEST).fetchall()
        return summarize(counts, latest)

    def bind_key(self, device: Device, node_id: str, key: str) -> None:
        """Register a hub's node key and node id on first use; AuthError if another is bound."""
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO node_keys (device, device_created, node_id, key) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (device) DO UPDATE SET "
                "device_created = excluded.device_created, node_id = excluded.node_id, "
                "key = excluded.key, bound_at = now(), pinned = false "
                "WHERE node_keys.device_created != excluded.device_created",
                (device.name, device.created_at, node_id, key),
            )
            # A key pinned at registration learns the hub's node id at its first hello.
            conn.execute(
                "UPDATE node_keys SET node_id = %s WHERE device = %s AND device_created = %s "
                "AND node_id IS NULL AND key = %s",
                (node_id, device.name, device.created_at, key),
            )
        if self._bound(device) != (node_id, key):
            raise AuthError(
                f"hub '{device.name}' shows a node id or key other than the ones it registered "
                "at its first sync (a re-installed hub, or a copied token): if this is your "
                f"hub, revoke it (campus-edge device revoke {device.name} --database ...) and "
                "register it again",
                403,
            )

    def _bound(self, device: Device) -> tuple[str | None, str] | None:
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT node_id, key FROM node_keys WHERE device = %s AND device_created = %s",
                (device.name, device.created_at),
            ).fetchone()
        return (row[0], str(row[1])) if row else None

    def push_key(self, device: Device) -> str | None:
        """Return the hub's node key, once it said hello (its node id known), else None."""
        bound = self._bound(device)
        return bound[1] if bound is not None and bound[0] is not None else None

    def pin_key(self, name: str, key: str) -> None:
        """Bind a hub's node key at its registration (``device add --hub --node-key``)."""
        with self.pool.connection() as conn:
            conn.execute(
                "INSERT INTO node_keys (device, device_created, key, pinned) "
                "SELECT name, created_at::text, %s, true FROM devices WHERE name = %s",
                (key, name),
            )

    def bindings(self) -> dict[str, dict[str, Any]]:
        """Return, per device, how its node key is bound (pinned, and since when)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT k.device, k.pinned, k.bound_at::text FROM node_keys k "
                "JOIN devices d ON d.name = k.device AND d.created_at::text = k.device_created"
            ).fetchall()
        return {r[0]: {"pinned": r[1], "bound_at": r[2]} for r in rows}

    def key_for(self, device: Device, node_id: str) -> tuple[bool, str | None]:
        """Check the hub's own actions with its key; trust its check of its kiosks'."""
        bound = self._bound(device)
        if bound is None:
            return True, None  # no key yet: refused until the hub says hello
        return (True, bound[1]) if bound[0] == node_id else (False, None)

    def note_clock_step(self, device: Device, seconds: float) -> None:
        """Hubs keep their own time corrections; the central records nothing more."""

    def pull(self, device: Device, after: str, limit: int) -> tuple[list[Event], str]:
        """Return the device's campus's events after a (xid, position) cursor."""
        tx, pos = _cursor(after)
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {_SELECT} FROM events "  # noqa: S608 - constants
                "WHERE campus = %s AND (tx, pos) > (%s::xid8, %s) "
                "AND tx < pg_snapshot_xmin(pg_current_snapshot()) "
                "ORDER BY tx, pos LIMIT %s",
                (device.name, tx, pos, limit),
            ).fetchall()
        events = [_event(r[2:]) for r in rows]
        cursor = f"{rows[-1][0]}:{rows[-1][1]}" if rows else after
        return events, cursor

    def count_events(self, campus: str | None = None) -> int:
        """Return how many events the central holds (of one campus, if given)."""
        with self.pool.connection() as conn:
            if campus is None:
                return int(_one(conn, "SELECT count(*) FROM events", ()))
            return int(_one(conn, "SELECT count(*) FROM events WHERE campus = %s", (campus,)))

    # -- roster ---------------------------------------------------------------------

    def save_roster(self, campus: str, roster: Roster, source: str) -> int:
        """Store a campus's checked roster as its next version, photos first."""
        with self.pool.connection() as conn, conn.transaction():
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO photos (name, data) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    list(roster.photos.items()),
                )
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (campus,))
            version = int(
                _one(
                    conn,
                    "SELECT COALESCE(max(version), 0) + 1 FROM rosters WHERE campus = %s",
                    (campus,),
                )
            )
            conn.execute(
                "INSERT INTO rosters (campus, version, source, school_toml, tables) "
                "VALUES (%s, %s, %s, %s, %s)",
                (campus, version, source, roster.school_toml,
                 orjson.dumps(roster.tables).decode()),
            )  # fmt: skip
        return version

    def purge_rosters(self, days: int, dry_run: bool = False) -> tuple[int, int]:
        """Remove roster versions older than ``days`` and photos no version names.

        Each campus keeps its newest version whatever its age. Returns (versions,
        photos) removed, or that would be with ``dry_run`` (rolled back).
        """
        import psycopg

        counts = (0, 0)
        with self.pool.connection() as conn:
            with conn.transaction():
                old = conn.execute(
                    "DELETE FROM rosters r WHERE imported_at < now() - make_interval(days => %s) "
                    "AND version < (SELECT max(version) FROM rosters WHERE campus = r.campus) "
                    "RETURNING campus",
                    (days,),
                ).fetchall()
                unused = conn.execute(
                    "DELETE FROM photos WHERE name NOT IN (SELECT DISTINCT row->>'photo' "
                    "FROM rosters r, jsonb_array_elements(coalesce(r.tables->'students', '[]') "
                    "|| coalesce(r.tables->'guardians', '[]')) AS row "
                    "WHERE row->>'photo' IS NOT NULL) RETURNING name"
                ).fetchall()
                counts = (len(old), len(unused))
                if dry_run:
                    raise psycopg.Rollback()
        return counts

    def roster(self, device: Device, since: int, have: str | None = None) -> RosterSnapshot | None:
        """Return the campus's newest roster unless the hub holds it (see LedgerStore.roster).

        Its tag is ``central:VERSION``: the central numbers each campus's rosters once.
        """
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT version, source, school_toml, tables FROM rosters WHERE campus = %s "
                "ORDER BY version DESC LIMIT 1",
                (device.name,),
            ).fetchone()
        if row is None:
            return None
        tag = f"central:{row[0]}"
        if tag == have if have is not None else row[0] <= since:
            return None
        tables = row[3]
        photos = sorted(
            {r["photo"] for name in ("students", "guardians") for r in tables.get(name, [])
             if r.get("photo")}
        )  # fmt: skip
        return RosterSnapshot(
            version=row[0],
            source=row[1],
            school_toml=row[2],
            tables=tables,
            photos=photos,
            tag=tag,
        )

    # -- reports ------------------------------------------------------------------------

    def campuses(self) -> list[str]:
        """Return the campuses with a roster, in name order."""
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT DISTINCT campus FROM rosters ORDER BY campus").fetchall()
        return [r[0] for r in rows]

    def campus_roster(self, campus: str) -> Roster:
        """Return a campus's newest roster, built and checked as a node builds it."""
        from edge.errors import ReportError
        from edge.school import roster as roster_mod

        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT version, school_toml, tables FROM rosters WHERE campus = %s "
                "ORDER BY version DESC LIMIT 1",
                (campus,),
            ).fetchone()
        if row is None:
            known = ", ".join(self.campuses()) or "none yet"
            raise ReportError(f"the central holds no roster of campus '{campus}' ({known})", 404)
        return roster_mod.build(row[2], row[1], row[0])

    def campus_events(
        self, campus: str, start: dt.date, end: dt.date, kinds: Iterable[str] | None = None
    ) -> Iterator[Event]:
        """Yield a campus's events of the days, day by day in fold order, streamed."""
        sql = (
            f"SELECT {_SELECT} FROM events WHERE campus = %s "  # noqa: S608 - constants
            "AND day BETWEEN %s AND %s"
        )
        params: list[Any] = [campus, start, end]
        if kinds is not None:
            sql += " AND kind = ANY(%s)"
            params.append(sorted(kinds))
        with self.pool.connection() as conn, conn.cursor(name="report") as cursor:
            cursor.itersize = 5000
            cursor.execute(sql + " ORDER BY day, hlc, node_id, epoch, seq", params)
            for row in cursor:
                yield _event(row[2:])

    def campus_sign_ins(
        self, campus: str, start: dt.date, end: dt.date
    ) -> Iterator[tuple[dt.date, str]]:
        """Yield each (day, student_id) with a sign-in at a campus in the days, once."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT day, subject_id FROM events WHERE campus = %s "
                "AND day BETWEEN %s AND %s AND kind = 'signed_in' AND subject_id IS NOT NULL "
                "AND id NOT IN (SELECT data->>'corrects' FROM events WHERE campus = %s "
                "AND day BETWEEN %s AND %s AND kind = 'corrected')",
                (campus, start, end) * 2,
            ).fetchall()
        yield from rows

    def photo(self, device: Device, name: str) -> bytes | None:
        """Return a roster photo by its content-addressed name."""
        with self.pool.connection() as conn:
            row = conn.execute("SELECT data FROM photos WHERE name = %s", (name,)).fetchone()
        return bytes(row[0]) if row else None


def migrate(conn: Any) -> list[str]:
    """Apply the central's migrations not yet recorded, each in its own transaction."""
    applied = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_MIGRATIONS,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS ce_migrations "
            "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {r[0] for r in conn.execute("SELECT name FROM ce_migrations")}
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            with conn.transaction():
                conn.execute(sql)
                conn.execute("INSERT INTO ce_migrations (name) VALUES (%s)", (name,))
            applied.append(name)
    return applied


def _one(conn: Any, sql: str, params: tuple[Any, ...]) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None, sql  # aggregates always give a row
    return row[0]


def _cursor(after: str) -> tuple[str, int]:
    if not after:
        return "0", 0
    tx, _, pos = after.partition(":")
    if not (tx.isdigit() and pos.isdigit()) or len(after) > 60:
        raise TapError(f"after: '{after}' is not a cursor this central gave out")
    return tx, int(pos)


def _copy_row(campus: str, e: Event) -> tuple[Any, ...]:
    return (
        campus, e.event_id, e.node_id, e.epoch, e.seq, e.hlc, e.at, e.day, e.station, e.kind,
        e.outcome, e.code, e.card, e.uid, e.subject_kind, e.subject_id,
        orjson.dumps(e.data).decode(), e.roster_version, e.clock_synced, e.prev_hash,
        e.stored_hash,
    )  # fmt: skip


def _event(row: Any) -> Event:
    (node_id, epoch, seq, hlc, at, day, station, kind, outcome, code, card, uid, subject_kind,
     subject_id, data, roster_version, clock_synced, prev_hash, hash_) = row  # fmt: skip
    return Event(
        node_id, epoch, int(seq), int(hlc), at, day, station, kind, outcome, code, card, uid,
        subject_kind, subject_id, data, roster_version, clock_synced, prev_hash, hash_,
    )  # fmt: skip


def create_central_app(store: CentralStore, settings: Settings) -> Any:
    """Build the central's HTTP app: health and the sync protocol."""
    from fastapi import FastAPI

    from edge.http.responses import SYNC_BODY, BodyLimit, add_error_handlers
    from edge.sync.server import Peers, add_sync_routes

    app = FastAPI(title="campus-edge central", version="0.1.0",
                  description="The district's record: campus hubs sync here.")  # fmt: skip
    clock = SystemClock()
    peers = Peers()

    add_error_handlers(app)

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        """Tell whether the central runs and how the hubs stand."""
        now = clock.now()
        behind = dt.timedelta(minutes=settings.behind_minutes)
        return {
            "status": "ok",
            "node_id": store.node_id,
            "role": "central",
            "events": store.count_events(),
            "hubs": peers.report(store.devices(), now, behind),
        }

    add_sync_routes(app, store, clock, peers)
    app.add_middleware(
        BodyLimit, limit=settings.max_body_bytes, paths={"/api/v1/sync/events": SYNC_BODY}
    )
    return app


def serve_central(settings: Settings) -> None:
    """Run the district central until interrupted."""
    import uvicorn

    from edge import systemd

    systemd.configure_logging()
    store = CentralStore(settings.database_url or "", node_id=settings.node_id)
    try:
        config = uvicorn.Config(
            create_central_app(store, settings),
            host=settings.host,
            port=settings.port,
            log_level="warning",
            access_log=False,
        )
        log.info("campus-edge central on http://%s:%s", settings.host, settings.port)
        server = uvicorn.Server(config)
        systemd.ready_when_serving(server, f"campus-edge central on port {settings.port}")
        systemd.stop_gracefully_on_signals()
        server.run()
    finally:
        systemd.notify("STOPPING=1")
        store.close()
