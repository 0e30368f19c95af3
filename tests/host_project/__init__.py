"""A host service's own Alembic project, built in a temp dir by the tests."""
