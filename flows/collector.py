"""Planning a run allocates several objects per document of the corpus (its reference, its
recorded version, its skip decision) and none of them becomes cyclic garbage. Each of those
allocations counts toward the cyclic collector's thresholds, so at 100,000 documents the
collector ran over the whole heap (everything Prefect, LanceDB and pydantic loaded) again and
again for nothing: about a third of a no-op rerun's discovery. It is paused for those steps
and runs again after them."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
