"""Async implementation: the source of truth; ``gearbox_db._sync`` is generated from it."""
