"""A finished corpus built directly, without running the pipeline: files on disk, a ledger row
and a checkpoint for every one of them, as a finished ingest would have left them. The scale
benchmark's discovery mode times discovery and the skip decision on it."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from benchmarks.scale import PER_DIR, doc_text


def build_synthetic(source: Path, db: Path, count: int):
    """(target, generation, pipeline fingerprint) of a table that holds `count` finished
    documents under `source`."""
    from docflow.models import DocOutcome, DocRef, DocStatus
    from docflow.settings import DocflowSettings
    from flows.ingest import build_pipeline, open_target
    from tasks import checkpoint, ledger, store
    from tasks.discover import document_fingerprint

    settings = DocflowSettings(db=str(db))
    pipeline = build_pipeline(settings)
    fingerprint = pipeline.config.fingerprint()
    target, generation = open_target(settings, pipeline)
    results = checkpoint.open_store(target.checkpoint_dir)
    template = None
    keys_root = Path(target.checkpoint_dir) / "keys"
    results_root = Path(target.checkpoint_dir) / "results"
    entries: list[ledger.LedgerEntry] = []
    table = store.connect(target.db).open_table(target.ledger_table)
    for i in range(count):
        directory = source / f"d{i // PER_DIR:04d}"
        if i % PER_DIR == 0:
            directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"n{i:07d}.{'md' if i % 2 else 'txt'}"
        data = doc_text(i).encode()
        path.write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        doc = DocRef(
            doc_id=os.path.relpath(path, source),
            path=str(path),
            root=str(source),
            size=len(data),
            mtime_ns=path.stat().st_mtime_ns,
            content_sha256=sha,
            fingerprint=document_fingerprint(sha, fingerprint),
            doc_type="md" if i % 2 else "txt",
        )
        outcome = DocOutcome(doc.doc_id, doc.fingerprint, DocStatus.DONE, chunk_count=1, size=len(data))
        key = checkpoint.checkpoint_key(generation, doc)
        if template is None:  # one record through Prefect's store, the rest as copies of its bytes
            checkpoint.record(results, generation, doc, outcome, "synthetic")
            template = ((keys_root / key).read_bytes(), (results_root / key).read_bytes())
        else:
            for root, content in zip((keys_root, results_root), template):
                (root / key).parent.mkdir(parents=True, exist_ok=True)
                (root / key).write_bytes(content)
        entries.append(ledger.LedgerEntry(doc, outcome))
        if len(entries) == 50_000:
            table.add(ledger.ledger_rows(entries, "synthetic"))
            entries = []
    if entries:
        table.add(ledger.ledger_rows(entries, "synthetic"))
    store.compact(table)
    return target, generation, fingerprint


def time_decision(source: Path, target, generation: str, fingerprint: str) -> tuple[float, float, int]:
    """(discovery s, skip decision s, documents found finished), as the flow does them."""
    from tasks import checkpoint, resume
    from tasks.discover import discover

    started = time.monotonic()
    docs = list(discover([str(source)], fingerprint).documents)
    discovered = time.monotonic()
    results = checkpoint.open_store(target.checkpoint_dir)
    done = resume.finished(target, generation, results, docs, write=False)
    return discovered - started, time.monotonic() - discovered, len(done)

