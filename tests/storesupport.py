"""Helpers for the store contract suite: every registered store, opened on a temporary
directory through the registry, and documents of known chunks and vectors."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from docflow.adapters.stores import open_state, open_store
from docflow.core.chunk import Chunk
from docflow.core.models import DocChunks, Target

STORES = ("lancedb", "chroma")
DIM = 4


def target(root: Path, kind: str, table: str = "chunks") -> Target:
    return Target(db=str(root / kind), table=table, checkpoint_dir=str(root / "checkpoints"), store=kind)


def opened(root: Path, kind: str):
    """(store, state) of one fresh database, the way a worker builds them."""
    where = target(root, kind)
    return open_store(where), open_state(where)


def doc(doc_id: str, n: int, fingerprint: str = "f1", page: int | None = None) -> DocChunks:
    chunks = tuple(
        Chunk(i, f"{doc_id} chunk {i} of {fingerprint}", page, f"Title {i}" if i else None,
              ("NarrativeText",) if i else ())
        for i in range(n)
    )
    return DocChunks(doc_id, fingerprint, f"/src/{doc_id}", "txt", chunks)


def vectors_for(docs, seed: int = 0) -> np.ndarray:
    total = sum(len(d.chunks) for d in docs)
    return np.random.default_rng(seed).normal(size=(total, DIM)).astype(np.float32)


def write(store, docs, doc_ids=None, run_id: str = "run") -> None:
    store.replace_documents(doc_ids or [d.doc_id for d in docs], docs, vectors_for(docs), run_id)


def keys(store) -> list[tuple[str, int, str]]:
    """(doc_id, chunk_index, fingerprint) of every stored chunk, sorted."""
    return sorted((r["doc_id"], r["chunk_index"], r["fingerprint"])
                  for r in store.read_columns(["doc_id", "chunk_index", "fingerprint"]))


def exactness_problems(store, state) -> list[str]:
    """What breaks "each done document has exactly its recorded chunks, of its recorded
    fingerprint, once each, and nothing else is stored"."""
    rows = store.read_columns(["doc_id", "chunk_index", "fingerprint"])
    ledger = {r["doc_id"]: r for r in state.rows(["doc_id", "fingerprint", "status", "chunk_count"]).to_pylist()}
    problems = [f"duplicate {k}" for k, n in Counter((r["doc_id"], r["chunk_index"]) for r in rows).items() if n > 1]
    for r in rows:
        entry = ledger.get(r["doc_id"])
        if entry is None or entry["status"] != "done":
            problems.append(f"chunk of a document not done: {r['doc_id']}")
        elif r["fingerprint"] != entry["fingerprint"]:
            problems.append(f"stale chunk {r['doc_id']}#{r['chunk_index']}")
    for doc_id, entry in ledger.items():
        if entry["status"] == "done":
            mine = sorted(r["chunk_index"] for r in rows if r["doc_id"] == doc_id)
            if mine != list(range(entry["chunk_count"])):
                problems.append(f"{doc_id} has chunks {mine}, the ledger says {entry['chunk_count']}")
    return problems


# --- a real pipeline over a store, and a process that SIGKILLs itself inside its write ------

# The kill lands right after the store made a batch's new chunks durable and before anything
# else: for LanceDB after its one merge commit (the ledger write that follows is a merge too),
# for Chroma after the upsert, before the delete of the other fingerprints' records.
WRITE_SEAMS = {"lancedb": ("docflow.adapters.stores.lancedb.database", "merge"),
               "chroma": ("docflow.adapters.stores.chroma", "_delete")}


def pipeline_context(root: Path, kind: str, run_id: str, **overrides):
    """A batch context over `root/kind` (real parsing in-process, the real model) and the
    pipeline fingerprint documents are discovered with; `overrides` are further settings."""
    from docflow.core.retry import RetryPolicies
    from docflow.core.settings import DocflowSettings
    from flows.pipeline import batch_context, build_pipeline, open_target

    settings = DocflowSettings(store=kind, db=str(root / kind), table="chunks", home=root / "home",
                               parse_timeout_s=0, parse_memory_mb=0, **overrides)
    pipeline = build_pipeline(settings)
    target, generation = open_target(settings, pipeline)
    return batch_context(target, generation, pipeline, settings, RetryPolicies(), run_id), pipeline.config.fingerprint()


def run_batch(root: Path, kind: str, source: Path, run_id: str, resumed: bool = False):
    from docflow.core.discover import discover
    from docflow.core.process import process_batch
    from tests.sources import SOURCES
    from tests.stores import to

    ctx, fingerprint = pipeline_context(root, kind, run_id)
    docs = discover([str(source)], fingerprint, source_for=SOURCES).documents
    return process_batch(docs, ctx, to(ctx), sleep=lambda s: None, resumed=resumed), docs


def killed_batch(root: Path, kind: str, source: Path):
    """The batch in a fresh process (`python -m tests.storesupport`) that SIGKILLs itself at
    the store's write seam; returncode -9 when the kill landed."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "tests.storesupport", str(root), kind, str(source)]
    return subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=Path(__file__).parent.parent)


def _die(*args, **kwargs):
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)


def _main(root: str, kind: str, source: str) -> None:
    import importlib

    module, name = WRITE_SEAMS[kind]
    seams = importlib.import_module(module)
    real = getattr(seams, name)

    def die(*args, **kwargs):
        if name == "merge":
            real(*args, **kwargs)  # the commit itself, then the kill
        _die()

    setattr(seams, name, die)
    run_batch(Path(root), kind, Path(source), "run-killed")
    raise SystemExit("the batch finished: its write seam was never reached")


if __name__ == "__main__":
    import sys

    _main(*sys.argv[1:])


def fingerprints(state) -> dict[str, str]:
    """doc_id -> fingerprint of every ledger row (done or failed), through the port's rows()."""
    table = state.rows(["doc_id", "fingerprint"])
    return dict(zip(table["doc_id"].to_pylist(), table["fingerprint"].to_pylist(), strict=True))
