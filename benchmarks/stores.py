"""Store benchmark: what each registered vector store costs through the port, nothing else.

Prints, per store, measured in one run with random vectors of the bundled model's width (no
parsing, no embedding): chunks written per second in batches of documents, one batch's replace
by a new fingerprint with half the chunks, a read of three columns of every chunk, and the
mean time of a k=5 search.

    .venv/bin/python benchmarks/stores.py                       # 200 documents of 10 chunks
    .venv/bin/python benchmarks/stores.py --docs 1000 --chunks 20 --batch 16
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import docflow  # noqa: E402,F401

from docflow.adapters.stores import names, open_store  # noqa: E402
from docflow.core.chunk import Chunk  # noqa: E402
from docflow.core.models import DocChunks, Target  # noqa: E402

DIM = 384


def documents(count: int, chunks: int, fingerprint: str) -> list[DocChunks]:
    return [
        DocChunks(f"doc{i}", fingerprint, f"/src/doc{i}", "txt",
                  tuple(Chunk(c, f"document {i} chunk {c} " * 20, None, None, ("NarrativeText",)) for c in range(chunks)))
        for i in range(count)
    ]


def measure(kind: str, docs: list[DocChunks], batch: int, rng: np.random.Generator) -> str:
    store = open_store(Target(db=str(Path(tempfile.mkdtemp()) / kind), table="chunks", checkpoint_dir="", store=kind))
    store.ensure(DIM, {"model_name": "benchmark"})

    def replace(part: list[DocChunks]) -> None:
        total = sum(len(d.chunks) for d in part)
        store.replace_documents([d.doc_id for d in part], part, rng.normal(size=(total, DIM)).astype(np.float32), "run")

    started = time.perf_counter()
    for start in range(0, len(docs), batch):
        replace(docs[start : start + batch])
    write_s = time.perf_counter() - started
    written = sum(len(d.chunks) for d in docs)

    changed = [DocChunks(d.doc_id, "f2", d.source_path, d.doc_type, d.chunks[: len(d.chunks) // 2]) for d in docs[:batch]]
    started = time.perf_counter()
    replace(changed)
    replace_s = time.perf_counter() - started

    started = time.perf_counter()
    rows = store.read_columns(["doc_id", "chunk_index", "fingerprint"])
    read_s = time.perf_counter() - started

    queries = rng.normal(size=(20, DIM)).astype(np.float32)
    started = time.perf_counter()
    for query in queries:
        store.search(query, 5)
    search_s = (time.perf_counter() - started) / len(queries)
    return (f"{kind}: {len(rows)} chunks; write {written / write_s:.0f} chunks/s ({write_s:.1f} s, batches of "
            f"{batch} documents); replace of one batch {replace_s * 1000:.0f} ms; read 3 columns "
            f"{read_s * 1000:.0f} ms; search k=5 {search_s * 1000:.1f} ms/query")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--chunks", type=int, default=10, help="chunks per document")
    parser.add_argument("--batch", type=int, default=16, help="documents per replace (a batch)")
    args = parser.parse_args()
    docs = documents(args.docs, args.chunks, "f1")
    for kind in names():
        print(measure(kind, docs, args.batch, np.random.default_rng(0)), flush=True)


if __name__ == "__main__":
    main()
