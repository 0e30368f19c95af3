"""The migrated schema's structure, read from the catalog, against the contract
(gearbox-data-model.md, section 3)."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, text

from gearbox_db.schema import TOUCHED_TABLES, TRIGRAM_INDEX, metadata
from gearbox_db.testing import isolated
from tests.schema_spec import (
    EXPECTED_COLUMNS,
    EXPECTED_FOREIGN_KEYS,
    EXPECTED_PRIMARY_KEYS,
    Col,
    ForeignKey,
)

# ---------------------------------------------------------------------------
# Structure, read from the catalog
# ---------------------------------------------------------------------------


def test_tables_are_exactly_the_contract(gearbox_connection: Connection) -> None:
    tables = gearbox_connection.execute(
        text(
            "SELECT cls.relname FROM pg_class AS cls "
            "WHERE cls.relnamespace = current_schema()::regnamespace AND cls.relkind IN ('r', 'p')"
        )
    ).scalars()
    assert set(tables) == {*EXPECTED_COLUMNS, "gearbox_db_version"}
    assert len(EXPECTED_COLUMNS) == 14  # the 13 of the contract and category_totals


@pytest.mark.parametrize("table", sorted(EXPECTED_COLUMNS))
def test_columns_match_the_contract(gearbox_connection: Connection, table: str) -> None:
    rows = gearbox_connection.execute(
        text(
            "SELECT att.attname, format_type(att.atttypid, att.atttypmod), att.attnotnull, "
            "       pg_get_expr(dflt.adbin, dflt.adrelid), att.attidentity "
            "FROM pg_attribute AS att "
            "LEFT JOIN pg_attrdef AS dflt "
            "ON dflt.adrelid = att.attrelid AND dflt.adnum = att.attnum "
            "WHERE att.attrelid = to_regclass(:table) AND att.attnum > 0 AND NOT att.attisdropped"
        ),
        {"table": table},
    ).all()
    actual = {
        name: Col(type_, not_null, default, identity)
        for name, type_, not_null, default, identity in rows
    }
    assert actual == EXPECTED_COLUMNS[table]
    primary_key = gearbox_connection.execute(
        text(
            "SELECT array_agg(att.attname ORDER BY keycol.ord) FROM pg_constraint AS con "
            "CROSS JOIN unnest(con.conkey) WITH ORDINALITY AS keycol(attnum, ord) "
            "JOIN pg_attribute AS att "
            "ON att.attrelid = con.conrelid AND att.attnum = keycol.attnum "
            "WHERE con.conrelid = to_regclass(:table) AND con.contype = 'p'"
        ),
        {"table": table},
    ).scalar_one()
    assert primary_key == EXPECTED_PRIMARY_KEYS[table]


def test_foreign_keys_match_the_contract(gearbox_connection: Connection) -> None:
    rows = gearbox_connection.execute(
        text(
            "SELECT con.conname, con.conrelid::regclass::text, att.attname, "
            "       con.confrelid::regclass::text, fatt.attname, con.confdeltype, con.confupdtype, "
            "       con.condeferrable, con.condeferred "
            "FROM pg_constraint AS con "
            "JOIN pg_attribute AS att "
            "ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1] "
            "JOIN pg_attribute AS fatt "
            "ON fatt.attrelid = con.confrelid AND fatt.attnum = con.confkey[1] "
            "WHERE con.contype = 'f' AND con.connamespace = current_schema()::regnamespace "
            "  AND cardinality(con.conkey) = 1"
        )
    ).all()
    actual = {
        row[0]: ForeignKey(row[1], row[2], row[3], row[4], row[5], row[7], row[8]) for row in rows
    }
    assert actual == EXPECTED_FOREIGN_KEYS
    assert len(rows) == len(EXPECTED_FOREIGN_KEYS)  # no multi-column key slipped past
    assert {row[6] for row in rows} == {"a"}  # ON UPDATE NO ACTION everywhere


def test_updated_at_trigger_is_on_exactly_the_touched_tables(
    gearbox_connection: Connection,
) -> None:
    rows = gearbox_connection.execute(
        text(
            "SELECT trg.tgrelid::regclass::text, trg.tgname, proc.proname FROM pg_trigger AS trg "
            "JOIN pg_proc AS proc ON proc.oid = trg.tgfoid "
            "WHERE NOT trg.tgisinternal"
        )
    ).all()
    expected = {
        (table, f"{table}_touch_updated_at", "gearbox_touch_updated_at")
        for table in ("items", "threads", "thread_candidates", "setups")
    }
    assert set(map(tuple, rows)) == expected | CATEGORY_TOTALS_TRIGGERS
    assert set(TOUCHED_TABLES) == {table for table, _, _ in expected}


#: The statement triggers keeping category_totals (revision 0004): (table, trigger, function).
CATEGORY_TOTALS_TRIGGERS = {
    ("items", f"items_category_totals_{op}", f"gearbox_category_totals_{op}")
    for op in ("insert", "update", "delete", "truncate")
}


def test_category_totals_triggers_are_statement_triggers_with_transition_tables(
    gearbox_connection: Connection,
) -> None:
    """AFTER ... FOR EACH STATEMENT, each op on its own; INSERT/UPDATE/DELETE see their rows."""
    rows = gearbox_connection.execute(
        text(
            "SELECT tgname, tgtype, tgoldtable, tgnewtable FROM pg_trigger "
            "WHERE tgrelid = 'items'::regclass AND tgname LIKE 'items_category_totals_%'"
        )
    ).all()
    # tgtype bits: 1 ROW, 2 BEFORE, 4 INSERT, 8 DELETE, 16 UPDATE, 32 TRUNCATE
    expected = {
        "items_category_totals_insert": (4, None, "new_items"),
        "items_category_totals_update": (16, "old_items", "new_items"),
        "items_category_totals_delete": (8, "old_items", None),
        "items_category_totals_truncate": (32, None, None),
    }
    assert {name: (kind, old, new) for name, kind, old, new in rows} == expected


def unindexed_foreign_keys(conn: Connection) -> tuple[set[str], set[str]]:
    """(every foreign key, those without an index led by its columns) of the schema.

    An index serves a foreign key when its leading columns are the key's
    columns (in any order); partial and expression indexes do not count.
    """
    foreign_keys = conn.execute(
        text(
            "SELECT conrelid, conrelid::regclass::text || '.' || conname, conkey::int2[] "
            "FROM pg_constraint "
            "WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
        )
    ).all()
    indexes = conn.execute(
        text(
            "SELECT ix.indrelid, ix.indkey::int2[] FROM pg_index AS ix "
            "JOIN pg_class AS cls ON cls.oid = ix.indrelid "
            "WHERE cls.relnamespace = current_schema()::regnamespace AND ix.indpred IS NULL"
        )
    ).all()
    leading: dict[int, list[list[int]]] = {}
    for relid, columns in indexes:
        leading.setdefault(relid, []).append(list(columns))
    unindexed = {
        name
        for relid, name, key in foreign_keys
        if not any(sorted(columns[: len(key)]) == sorted(key) for columns in leading.get(relid, []))
    }
    return {name for _, name, _ in foreign_keys}, unindexed


def test_every_foreign_key_has_an_index(gearbox_connection: Connection) -> None:
    every, unindexed = unindexed_foreign_keys(gearbox_connection)
    assert every == {f"{fk.table}.{name}" for name, fk in EXPECTED_FOREIGN_KEYS.items()}
    assert unindexed == set()


def test_the_foreign_key_index_check_notices_a_missing_index(
    gearbox_connection: Connection,
) -> None:
    with isolated(gearbox_connection) as conn:
        conn.execute(
            text(
                "CREATE TABLE probe (id bigint PRIMARY KEY, "
                "item_id bigint CONSTRAINT fk_probe_item REFERENCES items (id), "
                "setup_id bigint CONSTRAINT fk_probe_setup REFERENCES setups (id))"
            )
        )
        conn.execute(text("CREATE INDEX ix_probe_partial ON probe (setup_id) WHERE id > 0"))
        every, unindexed = unindexed_foreign_keys(conn)
        assert {"probe.fk_probe_item", "probe.fk_probe_setup"} <= every
        assert {name for name in unindexed if name.startswith("probe.")} == {
            "probe.fk_probe_item",
            "probe.fk_probe_setup",
        }
        conn.execute(text("CREATE INDEX ix_probe_item_id ON probe (item_id, id)"))
        _, unindexed = unindexed_foreign_keys(conn)
        assert {name for name in unindexed if name.startswith("probe.")} == {"probe.fk_probe_setup"}


def test_constraint_and_index_names_are_those_of_the_metadata(
    gearbox_connection: Connection,
) -> None:
    rows = gearbox_connection.execute(
        text(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE connamespace = current_schema()::regnamespace "
            "  AND contype IN ('p', 'u', 'f', 'c', 'x') "
            "UNION ALL "
            "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = current_schema()"
        )
    ).all()
    in_database = {(table, name) for table, name in rows}
    in_database -= {("gearbox_db_version", "gearbox_db_version_pkc")}
    in_metadata = {
        (table.name, str(constraint.name))
        for table in metadata.tables.values()
        for constraint in table.constraints
    } | {
        (table.name, str(index.name))
        for table in metadata.tables.values()
        for index in table.indexes
    }
    assert all(name and name != "None" for _, name in in_metadata)
    if has_trigram_extension(gearbox_connection):  # the one index outside the metadata
        in_metadata |= {("items", TRIGRAM_INDEX)}
    assert in_database == in_metadata


def has_trigram_extension(conn: Connection) -> bool:
    """Whether pg_trgm is installed in the database (0002 then built the trigram index)."""
    query = "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm')"
    return bool(conn.execute(text(query)).scalar_one())


def test_the_trigram_index_exists_exactly_where_pg_trgm_does(
    gearbox_connection: Connection,
) -> None:
    definition = gearbox_connection.execute(
        text("SELECT pg_get_indexdef(to_regclass(:name))"), {"name": TRIGRAM_INDEX}
    ).scalar_one()
    if has_trigram_extension(gearbox_connection):
        assert definition is not None
        assert "USING gin (lower(name) " in definition
        assert definition.endswith("gin_trgm_ops)")
    else:
        assert definition is None
