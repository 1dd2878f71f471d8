import pyarrow as pa
from lancedb.index import BTree

from docflow.adapters.stores.lancedb import database

SCHEMA = pa.schema([pa.field("key", pa.string(), nullable=False), pa.field("value", pa.int64())])


def table_of(tmp_path, commits: int, rows_each: int = 10):
    table = database.connect(str(tmp_path), {}).create_table("t", schema=SCHEMA)
    for c in range(commits):
        add(table, range(c * rows_each, (c + 1) * rows_each))
    return table


def add(table, numbers) -> None:
    table.add(pa.table({"key": [f"k{i:05d}" for i in numbers], "value": list(numbers)}, schema=SCHEMA))


def fragments(table) -> dict[int, tuple[int, tuple[str, ...]]]:
    """fragment id -> (rows, data files): a rewritten fragment gets a new id and new files."""
    return {f.fragment_id: (f.physical_rows, tuple(d.path for d in f.data_files()))
            for f in table.to_lance().get_fragments()}


def values(table) -> list[int]:
    return sorted(table.to_arrow().column("value").to_pylist())


def test_compaction_rewrites_the_change_not_the_full_fragments(tmp_path):
    table = table_of(tmp_path, commits=25)
    database.compact(table, fragment_rows=100)
    full = fragments(table)
    assert all(f[0] >= 100 for f in full.values()) and sum(f[0] for f in full.values()) == 250
    for c in range(5):
        add(table, range(250 + c, 251 + c))
    table.delete("key = 'k00003'")  # 1 % of a fragment: below the threshold that rewrites it
    database.compact(table, fragment_rows=100)
    after = fragments(table)
    assert {i: after[i] for i in full} == full
    assert sorted(f[0] for i, f in after.items() if i not in full) == [5]
    assert values(table) == [v for v in range(255) if v != 3]


def test_compaction_drops_the_rows_a_fragment_has_lost_past_the_threshold(tmp_path):
    table = table_of(tmp_path, commits=20)
    database.compact(table, fragment_rows=100)
    table.delete("value < 30")  # 30 % of the first fragment
    database.compact(table, fragment_rows=100)
    assert sum(f[0] for f in fragments(table).values()) == 170
    assert values(table) == list(range(30, 200))


def test_compaction_brings_new_rows_into_an_index(tmp_path):
    table = table_of(tmp_path, commits=3)
    table.create_index("key", config=BTree())
    add(table, range(30, 40))
    assert table.index_stats("key_idx").num_unindexed_rows == 10
    database.compact(table)
    assert table.index_stats("key_idx").num_unindexed_rows == 0
    assert table.search().where("key = 'k00035'").to_arrow().column("value").to_pylist() == [35]


def test_compaction_of_no_table_is_nothing():
    database.compact(None)


def updates(numbers) -> pa.Table:
    return pa.table({"key": [f"k{i:05d}" for i in numbers], "value": [-i for i in numbers]},
                    schema=pa.schema([SCHEMA.field("key"), SCHEMA.field("value")]))


def test_an_update_changes_its_columns_of_known_keys_only(tmp_path, monkeypatch):
    wide = pa.schema([*SCHEMA, pa.field("note", pa.string())])
    for in_list_max in (database.IN_LIST_MAX, 1):  # full rows read by key, or LanceDB's partial merge
        monkeypatch.setattr(database, "IN_LIST_MAX", in_list_max)
        table = database.connect(str(tmp_path / str(in_list_max)), {}).create_table("t", schema=wide)
        table.add(pa.table({"key": ["k00001", "k00002", "k00003"], "value": [1, 2, 3], "note": ["a", "b", "c"]}, schema=wide))
        database.update(table, "key", updates([1, 3, 9]))
        assert sorted(table.to_arrow().to_pylist(), key=lambda r: r["key"]) == [
            {"key": "k00001", "value": -1, "note": "a"},
            {"key": "k00002", "value": 2, "note": "b"},
            {"key": "k00003", "value": -3, "note": "c"},
        ]
        database.update(table, "key", updates([]))
        assert table.count_rows() == 3
