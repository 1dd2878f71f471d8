"""The Embedder adapters, chosen by backend (docflow.core.models.EmbedBackend): torch runs the
sentence-transformers model itself, onnx and onnx-int8 an export of it built on first use."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from docflow.adapters.embedders.onnx import OnnxEmbedder
from docflow.adapters.embedders.sentence_transformers import (
    DEFAULT_MODEL_NAME,
    TorchEmbedder,
    resolve_model,
    table_embed_backend,
)
from docflow.core.errors import DocflowSystemError
from docflow.core.models import EmbedBackend
from docflow.ports.embedder import Embedder


def embedder_for(
    model_path: str,
    backend: EmbedBackend = EmbedBackend.TORCH,
    device: str = "cpu",
    batch_size: int = 32,
    threads: int = 0,
    cache_dir: str | None = None,
) -> Embedder:
    backend = EmbedBackend(backend)
    if backend is EmbedBackend.TORCH:
        return TorchEmbedder(model_path, batch_size, threads, device)
    if device != "cpu":
        raise DocflowSystemError(f"embed backend {backend.value} runs on the cpu only, not {device}", stage="embed")
    return OnnxEmbedder(model_path, batch_size, threads, backend, cache_dir or "")


def embedder_for_table(
    pipeline: Mapping[str, object],
    device: str = "cpu",
    backend: EmbedBackend | str | None = None,
    cache_dir: str | None = None,
) -> Embedder:
    """The Embedder that made a table's vectors, from the table's pipeline metadata. Asking
    explicitly for another backend is refused: its vectors sit slightly apart from the table's."""
    table_backend = table_embed_backend(pipeline)
    if backend is not None and EmbedBackend(backend) is not table_backend:
        raise DocflowSystemError(
            f"the table was embedded with backend {table_backend.value}; a query embedded with "
            f"{EmbedBackend(backend).value} would not match its vectors exactly (leave "
            "--embed-backend out to use the table's)",
            stage="config",
        )
    # The bundled model's path differs between installs; any other model is a path we keep.
    bundled = pipeline.get("model_name", DEFAULT_MODEL_NAME) == DEFAULT_MODEL_NAME
    model_path = resolve_model(None if bundled else str(pipeline.get("model_path")))
    return embedder_for(model_path, table_backend, device, cache_dir=cache_dir)


def embed_texts(
    texts: Sequence[str],
    model_path: str,
    device: str = "cpu",
    batch_size: int = 32,
    backend: EmbedBackend = EmbedBackend.TORCH,
    cache_dir: str | None = None,
) -> np.ndarray:
    """One call's worth: a query, a test, a benchmark."""
    return embedder_for(model_path, backend, device, batch_size, cache_dir=cache_dir).encode(texts)
