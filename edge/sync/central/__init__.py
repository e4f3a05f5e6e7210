"""The district central: the same sync protocol, stored in PostgreSQL (psycopg 3).

Campus hubs push their campus's events here (each hub is a device of kind "hub",
and its device name is its campus) and pull their roster from here. Nothing here
decides taps: the central keeps the district's record.

``store.CentralStore`` holds every SQL statement of the central, ``migrations`` its
schema, ``rows`` how an event is a row; its HTTP app and serve loop are
edge.http.central (``campus-edge serve --role central``).

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
- Every pushed event is checked first (edge.school.schema); a batch the database still
  refuses (a value PostgreSQL cannot hold) is refused like a broken chain, kept aside
  with its reason and answered 422, never a 500 the hub would retry forever.
- Every push is signed with the hub's node key (edge.school.proof.push_message), bound
  with its node id at its first hello (or pinned at ``device add --hub --node-key``,
  its node id then learnt at its first hello); a hub that has not said hello pushes
  nothing, and a push unsigned or signed otherwise is refused whole and kept aside.
- Staff proofs (edge.school.proof): a hub binds its node key and node id at its first
  hello; the proofs of the hub's own actions are checked with that key. Events of the
  hub's kiosks, relayed, carry proofs the hub checked with each kiosk's key when they
  arrived there; the central checks their form but trusts the hub for the signature
  (it learns no kiosk keys), and nothing flows from the central down to any node.
- Events are indexed by (campus, day) for the district's reports; partitioning by
  day is the next step at 20 million events a day, and needs no change here.
"""

from edge.sync.central.store import CentralStore

__all__ = ["CentralStore"]
