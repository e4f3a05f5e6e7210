"""The central's store: every SQL statement of the district central (PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import os
import secrets
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from edge.errors import AuthError, ReportError, StorageError
from edge.school import roster as roster_mod
from edge.school.events import Chain, Event, check_chains
from edge.school.roster import Roster
from edge.store.access import Device
from edge.sync.central.migrations import migrate
from edge.sync.central.rows import COPY_COLUMNS, SELECT_COLUMNS, copy_row, event_of, parse_cursor
from edge.sync.protocol import RosterSnapshot, photo_names
from edge.writer import ChainBroken, Ingested


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

    def append_action(self, code: str, data: dict[str, Any], subject_id: str | None = None) -> None:
        """Keep an operator's action on the central (append-only), with who ran it.

        The same call as a node's ``Ledger.append_action``, so a CLI command records its
        action alike wherever it runs; the central keeps no chain, so no subject.
        """
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

    def pass_key(self) -> None:
        """Return no pass key: the central signs no pickup passes."""
        return None

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
                        f"COPY events ({COPY_COLUMNS}) FROM STDIN"  # noqa: S608 - constants
                    ) as copy,
                ):
                    for event in check.stored:
                        copy.write_row(copy_row(campus, event))
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
        tx, pos = parse_cursor(after)
        with self.pool.connection() as conn:
            rows = conn.execute(
                f"SELECT {SELECT_COLUMNS} FROM events "  # noqa: S608 - constants
                "WHERE campus = %s AND (tx, pos) > (%s::xid8, %s) "
                "AND tx < pg_snapshot_xmin(pg_current_snapshot()) "
                "ORDER BY tx, pos LIMIT %s",
                (device.name, tx, pos, limit),
            ).fetchall()
        events = [event_of(r[2:]) for r in rows]
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
        row = self._newest_roster(device.name)
        if row is None:
            return None
        version, source, school_toml, tables = row
        tag = f"central:{version}"
        if tag == have if have is not None else version <= since:
            return None
        return RosterSnapshot(version=version, source=source, school_toml=school_toml,
                              tables=tables, photos=photo_names(tables), tag=tag)  # fmt: skip

    def _newest_roster(self, campus: str) -> tuple[int, str, str, dict[str, Any]] | None:
        """Return a campus's newest (version, source, school_toml, tables), if any."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT version, source, school_toml, tables FROM rosters WHERE campus = %s "
                "ORDER BY version DESC LIMIT 1",
                (campus,),
            ).fetchone()
        return (int(row[0]), str(row[1]), str(row[2]), row[3]) if row else None

    # -- reports ------------------------------------------------------------------------

    def campuses(self) -> list[str]:
        """Return the campuses with a roster, in name order."""
        with self.pool.connection() as conn:
            rows = conn.execute("SELECT DISTINCT campus FROM rosters ORDER BY campus").fetchall()
        return [r[0] for r in rows]

    def campus_roster(self, campus: str) -> Roster:
        """Return a campus's newest roster, built and checked as a node builds it."""
        row = self._newest_roster(campus)
        if row is None:
            known = ", ".join(self.campuses()) or "none yet"
            raise ReportError(f"the central holds no roster of campus '{campus}' ({known})", 404)
        version, _, school_toml, tables = row
        return roster_mod.build(tables, school_toml, version)

    def campus_events(
        self, campus: str, start: dt.date, end: dt.date, kinds: Iterable[str] | None = None
    ) -> Iterator[Event]:
        """Yield a campus's events of the days, day by day in fold order, streamed."""
        sql = (
            f"SELECT {SELECT_COLUMNS} FROM events WHERE campus = %s "  # noqa: S608 - constants
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
                yield event_of(row[2:])

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


def _one(conn: Any, sql: str, params: tuple[Any, ...]) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None, sql  # aggregates always give a row
    return row[0]
