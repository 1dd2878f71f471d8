"""The embedder port: texts in, unit vectors out.

`name`, `revision` and `backend` are part of every document's fingerprint and of the table's
metadata, so a new model, new weights or another backend re-embeds everything and never mixes
vectors in one table; `dimension` sizes the table before any worker has loaded the model.
`threads` pins the compute threads one worker uses (0: the library's default), so several
workers on one host do not fight over the same cores."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from docflow.core.models import EmbedBackend


@runtime_checkable
class Embedder(Protocol):
    backend: EmbedBackend
    threads: int

    @property
    def name(self) -> str: ...

    @property
    def revision(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """float32 unit vectors, one row per text; (0, dimension) for no texts."""
