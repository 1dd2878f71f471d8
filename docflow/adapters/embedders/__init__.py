"""The Embedder adapters, chosen by backend (docflow.core.models.EmbedBackend): torch runs the
sentence-transformers model itself, onnx and onnx-int8 an export of it built on first use."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from docflow.adapters.embedders.onnx import OnnxEmbedder
from docflow.adapters.embedders.sentence_transformers import TorchEmbedder
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
