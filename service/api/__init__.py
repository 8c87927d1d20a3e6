"""The HTTP API (SPEC §6)."""
