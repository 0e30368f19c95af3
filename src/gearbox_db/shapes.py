"""What a caller may write: one declaration per write shape.

Each shape is a ``TypedDict`` whose fields are the writable columns of one
write (a new item, the changes to an item, ...). A field's type is
``Annotated[type, check]``: ``check(value, field_name)`` returns the value to
store or raises ValidationError naming the field. The repositories take a
shape as keyword arguments (``**fields: Unpack[NewItem]``: editors complete
the names, mypy checks the types), the statement builders validate with the
checks declared here (:func:`checks_of`), and the importer takes the gear
columns from :class:`GearDetails`. A field without a check fails when this
module is imported, not when it is written.

In a *changes* shape every field may be left out (the column stays as it is);
:data:`UNSET` means the same. ``None`` clears an optional field.
"""

# No ``from __future__ import annotations``: the shapes' annotations are read
# at import time (``typing.get_type_hints``), Required/NotRequired included.

from collections.abc import Callable, Mapping
from typing import (
    Annotated,
    Any,
    Final,
    NotRequired,
    Required,
    TypeAlias,
    TypedDict,
    get_args,
    get_origin,
    get_type_hints,
)

from gearbox_db._queries import _validate as v
from gearbox_db.records import CandidateStatus, Classification
from gearbox_db.schema import CANDIDATE_STATUSES, CLASSIFICATIONS

__all__ = [
    "UNSET",
    "CandidateChanges",
    "CandidateDetails",
    "Check",
    "Default",
    "EntryChanges",
    "GearDetails",
    "ItemChanges",
    "ItemDetails",
    "Named",
    "NewCandidate",
    "NewEntry",
    "NewItem",
    "NewThread",
    "Renamed",
    "ThreadChanges",
    "Unset",
    "checks_of",
    "defaults_of",
]


class Unset:
    """Type of :data:`UNSET`: a field a change leaves as it is."""

    _instance: "Unset | None" = None

    def __new__(cls) -> "Unset":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNSET"

    def __bool__(self) -> bool:
        return False


#: A field of a change that is left as it is (the same as leaving it out).
UNSET: Final = Unset()

#: ``check(value, field_name)``: the value to store, or ValidationError naming the field.
Check: TypeAlias = Callable[[Any, str], object]


class Default:
    """Marks a field's value when a new row leaves it out:
    ``Annotated[int, check, Default(0)]`` (see :func:`defaults_of`)."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


def _candidate_status(value: object, field: str) -> str:
    return v.choice(value, CANDIDATE_STATUSES, field)


def _classification(value: object, field: str) -> str:
    return v.choice(value, CLASSIFICATIONS, field)


class Named(TypedDict):
    """A name and a category: what a new thread or item must have."""

    name: Annotated[str, v.name]
    category_id: Annotated[int, v.identifier]


class Renamed(TypedDict, total=False):
    """A new name and/or category (of a thread, item or candidate)."""

    name: Annotated[str, v.name]
    category_id: Annotated[int, v.identifier]


class GearDetails(TypedDict, total=False):
    """The optional fields of every piece of gear (items and candidates):
    ``None`` (the default) is unknown / none."""

    weight_grams: Annotated[float | None, v.weight]
    price_cents: Annotated[int | None, v.price]
    notes: Annotated[str | None, v.optional_text]
    product_url: Annotated[str | None, v.optional_text]
    image_filename: Annotated[str | None, v.optional_text]
    image_source_url: Annotated[str | None, v.optional_text]


class ItemDetails(GearDetails, total=False):
    """The optional fields of an item (``quantity`` defaults to 1)."""

    quantity: Annotated[int, v.quantity]


class NewItem(Named, ItemDetails):
    """A new item: a name and a category, and any of :class:`ItemDetails`."""


class ItemChanges(Renamed, ItemDetails, total=False):
    """Changes to an item: any of its fields."""


class CandidateDetails(GearDetails, total=False):
    """The optional fields of a candidate (``status`` defaults to ``"researching"``)."""

    status: Annotated[CandidateStatus, _candidate_status]
    pros: Annotated[str | None, v.optional_text]
    cons: Annotated[str | None, v.optional_text]


class NewCandidate(CandidateDetails):
    """A new candidate: a name, and any of :class:`CandidateDetails`; without a
    ``category_id`` (or with ``None``) it takes its thread's category."""

    name: Annotated[str, v.name]
    category_id: NotRequired[Annotated[int | None, v.identifier]]


class CandidateChanges(Renamed, CandidateDetails, total=False):
    """Changes to a candidate: any of its fields (its place: ``move_candidate``)."""


class NewThread(Named):
    """A new thread: a name and a category."""


class ThreadChanges(Renamed, total=False):
    """Changes to a thread: its name and/or category."""


class NewEntry(TypedDict, total=False):
    """A new entry of a setup (an item is put in it): its fields besides the
    item, each with its :class:`Default`."""

    classification: Annotated[Classification, _classification, Default("base")]


class EntryChanges(TypedDict, total=False):
    """Changes to an entry of a setup (``classification`` must be given)."""

    classification: Required[Annotated[Classification, _classification]]


_KNOWN: dict[type[Any], Mapping[str, Check]] = {}


def checks_of(shape: type[Mapping[str, Any]]) -> Mapping[str, Check]:
    """The check of each field of ``shape``, in declaration order (TypeError, at
    import, for a field declared without one)."""
    if shape in _KNOWN:
        return _KNOWN[shape]
    checks: dict[str, Check] = {}
    for field, hint in get_type_hints(shape, include_extras=True).items():
        while get_origin(hint) in (Required, NotRequired):
            (hint,) = get_args(hint)
        found = [m for m in getattr(hint, "__metadata__", ()) if callable(m)]
        if len(found) != 1:
            raise TypeError(f"{shape.__name__}.{field} must declare one check (Annotated)")
        checks[field] = found[0]
    _KNOWN[shape] = checks
    return checks


def defaults_of(shape: type[Mapping[str, Any]]) -> Mapping[str, object]:
    """The :class:`Default` value of each field of ``shape`` that declares one."""
    defaults: dict[str, object] = {}
    for field, hint in get_type_hints(shape, include_extras=True).items():
        while get_origin(hint) in (Required, NotRequired):
            (hint,) = get_args(hint)
        for mark in getattr(hint, "__metadata__", ()):
            if isinstance(mark, Default):
                defaults[field] = mark.value
    return defaults


# Every shape is checked here, at import: a field without a check fails now.
_CHECKED: Final = {
    shape: checks_of(shape)
    for shape in (
        NewItem,
        ItemChanges,
        NewCandidate,
        CandidateChanges,
        NewThread,
        ThreadChanges,
        NewEntry,
        EntryChanges,
    )
}
