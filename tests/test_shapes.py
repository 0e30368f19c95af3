"""The write shapes: every declared field has a check and is a column of its table."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

import attrs
import pytest
from sqlalchemy import Table

from gearbox_db import shapes
from gearbox_db._queries import _validate as v
from gearbox_db._queries._common import checked
from gearbox_db.importer._tables import by_name
from gearbox_db.records import SetupEntry
from gearbox_db.schema import items, setup_items, thread_candidates, threads

#: Each write shape and the table it writes.
WRITES: dict[type[Any], Table] = {
    shapes.NewItem: items,
    shapes.ItemChanges: items,
    shapes.NewCandidate: thread_candidates,
    shapes.CandidateChanges: thread_candidates,
    shapes.NewThread: threads,
    shapes.ThreadChanges: threads,
    shapes.NewEntry: setup_items,
    shapes.EntryChanges: setup_items,
}


@pytest.mark.parametrize("shape", list(WRITES), ids=lambda s: s.__name__)
def test_every_field_has_a_check_and_a_column(shape: type[Any]) -> None:
    checks = shapes.checks_of(shape)
    assert set(checks) == set(shape.__annotations__)
    assert all(callable(check) for check in checks.values())
    assert set(checks) <= set(WRITES[shape].c.keys())


def test_every_shape_of_the_module_is_tied_to_a_table() -> None:
    declared = {
        value
        for name, value in vars(shapes).items()
        if isinstance(value, type) and name[0].isupper() and hasattr(value, "__required_keys__")
    }
    details = {
        shapes.GearDetails,
        shapes.ItemDetails,
        shapes.CandidateDetails,
        shapes.Named,
        shapes.Renamed,
    }
    assert declared - details == set(WRITES)


def test_a_new_thing_and_its_changes_have_the_same_fields() -> None:
    assert shapes.checks_of(shapes.NewItem) == shapes.checks_of(shapes.ItemChanges)
    assert set(shapes.checks_of(shapes.NewCandidate)) == set(
        shapes.checks_of(shapes.CandidateChanges)
    )
    assert shapes.ItemChanges.__required_keys__ == frozenset()
    assert shapes.NewItem.__required_keys__ == {"name", "category_id"}


def test_the_entry_shapes_are_the_entry_record_s_fields_each_with_a_default() -> None:
    """The setups statements take an entry's columns from :class:`SetupEntry`:
    the shapes must name the same fields, and a new entry must default each one."""
    fields = {field.name for field in attrs.fields(SetupEntry)} - {"item"}
    assert set(shapes.checks_of(shapes.NewEntry)) == fields
    assert set(shapes.checks_of(shapes.EntryChanges)) == fields
    assert set(shapes.defaults_of(shapes.NewEntry)) == fields
    assert shapes.defaults_of(shapes.NewEntry)["classification"] == "base"
    assert shapes.EntryChanges.__required_keys__ == {"classification"}


def test_a_field_without_a_check_fails_when_declared() -> None:
    class Careless(TypedDict):
        name: Annotated[str, v.name]
        colour: str

    with pytest.raises(TypeError, match=r"Careless\.colour"):
        shapes.checks_of(Careless)


def test_an_unknown_or_missing_field_is_a_type_error_as_for_a_call() -> None:
    checks = shapes.checks_of(shapes.NewItem)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        checked({"name": "Tarp", "colour": "red"}, checks)
    with pytest.raises(TypeError, match="missing required keyword argument 'category_id'"):
        checked({"name": "Tarp"}, checks, shapes.NewItem.__required_keys__)


def test_the_importer_writes_the_gear_fields_of_the_shapes() -> None:
    gear = set(shapes.checks_of(shapes.GearDetails)) | {"name", "category_id"}
    for table in ("items", "thread_candidates"):
        assert gear <= {column.name for column in by_name(table).columns}


def test_unset_keeps_its_old_import_paths() -> None:
    import gearbox_db
    from gearbox_db._queries import _common

    assert gearbox_db.UNSET is _common.UNSET is shapes.UNSET
    assert repr(shapes.UNSET) == "UNSET"
    assert not shapes.UNSET
