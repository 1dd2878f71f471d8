"""Semantic search over a chunk table, with the model and backend the table was built with.

The table's pipeline metadata names its model and embed backend, and `embedder_for` turns it
into the Embedder that made the chunks' vectors (docflow.adapters.embedders.embedder_for_table),
so a query is embedded the way the chunks were even when today's settings name another model."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from docflow.core.errors import DocflowSystemError

if TYPE_CHECKING:  # the ports, for annotations only: the caller hands the adapters in
    from docflow.ports.embedder import Embedder
    from docflow.ports.store import VectorStore


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
    store: VectorStore,
    query: str,
    embedder_for: Callable[[Mapping[str, object]], Embedder],
    k: int = 5,
) -> list[Hit]:
    info = store.info()
    if info is None:
        raise DocflowSystemError(f"no table {store.table!r} in {store.location}; run docflow ingest first")
    vector = embedder_for(info.pipeline).encode([query])[0]
    return [
        Hit(
            doc_id=h.doc_id,
            chunk_index=h.chunk_index,
            score=round(1.0 - h.distance, 4),
            text=h.text,
            source_path=h.source_path,
            page=h.page,
            title=h.title,
            doc_type=h.doc_type,
        )
        for h in store.search(vector, k)
    ]
