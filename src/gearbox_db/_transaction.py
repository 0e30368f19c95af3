"""Transaction bookkeeping shared by the async and the sync implementation (no I/O)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import attrs
import psycopg
from sqlalchemy.exc import SQLAlchemyError

from gearbox_db.errors import GearboxDBError, InvalidStateError, translate

__all__ = ["TransactionState", "translated"]


@attrs.define
class TransactionState:
    """Whether a statement of a transaction failed (the server then aborted it)."""

    failure: GearboxDBError | None = None

    def check_usable(self) -> None:
        """Refuse to run more statements in an aborted transaction."""
        if self.failure is not None:
            raise InvalidStateError(
                f"the transaction was aborted by an earlier error ({self.failure}); "
                "it can only be rolled back (use a savepoint to recover from expected errors)"
            ) from self.failure


@contextmanager
def translated(state: TransactionState | None = None) -> Iterator[None]:
    """Raise gearbox_db errors for driver errors in the block; record them in ``state``."""
    if state is not None:
        state.check_usable()
    try:
        yield
    except (SQLAlchemyError, psycopg.Error) as exc:
        error = translate(exc)
        if state is not None:
            state.failure = error
        # Chain the driver's own error (SQLAlchemy's wrapper would also carry the
        # statement's parameters, which may hold secrets, into tracebacks).
        raise error from getattr(exc, "orig", None) or exc
