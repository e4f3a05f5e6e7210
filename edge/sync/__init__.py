"""Sync: each node keeps in step with its upstream (kiosk -> hub -> district central).

- ``protocol``: the messages on the wire (WireEvent, Push, Hello, RosterSnapshot...);
- ``client``: the sending side, one thread per node, over a ``SyncedNode`` port;
- ``server``: the receiving side, one APIRouter over a ``SyncStore`` port;
- ``hub``: the SyncStore of a node's own SQLite ledger (written by its one writer);
- ``central/``: the district central's store on PostgreSQL (its only SQL) and migrations.

What a synced event may hold and how pushes and staff actions are signed are pure
checks (edge.school.schema, edge.school.proof), which a node's writer asks too. sync
imports no http, node or cli: edge.http serves these routes (edge.http.central is the
central's app and serve loop) and edge.node starts the client.
"""
