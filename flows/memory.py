"""The flow process's memory while it plans a run over a large corpus.

Planning allocates several objects per document of the corpus (its reference, its recorded
version, its skip decision) and none of them becomes cyclic garbage. Each of those allocations
counts toward the cyclic collector's thresholds, so at 100,000 documents the collector ran over
the whole heap (everything Prefect, LanceDB and pydantic loaded) again and again for nothing:
about a third of a no-op rerun's discovery. It is paused for those steps and runs again after.

The ledger scan's decoding runs on LanceDB's threads, whose freed buffers glibc keeps in
per-thread arenas that the interpreter's own allocations never reuse: at 100,000 documents
that was ~15 MB of the flow's peak held for nothing. `malloc_trim` (glibc: every arena since
2.8) hands it back, as Dask's workers do with theirs."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache


@contextmanager
def collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def return_freed_memory() -> bool:
    """True when the C allocator gave memory back; False where it cannot (not glibc)."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False


@cache
def _malloc_trim():
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c")), "malloc_trim", None)
    except OSError:
        return None
