"""Records as JSON: ``records.to_dict`` and ``web.response_model`` (issue 10, point 4)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from sqlalchemy import Connection

from gearbox_db import Database
from gearbox_db.records import SetupDetail, to_dict


@pytest.fixture
def detail(gearbox_connection: Connection) -> SetupDetail:
    db = Database.from_connection(gearbox_connection)
    shelter = db.categories.create(name="Shelter")
    tarp = db.items.create(name="Tarp", category_id=shelter.id, weight_grams=310.5)
    setup = db.setups.create(name="Overnighter")
    return db.setups.replace_items(setup.id, {tarp.id: "base"})


def test_to_dict_is_json_ready_with_nested_records(detail: SetupDetail) -> None:
    data = json.loads(json.dumps(to_dict(detail)))
    entry = data["entries"][0]
    assert entry["classification"] == "base"
    assert entry["item"]["name"] == "Tarp"
    assert datetime.fromisoformat(entry["item"]["created_at"]) == detail.entries[0].item.created_at
    assert data["totals"]["by_category"][0]["category_name"] == "Shelter"
    assert data["setup"]["id"] == detail.setup.id


def test_to_dict_refuses_what_is_not_a_record() -> None:
    with pytest.raises(TypeError, match="record"):
        to_dict({"a": 1})


def test_response_model_reads_records_as_they_are(detail: SetupDetail) -> None:
    pytest.importorskip("pydantic")
    from gearbox_db.web import response_model

    model = response_model(SetupDetail)
    dumped = model.model_validate(detail, from_attributes=True).model_dump(mode="json")
    expected = to_dict(detail)
    assert dumped["entries"][0]["item"]["id"] == expected["entries"][0]["item"]["id"]
    assert datetime.fromisoformat(dumped["setup"]["created_at"]) == detail.setup.created_at
    assert dumped["totals"]["pack_grams"] == expected["totals"]["pack_grams"]
