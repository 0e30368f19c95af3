"""Conventions the code relies on, checked rather than remembered."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import gearbox_db
from gearbox_db import errors
from gearbox_db.schema import metadata


def _public_modules() -> list[str]:
    names = ["gearbox_db"]
    for info in pkgutil.walk_packages(gearbox_db.__path__, "gearbox_db."):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts[1:]):
            continue
        if info.name == "gearbox_db.migrations.env" or ".migrations.versions" in info.name:
            continue  # Alembic's scripts, run by Alembic, not imported
        names.append(info.name)
    return names


PUBLIC = _public_modules()


def test_the_public_modules_are_found() -> None:
    assert {"gearbox_db.errors", "gearbox_db.schema", "gearbox_db.embedded"} <= set(PUBLIC)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_module_declares_what_it_exports(name: str) -> None:
    module: ModuleType = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    missing = [symbol for symbol in exported if not hasattr(module, symbol)]
    assert missing == [], f"{name}.__all__ names what it does not define: {missing}"


def _schema_constraint_names() -> set[str]:
    names: set[str] = set()
    for table in metadata.tables.values():
        names |= {str(c.name) for c in table.constraints if c.name is not None}
        names |= {str(i.name) for i in table.indexes if i.name is not None}
    return names


def test_constraint_wording_only_for_constraints_the_schema_has() -> None:
    known = _schema_constraint_names()
    worded = set(errors._CONSTRAINT_MESSAGES)
    assert worded, "errors words no constraint"
    assert worded - known == set()


def _check_generated() -> ModuleType:
    path = Path(__file__).parents[1] / "tools" / "check_generated.py"
    spec = importlib.util.spec_from_file_location("check_generated", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_rename_entry_of_the_generator_does_something() -> None:
    tool = _check_generated()
    assert tool.idle_replacements(tool._replacements()) == []
    assert tool.idle_replacements(["gearbox_db._async.nothing.AsyncNothing", "AsyncNothing"]) == [
        "gearbox_db._async.nothing.AsyncNothing",
        "AsyncNothing",
    ]
