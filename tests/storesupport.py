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
