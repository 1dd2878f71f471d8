"""Semantic search over a chunk table, with the model and backend the table was built with.

The table's metadata names its model and embed backend, so a query is embedded the way the
chunks were even when today's settings name another model or backend; asking explicitly for a
different backend is refused, since its vectors would sit slightly apart from the table's."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from docflow.core.models import EmbedBackend
from docflow.adapters.embedders.embed import DEFAULT_MODEL_NAME, embed_texts, resolve_model, table_embed_backend
from docflow.core.errors import DocflowSystemError

if TYPE_CHECKING:  # the port, for annotations only: the caller hands the adapter in
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
    k: int = 5,
    device: str = "cpu",
    backend: EmbedBackend | str | None = None,
    cache_dir: str | None = None,
) -> list[Hit]:
    info = store.info()
    if info is None:
        raise DocflowSystemError(f"no table {store.table!r} in {store.location}; run docflow ingest first")
    meta = info.pipeline
    table_backend = table_embed_backend({"pipeline": meta})
    if backend is not None and EmbedBackend(backend) is not table_backend:
        raise DocflowSystemError(
            f"table {store.table!r} was embedded with backend {table_backend.value}; a query embedded "
            f"with {EmbedBackend(backend).value} would not match its vectors exactly (leave "
            "--embed-backend out to use the table's)",
            stage="config",
        )
    # The bundled model's path differs between installs; any other model is a path we keep.
    bundled = meta.get("model_name", DEFAULT_MODEL_NAME) == DEFAULT_MODEL_NAME
    model_path = resolve_model(None if bundled else meta.get("model_path"))
    vector = embed_texts([query], model_path, device, backend=table_backend, cache_dir=cache_dir)[0]
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
