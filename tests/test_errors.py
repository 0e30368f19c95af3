"""How server errors become the library's: every SQLSTATE class deliberately, a
constraint's wording only for that constraint's SQLSTATE. Real server errors
where PostgreSQL can be made to raise them; psycopg's own exception classes
(which carry their SQLSTATE) for the others."""

from __future__ import annotations

import psycopg
import psycopg.errors
import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from gearbox_db.errors import (
    ConcurrencyError,
    ConfigurationError,
    ConflictError,
    GearboxDBError,
    InvalidStateError,
    MigrationError,
    UnavailableError,
    ValidationError,
    translate,
)


def server_error(conn: Connection, *statements: str) -> GearboxDBError:
    """The library error for the last of ``statements`` (run in a savepoint)."""
    savepoint = conn.begin_nested()
    try:
        for statement in statements:
            conn.execute(text(statement))
    except DBAPIError as exc:
        return translate(exc)
    finally:
        savepoint.rollback()
    raise AssertionError("the statements did not fail")


# 3,200 characters of md5 hex (incompressible, so it stays large in the index):
# above the 2,704-byte limit of a btree index entry.
_TOO_LARGE_FOR_AN_INDEX = (
    "INSERT INTO categories (name) "
    "SELECT string_agg(md5(g::text), '') FROM generate_series(1, 100) g"
)


def test_a_missing_table_is_a_migration_error(gearbox_connection: Connection) -> None:
    error = server_error(gearbox_connection, "SELECT * FROM gearbox_no_such_table")
    assert type(error) is MigrationError
    assert error.sqlstate == "42P01"


def test_prepared_statement_errors_are_configuration_errors(gearbox_connection: Connection) -> None:
    missing = server_error(gearbox_connection, "EXECUTE gearbox_never_prepared")
    assert (type(missing), missing.sqlstate) == (ConfigurationError, "26000")
    duplicate = server_error(
        gearbox_connection, "PREPARE gearbox_twice AS SELECT 1", "PREPARE gearbox_twice AS SELECT 1"
    )
    assert (type(duplicate), duplicate.sqlstate) == (ConfigurationError, "42P05")


def test_an_index_row_too_large_is_a_validation_error_with_the_servers_message(
    gearbox_connection: Connection,
) -> None:
    """SQLSTATE 54000 names the unique index's constraint, but it is not a
    uniqueness violation: the constraint's wording must not be used."""
    error = server_error(gearbox_connection, _TOO_LARGE_FOR_AN_INDEX)
    assert type(error) is ValidationError
    assert error.sqlstate == "54000"
    assert error.constraint == "uq_categories_name"  # the server names the index
    assert "already exists" not in str(error)


def test_a_real_uniqueness_violation_keeps_its_wording(gearbox_connection: Connection) -> None:
    error = server_error(
        gearbox_connection, "INSERT INTO categories (name) VALUES ('Uncategorized')"
    )
    assert (type(error), str(error)) == (ConflictError, "a category with this name already exists")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (psycopg.errors.ProtocolViolation("bad message"), ConfigurationError),  # 08P01
        (psycopg.errors.ConnectionFailure("gone"), UnavailableError),  # 08006
        (psycopg.errors.NumericValueOutOfRange("overflow"), ValidationError),  # 22003
        (psycopg.errors.DatetimeFieldOverflow("overflow"), ValidationError),  # 22008
        (psycopg.errors.DivisionByZero("zero"), ValidationError),  # 22012
        (psycopg.errors.ProgramLimitExceeded("too big"), ValidationError),  # 54000
        (psycopg.errors.StatementTooComplex("too big"), ValidationError),  # 54001
        (psycopg.errors.InvalidSqlStatementName("no such"), ConfigurationError),  # 26000
        (psycopg.errors.DuplicatePreparedStatement("twice"), ConfigurationError),  # 42P05
        (psycopg.errors.UndefinedColumn("no such"), MigrationError),  # 42703
        (psycopg.errors.InsufficientPrivilege("no"), ConfigurationError),  # 42501
        (psycopg.errors.ReadOnlySqlTransaction("replica"), ConfigurationError),  # 25006
        (psycopg.errors.InFailedSqlTransaction("aborted"), InvalidStateError),  # 25P02
        (psycopg.errors.SerializationFailure("retry"), ConcurrencyError),  # 40001
        (psycopg.errors.DeadlockDetected("retry"), ConcurrencyError),  # 40P01
        (psycopg.errors.DiskFull("full"), UnavailableError),  # 53100
        (psycopg.errors.AdminShutdown("bye"), UnavailableError),  # 57P01
        (psycopg.errors.InvalidPassword("no"), ConfigurationError),  # 28P01
        (psycopg.errors.InvalidCatalogName("no db"), ConfigurationError),  # 3D000
        (psycopg.errors.SyntaxError("bug"), GearboxDBError),  # 42601: a bug of ours
    ],
)
def test_sqlstates_map_deliberately(exc: psycopg.Error, expected: type[GearboxDBError]) -> None:
    error = translate(exc)
    assert type(error) is expected
    assert error.sqlstate == exc.sqlstate
