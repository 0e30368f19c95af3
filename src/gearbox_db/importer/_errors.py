"""Errors of the importer (all :class:`gearbox_db.errors.GearboxDBError`)."""

from __future__ import annotations

from gearbox_db.errors import GearboxDBError

__all__ = ["ImportFailedError", "SourceError", "TargetNotEmptyError"]


class SourceError(GearboxDBError):
    """The legacy file cannot be read: missing, not SQLite, locked, corrupt, not GearBox."""


class TargetNotEmptyError(GearboxDBError):
    """The target database already holds GearBox data (use ``replace=True`` / ``--replace``)."""


class ImportFailedError(GearboxDBError):
    """The import failed while writing (connection lost, count mismatch, ...); nothing was kept."""
