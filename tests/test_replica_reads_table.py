"""docs/scaling.md's table of reads and writes matches the repositories (issue 14).

A method is a read when its executor calls go through ``self._x.read``
(a replica may run them), a write when they go through ``self._x`` (the
primary); ``sessions.validate`` does both (a read without ``renew_to``). A
method with no executor call of its own is what the method it calls is.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path
from typing import get_type_hints

import pytest

from gearbox_db._async.database import _AsyncRepositories

DOCS = Path(__file__).resolve().parent.parent / "docs" / "scaling.md"
_READ = re.compile(r"self\._x\.read\b")
_PRIMARY = re.compile(r"self\._x\b(?!\.read\b)")
_DELEGATE = re.compile(r"self\.(\w+)\(")


def _table() -> dict[str, tuple[set[str], set[str]]]:
    """repository -> (methods in the reads column, methods in the writes column)."""
    text = DOCS.read_text()
    section = text[text.index("### Which repository methods are reads") :]
    rows: dict[str, tuple[set[str], set[str]]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        rows[cells[0].strip("`")] = (_names(cells[1]), _names(cells[2]))
    return rows


def _names(cell: str) -> set[str]:
    """The method named first in each comma- or semicolon-separated entry."""
    entries = re.split(r"[,;]", cell)
    return {m.group(1) for e in entries if (m := re.search(r"`(\w+)`", e))}


def _repositories() -> dict[str, type]:
    """repository name -> its (async) class, from the database's properties."""
    return {
        name: get_type_hints(value.func)["return"]
        for name, value in vars(_AsyncRepositories).items()
        if not name.startswith("_") and hasattr(value, "func")
    }


def _kinds(cls: type) -> dict[str, tuple[bool, bool]]:
    """method -> (reads on a replica, writes on the primary)."""
    sources = {
        name: inspect.getsource(member)
        for name, member in vars(cls).items()
        if not name.startswith("_") and inspect.isfunction(member)
    }
    kinds: dict[str, tuple[bool, bool]] = {}
    for name, source in sources.items():
        read, primary = bool(_READ.search(source)), bool(_PRIMARY.search(source))
        if not read and not primary:
            called = [c for c in _DELEGATE.findall(source) if c in sources]
            assert called, f"{cls.__name__}.{name} runs no statement"
            read, primary = (
                bool(_READ.search(sources[called[0]])),
                bool(_PRIMARY.search(sources[called[0]])),
            )
        kinds[name] = (read, primary)
    return kinds


def test_every_repository_is_in_the_table() -> None:
    assert set(_table()) == set(_repositories())


@pytest.mark.parametrize("repository", sorted(_repositories()))
def test_the_table_matches_the_read_flags(repository: str) -> None:
    cls = _repositories()[repository]
    reads, writes = _table()[repository]
    kinds = _kinds(cls)
    assert reads == {name for name, (read, _) in kinds.items() if read}
    assert writes == {name for name, (_, primary) in kinds.items() if primary}
