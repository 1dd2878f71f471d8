"""The LanceDB chunk table: one row per (doc_id, chunk_index), replaced per document atomically.

A batch of documents is written in ONE commit: a merge_insert keyed on chunk_id whose
`when_not_matched_by_source_delete` is restricted to the batch's doc_ids. That commit inserts
new chunks, updates changed ones and deletes a document's chunks that no longer exist, so no
reader ever sees a document missing, half-written or duplicated. (Without the restriction the
same clause would delete every other document in the table.)

LanceDB's optimistic concurrency lets two processes that merge the same doc_id both succeed and
leave duplicates, so writers on one host are serialised by a file lock in the database
directory; on object stores the conflict-retry policy applies."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pyarrow as pa

from docflow.core.chunk import Chunk

METADATA_KEY = b"docflow"
LOCK_NAME = ".docflow-write.lock"


def chunk_schema(dim: int, table_meta: dict) -> pa.Schema:
    return pa.schema(
        [
            pa.field("chunk_id", pa.string(), nullable=False),
            pa.field("doc_id", pa.string(), nullable=False),
            pa.field("chunk_index", pa.int32(), nullable=False),
            pa.field("text", pa.string()),
            pa.field("vector", pa.list_(pa.float32(), dim)),
            pa.field("fingerprint", pa.string()),
            pa.field("source_path", pa.string()),
            pa.field("doc_type", pa.string()),
            pa.field("page", pa.int32()),
            pa.field("title", pa.string()),
            pa.field("element_types", pa.list_(pa.string())),
            pa.field("run_id", pa.string()),
        ],
        metadata={METADATA_KEY: json.dumps(table_meta, sort_keys=True).encode()},
    )


@dataclass(frozen=True)
class DocChunks:
    doc_id: str
    fingerprint: str
    source_path: str
    doc_type: str
    chunks: tuple[Chunk, ...]


def is_local(uri: str) -> bool:
    return "://" not in uri or uri.startswith("file://")


def connect(uri: str, storage_options: Mapping[str, str] | None = None):
    """`storage_options` None: the settings' (DOCFLOW_STORAGE_OPTIONS), so search, export and
    import read the same object store as the run that wrote it."""
    import lancedb

    if storage_options is None:
        from docflow.core.settings import DocflowSettings

        storage_options = DocflowSettings().storage_options
    if is_local(uri):
        os.makedirs(uri.removeprefix("file://"), exist_ok=True)
    # A handle opened earlier reads stale data unless told to re-check on every read.
    return lancedb.connect(
        uri, read_consistency_interval=timedelta(0), storage_options=dict(storage_options) or None
    )


# LanceDB's object-store option names -> s3fs's, for the checkpoints beside the table.
_S3FS_NAMES = {
    "aws_access_key_id": "key",
    "access_key_id": "key",
    "aws_secret_access_key": "secret",
    "secret_access_key": "secret",
    "aws_session_token": "token",
    "session_token": "token",
    "aws_endpoint": "endpoint_url",
    "endpoint": "endpoint_url",
    "aws_endpoint_url": "endpoint_url",
    "endpoint_url": "endpoint_url",
}
_S3FS_REGION_NAMES = ("aws_region", "region")


def fsspec_options(uri: str, storage_options: Mapping[str, str]) -> dict:
    """The same credentials for fsspec (s3fs), which names them differently. Other schemes get
    none: their file systems read the environment, as LanceDB does without options."""
    if not storage_options or not uri.startswith(("s3://", "s3a://")):
        return {}
    options: dict = {}
    for name, value in storage_options.items():
        key = name.lower()
        if key in _S3FS_NAMES:
            options[_S3FS_NAMES[key]] = value
        elif key in _S3FS_REGION_NAMES:
            options.setdefault("client_kwargs", {})["region_name"] = value
    return options


def table_names(db) -> list[str]:
    listing = db.list_tables() if hasattr(db, "list_tables") else db.table_names()
    names = getattr(listing, "tables", listing)
    return list(names)


def open_table(db, name: str):
    return db.open_table(name) if name in table_names(db) else None


def table_metadata(table) -> dict:
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def ensure_chunk_table(db, name: str, dim: int, pipeline: dict):
    """Create the table on first use. Its metadata records the pipeline (model, chunking) and a
    generation id: checkpoints are keyed on the generation, so a dropped and recreated table
    never inherits the old table's checkpoints."""
    table = open_table(db, name)
    if table is not None:
        return table
    meta = {"generation": uuid.uuid4().hex, "pipeline": pipeline, "dim": dim}
    return ensure_table(db, name, chunk_schema(dim, meta))


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
    if not is_local(uri):
        yield
        return
    from filelock import FileLock

    with FileLock(os.path.join(uri.removeprefix("file://"), LOCK_NAME), timeout=timeout_s):
        yield


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


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def doc_predicate(doc_ids: Iterable[str]) -> str:
    return "doc_id IN (" + ", ".join(sql_string(d) for d in doc_ids) + ")"


def rows_for(
    docs: Sequence[DocChunks], vectors: np.ndarray, schema: pa.Schema, run_id: str
) -> pa.Table:
    columns: dict[str, list] = {field.name: [] for field in schema}
    position = 0
    for doc in docs:
        for chunk in doc.chunks:
            columns["chunk_id"].append(f"{doc.doc_id}#{chunk.chunk_index}")
            columns["doc_id"].append(doc.doc_id)
            columns["chunk_index"].append(chunk.chunk_index)
            columns["text"].append(chunk.text)
            columns["vector"].append(vectors[position])
            columns["fingerprint"].append(doc.fingerprint)
            columns["source_path"].append(doc.source_path)
            columns["doc_type"].append(doc.doc_type)
            columns["page"].append(chunk.page)
            columns["title"].append(chunk.title)
            columns["element_types"].append(list(chunk.element_types))
            columns["run_id"].append(run_id)
            position += 1
    columns["vector"] = [np.asarray(v, dtype=np.float32) for v in columns["vector"]]
    return pa.Table.from_pydict(columns, schema=schema)


def replace_documents(table, doc_ids: Sequence[str], rows: pa.Table) -> None:
    """One atomic commit: `doc_ids` end up with exactly the chunks in `rows` (none if empty)."""
    if not doc_ids:
        return
    predicate = doc_predicate(doc_ids)
    if rows.num_rows == 0:
        table.delete(predicate)
        return
    (
        table.merge_insert("chunk_id")
        .when_matched_update_all()
        .when_not_matched_insert_all()
        .when_not_matched_by_source_delete(predicate)
        .execute(rows)
    )


def delete_documents(table, doc_ids: Sequence[str], batch: int = 500) -> int:
    """Batched deletes: one predicate (one commit) per `batch` documents."""
    removed = 0
    for start in range(0, len(doc_ids), batch):
        part = doc_ids[start : start + batch]
        before = table.count_rows()
        table.delete(doc_predicate(part))
        removed += before - table.count_rows()
    return removed


def compact(table) -> None:
    """Every batch is a commit and a fragment; merge them and drop old versions' files."""
    table.optimize(cleanup_older_than=timedelta(days=7))
