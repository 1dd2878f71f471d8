"""Semantic search over a chunk table, with the model and backend the table was built with.

The table's metadata names its model and embed backend, so a query is embedded the way the
chunks were even when today's settings name another model or backend; asking explicitly for a
different backend is refused, since its vectors would sit slightly apart from the table's."""

from __future__ import annotations

from dataclasses import dataclass

from docflow.core.models import EmbedBackend, Stage
from docflow.adapters.stores.lancedb import store
from docflow.adapters.embedders.embed import DEFAULT_MODEL_NAME, embed_texts, resolve_model, table_embed_backend
from docflow.core.errors import DocflowSystemError

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
    k: int = 5,
    device: str = "cpu",
    backend: EmbedBackend | str | None = None,
    cache_dir: str | None = None,
) -> list[Hit]:
    db = store.connect(db_uri)
    table = store.open_table(db, table_name)
    if table is None:
        raise DocflowSystemError(f"no table {table_name!r} in {db_uri}; run docflow ingest first")
    table_meta = store.table_metadata(table)
    meta = table_meta.get("pipeline", {})
    table_backend = table_embed_backend(table_meta)
    if backend is not None and EmbedBackend(backend) is not table_backend:
        raise DocflowSystemError(
            f"table {table_name!r} was embedded with backend {table_backend.value}; a query embedded "
            f"with {EmbedBackend(backend).value} would not match its vectors exactly (leave "
            "--embed-backend out to use the table's)",
            stage=Stage.CONFIG,
        )
    # The bundled model's path differs between installs; any other model is a path we keep.
    bundled = meta.get("model_name", DEFAULT_MODEL_NAME) == DEFAULT_MODEL_NAME
    model_path = resolve_model(None if bundled else meta.get("model_path"))
    vector = embed_texts([query], model_path, device, backend=table_backend, cache_dir=cache_dir)[0]
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
