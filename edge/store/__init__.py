"""The only SQL on a node: the ledger, rosters and photos, access, meta."""
