"""The central's PostgreSQL schema, in order, and the runner that applies what is missing.

Each migration runs in its own transaction, under an advisory lock (one migrator at a
time), and is recorded in ``ce_migrations``.
"""

from __future__ import annotations

from typing import Any

from edge.store.migrations import History, apply

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
_LOCK_MIGRATIONS = 7_304_221  # pg_advisory_xact_lock key: one migrator at a time
CENTRAL_HISTORY = History(
    create="CREATE TABLE IF NOT EXISTS ce_migrations "
    "(name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
    names="SELECT name FROM ce_migrations",
    insert="INSERT INTO ce_migrations (name, applied_at) VALUES (%s, %s::timestamptz)",
)


def migrate(conn: Any) -> list[str]:
    """Apply the central's migrations not yet recorded, each in its own transaction.

    The same runner as a node's ledger (edge.store.migrations); an advisory lock in
    each transaction keeps two centrals starting at once from applying one twice.
    """
    return apply(
        conn, MIGRATIONS, CENTRAL_HISTORY, lambda c: c.transaction(),
        lock=f"SELECT pg_advisory_xact_lock({_LOCK_MIGRATIONS})",
    )  # fmt: skip
