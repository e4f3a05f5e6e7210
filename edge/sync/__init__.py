"""Sync with the campus hub and the district central: protocol, client, receivers, checks."""
