"""The database API and its repositories, written once: ``gearbox_db._async`` is the
source, ``gearbox_db._sync`` is generated from it (unasyncd)."""
