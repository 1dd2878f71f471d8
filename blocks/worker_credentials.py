"""The worker's half of docflow.core.credentials: a submitted target names where its storage
options are (a target block, or the worker's own settings) and the worker reads them here, from
the Prefect API it reports to or its own environment."""

from __future__ import annotations

import functools
from dataclasses import replace

from blocks.config import StoreTarget
from docflow.core.credentials import BLOCK_PREFIX
from docflow.core.models import Target
from docflow.core.settings import DocflowSettings


def on_worker(target: Target, run_id: str) -> Target:
    """The submitted target with this worker's storage options filled in."""
    if target.storage_options or not target.credentials:
        return target
    return replace(target, storage_options=_options(target.credentials, run_id))


@functools.lru_cache(maxsize=4)
def _options(source: str, run_id: str) -> tuple[tuple[str, str], ...]:
    """Once per run and worker process: a block edited between runs is read again."""
    if source.startswith(BLOCK_PREFIX):
        block = StoreTarget.load(source.removeprefix(BLOCK_PREFIX))
        options = block.storage_options.get_secret_value()
    else:
        options = DocflowSettings().storage_options
    return tuple(sorted((str(k), str(v)) for k, v in options.items()))
