"""Sync with the campus hub and district central (not part of this build yet)."""
