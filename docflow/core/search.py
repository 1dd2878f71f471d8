"""Semantic search over a chunk table, with the model and backend the table was built with.

The table's pipeline metadata names its model and embed backend, and `embedder_for` turns it
into the Embedder that made the chunks' vectors (docflow.adapters.embedders.embedder_for_table),
so a query is embedded the way the chunks were even when today's settings name another model."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from docflow.adapters.stores.lancedb import store
from docflow.core.errors import DocflowSystemError

if TYPE_CHECKING:  # the port is implemented above the core
    from docflow.ports.embedder import Embedder

RESULT_COLUMNS = ["doc_id", "chunk_index", "text", "source_path", "page", "title", "doc_type", "_distance"]


@dataclass(frozen=True)
class Hit:
    doc_id: str
    chunk_index: int
    score: float
    text: str
    source_path: str
    page: int | None
    title: str | None
    doc_type: str


def search(
    db_uri: str,
    table_name: str,
    query: str,
    embedder_for: Callable[[Mapping[str, object]], Embedder],
    k: int = 5,
) -> list[Hit]:
    db = store.connect(db_uri)
    table = store.open_table(db, table_name)
    if table is None:
        raise DocflowSystemError(f"no table {table_name!r} in {db_uri}; run docflow ingest first")
    vector = embedder_for(store.table_metadata(table).get("pipeline", {})).encode([query])[0]
    rows = (
        table.search(vector, vector_column_name="vector")
        .metric("cosine")
        .limit(k)
        .select(RESULT_COLUMNS)
        .to_list()
    )
    return [
        Hit(
            doc_id=r["doc_id"],
            chunk_index=r["chunk_index"],
            score=round(1.0 - float(r["_distance"]), 4),
            text=r["text"],
            source_path=r["source_path"],
            page=r["page"],
            title=r["title"],
            doc_type=r["doc_type"],
        )
        for r in rows
    ]
