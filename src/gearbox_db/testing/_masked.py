"""Test-run values that may carry a password, shown masked."""

from __future__ import annotations

from gearbox_db._url import mask

__all__ = ["MaskedURL"]


class MaskedURL(str):
    """A database URL (a ``str``, usable as is) whose ``repr`` masks its password.

    pytest shows a failing test's arguments with ``repr``: the URL a fixture
    gives must not print the test server's password there.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return repr(mask(str(self)))
