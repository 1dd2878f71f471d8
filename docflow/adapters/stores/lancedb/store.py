"""The LanceDB chunk table: one row per (doc_id, chunk_index), replaced per document atomically.

A batch of documents is written in ONE commit: a merge_insert keyed on chunk_id whose
`when_not_matched_by_source_delete` is restricted to the batch's doc_ids. That commit inserts
new chunks, updates changed ones and deletes a document's chunks that no longer exist, so no
reader ever sees a document missing, half-written or duplicated. (Without the restriction the
same clause would delete every other document in the table.)"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pyarrow as pa

from docflow.adapters.stores.lancedb import database, damage
from docflow.core.models import DocChunks, Target
from docflow.ports.store import Capability, StoredHit, TableInfo

HIT_COLUMNS = ["doc_id", "chunk_index", "text", "source_path", "page", "title", "doc_type", "_distance"]


def chunk_schema(dim: int, table_meta: Mapping[str, object]) -> pa.Schema:
    schema = pa.schema(
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
        ]
    )
    return database.with_metadata(schema, table_meta)


def rows_for(
    docs: Sequence[DocChunks], vectors: np.ndarray | None, schema: pa.Schema, run_id: str
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


class LanceStore(database.Connected):
    """The VectorStore of one chunk table."""

    kind = "lancedb"
    capabilities = frozenset({Capability.ATOMIC_REPLACE, Capability.PINNED_VERSIONS, Capability.COMPACT})

    def __init__(self, target: Target) -> None:
        super().__init__(target)
        self.table = target.table

    def open(self):
        """The LanceDB table, None before the first run created it."""
        return database.open_table(self.db, self.table)

    def info(self) -> TableInfo | None:
        table = self.open()
        return None if table is None else info_of(table)

    def ensure(self, dim: int, pipeline: Mapping[str, object]) -> TableInfo:
        """Its metadata records the pipeline (model, chunking) and a generation id: checkpoints
        are keyed on the generation, so a dropped and recreated table never inherits the old
        table's checkpoints."""
        with database.write_lock(self.location):
            table = self.open()
            if table is None:
                meta = {"generation": uuid.uuid4().hex, "pipeline": dict(pipeline), "dim": dim}
                table = database.ensure_table(self.db, self.table, chunk_schema(dim, meta))
        return info_of(table)

    def replace_documents(
        self, doc_ids: Sequence[str], docs: Sequence[DocChunks], vectors: np.ndarray | None, run_id: str
    ) -> None:
        """One atomic commit: `doc_ids` end up with exactly the chunks of `docs` (none if empty)."""
        if not doc_ids:
            return
        table = self.db.open_table(self.table)
        rows = rows_for(docs, vectors, table.schema, run_id)
        predicate = database.doc_predicate(doc_ids)
        with database.write_lock(self.location):
            if rows.num_rows == 0:
                table.delete(predicate)
            else:
                database.merge(table, "chunk_id", rows, delete_where=predicate)

    def delete_documents(self, doc_ids: Sequence[str]) -> int:
        if not doc_ids:
            return 0
        with database.write_lock(self.location):
            return database.delete_documents(self.open(), list(doc_ids))

    def read_columns(self, columns: Sequence[str], doc_ids: Iterable[str] | None = None) -> list[dict]:
        table = self.open()
        if doc_ids is None:
            return database.read_columns(table, columns)
        return database.read_documents(table, columns, set(doc_ids))

    def count(self) -> int:
        table = self.open()
        return table.count_rows() if table is not None else 0

    def search(self, vector: np.ndarray, k: int) -> list[StoredHit]:
        rows = (
            self.db.open_table(self.table)
            .search(vector, vector_column_name="vector")
            .metric("cosine")
            .limit(k)
            .select(HIT_COLUMNS)
            .to_list()
        )
        return [
            StoredHit(
                doc_id=r["doc_id"],
                chunk_index=r["chunk_index"],
                text=r["text"],
                source_path=r["source_path"],
                page=r["page"],
                title=r["title"],
                doc_type=r["doc_type"],
                distance=float(r["_distance"]),
            )
            for r in rows
        ]

    def compact(self) -> None:
        with database.write_lock(self.location):
            database.compact(self.open())

    def damage(self) -> list[str]:
        return damage.unreadable_versions(self.location)

    def fault_hint(self) -> str:
        return "LanceDB keeps the earlier versions of every table; docflow verify names an unreadable one"

    # Snapshots (Capability.PINNED_VERSIONS): docflow.adapters.stores.lancedb.export.

    def export(self, out_dir, fmt, version, part_rows, on_part=None):
        from docflow.adapters.stores.lancedb import export

        return export.export_table(self, out_dir, fmt, version, part_rows, on_part)

    def import_snapshot(self, snapshot_dir: str, force: bool = False) -> int:
        from docflow.adapters.stores.lancedb import export

        return export.import_snapshot(self, snapshot_dir, force)


def info_of(table) -> TableInfo:
    meta = database.table_metadata(table)
    return TableInfo(meta.get("generation", ""), meta.get("dim"), meta.get("pipeline", {}))
