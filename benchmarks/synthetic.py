"""A finished corpus built directly, without running the pipeline: files on disk, a ledger row
and a checkpoint for every one of them, as a finished ingest would have left them. The scale
benchmark's discovery mode times discovery and the skip decision on it."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from benchmarks.scale import build_corpus, doc_text
from docflow.core.discover import discover
from tests.sources import SOURCES


def build_synthetic(source: Path, db: Path, count: int):
    """(target, generation, pipeline fingerprint) of a table that holds `count` finished
    documents under `source`."""
    from docflow.adapters.checkpoints.checkpoint import PrefectCheckpoints, checkpoint_key
    from docflow.adapters.stores import open_state
    from docflow.core.models import DocOutcome, DocRef, DocStatus, LedgerEntry
    from docflow.core.settings import DocflowSettings
    from flows.pipeline import build_pipeline, open_target
    from docflow.core import versions
    from docflow.core.discover import document_fingerprint

    settings = DocflowSettings(db=str(db))
    pipeline = build_pipeline(settings)
    fingerprint = pipeline.config.fingerprint()
    target, generation = open_target(settings, pipeline)
    checkpoints = PrefectCheckpoints.of(target, generation)
    template = None
    keys_root = Path(target.checkpoint_dir) / "keys"
    results_root = Path(target.checkpoint_dir) / "results"
    entries: list[LedgerEntry] = []
    state = open_state(target)
    paths = build_corpus(source, count)
    # A worker hashes a document some time after it was written; one written within the
    # racy window of its hashing would be hashed again by every run (docflow.core.versions).
    time.sleep(versions.RACY_WINDOW_NS / 1e9 + 0.5)
    for i, path in enumerate(paths):
        data = doc_text(i).encode()
        sha = hashlib.sha256(data).hexdigest()
        stat = versions.FileStat.of(path.stat())
        doc = DocRef(
            doc_id=os.path.relpath(path, source),
            path=str(path),
            root=str(source),
            size=stat.size,
            mtime_ns=stat.mtime_ns,
            content_sha256=sha,
            fingerprint=document_fingerprint(sha, fingerprint),
            doc_type="md" if i % 2 else "txt",
            ctime_ns=stat.ctime_ns,
            inode=stat.inode,
            observed_ns=time.time_ns(),
        )
        outcome = DocOutcome(doc.doc_id, doc.fingerprint, DocStatus.DONE, chunk_count=1, size=len(data))
        key = checkpoint_key(generation, doc)
        if template is None:  # one record through Prefect's store, the rest as copies of its bytes
            checkpoints.record(doc, outcome, "synthetic")
            template = ((keys_root / key).read_bytes(), (results_root / key).read_bytes())
        else:
            for root, content in zip((keys_root, results_root), template):
                (root / key).parent.mkdir(parents=True, exist_ok=True)
                (root / key).write_bytes(content)
        entries.append(LedgerEntry(doc, outcome))
        if len(entries) == 50_000:
            state.upsert(entries, "synthetic")
            entries = []
    state.upsert(entries, "synthetic")
    state.compact()
    return target, generation, fingerprint


def time_decision(source: Path, target, generation: str, fingerprint: str) -> tuple[float, float, int]:
    """(discovery s, skip decision s, documents found finished), as the flow does them: the
    ledger's recorded versions are read as part of discovery."""
    from docflow.adapters.checkpoints.checkpoint import PrefectCheckpoints
    from docflow.adapters.stores import open_state, open_store
    from docflow.core import resume

    started = time.monotonic()
    state = open_state(target)
    recorded = state.recorded_versions()
    docs = list(discover([str(source)], fingerprint, recorded=recorded, source_for=SOURCES).documents)
    discovered = time.monotonic()
    checkpoints = PrefectCheckpoints.of(target, generation)
    done = resume.finished(open_store(target), state, checkpoints, docs, write=False)
    return discovered - started, time.monotonic() - discovered, len(done)
