"""One LanceDB database: connections, tables, the write lock, and the merge that every table's
upsert is.

LanceDB's optimistic concurrency lets two processes that merge the same key both succeed and
leave duplicates, so writers on one host are serialised by a file lock in the database
directory; on object stores the conflict-retry policy applies."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import timedelta

import pyarrow as pa

from docflow.core.locations import is_remote, local_path
from docflow.core.models import Target

METADATA_KEY = b"docflow"
# Beyond this many documents one scan of the whole table beats an IN (...) list.
IN_LIST_MAX = 2000
LOCK_NAME = ".docflow-write.lock"
# Rows per fragment that compaction aims at: the most one compaction rewrites besides the
# change (a chunk row with its vector is a few kB) and few enough fragments for a scan.
FRAGMENT_ROWS = 16_384


def connect(uri: str, storage_options: Mapping[str, str]):
    import lancedb

    if not is_remote(uri):
        os.makedirs(local_path(uri), exist_ok=True)
    # A handle opened earlier reads stale data unless told to re-check on every read.
    return lancedb.connect(
        uri, read_consistency_interval=timedelta(0), storage_options=dict(storage_options) or None
    )


class Connected:
    """A target's database, connected on first use: building an adapter touches no storage."""

    def __init__(self, target: Target) -> None:
        self.location = target.db
        self._options = target.options
        self._db = None

    @property
    def db(self):
        if self._db is None:
            self._db = connect(self.location, self._options)
        return self._db


def table_names(db) -> list[str]:
    listing = db.list_tables() if hasattr(db, "list_tables") else db.table_names()
    names = getattr(listing, "tables", listing)
    return list(names)


def open_table(db, name: str):
    return db.open_table(name) if name in table_names(db) else None


def table_metadata(table) -> dict:
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def with_metadata(schema: pa.Schema, meta: Mapping[str, object]) -> pa.Schema:
    return schema.with_metadata({METADATA_KEY: json.dumps(meta, sort_keys=True).encode()})


def ensure_table(db, name: str, schema: pa.Schema):
    """A table written by an older docflow gains the columns added since, empty."""
    table = open_table(db, name)
    if table is None:
        # Another process may create it between our check and our create; theirs wins.
        with contextlib.suppress(ValueError, OSError):
            db.create_table(name, schema=schema)
        table = db.open_table(name)
    missing = [field for field in schema if field.name not in table.schema.names]
    if missing:
        table.add_columns(missing)
    return table


@contextlib.contextmanager
def write_lock(uri: str, timeout_s: float = 600) -> Iterator[None]:
    if is_remote(uri):
        yield
        return
    from filelock import FileLock

    with FileLock(os.path.join(local_path(uri), LOCK_NAME), timeout=timeout_s):
        yield


def merge(table, key: str, rows: pa.Table, insert: bool = True, delete_where: str | None = None) -> None:
    """The one upsert: rows matching on `key` are updated, the others inserted (unless
    `insert` is off), and with `delete_where` the table's rows matching it that `rows` does
    not hold are deleted, all in one commit."""
    if rows.num_rows == 0:
        return
    builder = table.merge_insert(key).when_matched_update_all()
    if insert:
        builder = builder.when_not_matched_insert_all()
    if delete_where is not None:
        builder = builder.when_not_matched_by_source_delete(delete_where)
    builder.execute(rows)


def update(table, key: str, rows: pa.Table) -> None:
    """Some columns (those of `rows`) of the rows whose `key` is in `rows`; other keys are
    ignored. LanceDB merges a partial row by joining the whole table, every column, in memory,
    so up to IN_LIST_MAX rows their full rows are read by key and merged whole instead, at the
    cost of the change."""
    if rows.num_rows > IN_LIST_MAX:
        merge(table, key, rows, insert=False)
        return
    if rows.num_rows == 0:
        return
    current = table.search().where(doc_predicate(rows.column(key).to_pylist(), key)).limit(rows.num_rows).to_arrow()
    changed = [name for name in rows.column_names if name != key]
    whole = current.drop_columns(changed).join(rows, key, join_type="inner")
    merge(table, key, whole.select(current.column_names).cast(current.schema), insert=False)


def read_columns(table, columns: Sequence[str], where: str | None = None) -> list[dict]:
    """A projection of every row (matching `where`), without loading the vectors."""
    if table is None:
        return []
    total = table.count_rows()
    if total == 0:
        return []
    query = table.search().select(list(columns))
    if where is not None:
        query = query.where(where)
    return query.limit(total).to_arrow().to_pylist()


def read_documents(table, columns: Sequence[str], doc_ids: set[str]) -> list[dict]:
    """The rows of `doc_ids` only (`columns` must include doc_id)."""
    if not doc_ids:
        return []
    if len(doc_ids) <= IN_LIST_MAX:
        return read_columns(table, columns, doc_predicate(sorted(doc_ids)))
    return [r for r in read_columns(table, columns) if r["doc_id"] in doc_ids]


def newest(table, limit: int) -> list[dict]:
    """A history table's rows, newest `started_at` first."""
    if table is None:
        return []
    rows = table.to_arrow().to_pylist()
    rows.sort(key=lambda r: r["started_at"], reverse=True)
    return rows[:limit]


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def doc_predicate(doc_ids: Iterable[str], column: str = "doc_id") -> str:
    return column + " IN (" + ", ".join(sql_string(d) for d in doc_ids) + ")"


def delete_documents(table, doc_ids: Sequence[str], batch: int = 500) -> int:
    """Batched deletes: one predicate (one commit) per `batch` documents."""
    if table is None:
        return 0
    removed = 0
    for start in range(0, len(doc_ids), batch):
        part = doc_ids[start : start + batch]
        before = table.count_rows()
        table.delete(doc_predicate(part))
        removed += before - table.count_rows()
    return removed


def compact(table, fragment_rows: int = FRAGMENT_ROWS) -> None:
    """Every batch is a commit and a fragment; merge them and drop old versions' files.

    Not `table.optimize()`: it merges every fragment under a million rows, so each sync of a
    100k-document table rewrote (and held in memory) all of it. With fragments of
    `fragment_rows`, a compaction rewrites the new fragments and the last partial one, plus a
    fragment whose deleted rows pass Lance's threshold (10 %): its cost follows the change."""
    if table is None:
        return
    dataset = table.to_lance()
    dataset.optimize.compact_files(target_rows_per_fragment=fragment_rows)
    if dataset.describe_indices():  # what optimize() also does: new rows join an index a user built
        dataset.optimize.optimize_indices()
    dataset.cleanup_old_versions(older_than=timedelta(days=7))
