"""One batch of documents through parse -> chunk -> embed -> write -> ledger -> checkpoint.

Each document keeps its own retries, error class, ledger row and checkpoint; the batch shares
one embedding call (better throughput than per document) and one store write per batch.
Order matters for crash safety: old checkpoints are forgotten, then the chunks replaced, then
the ledger row written, then the checkpoint. A crash
before the ledger row leaves a document that the next run redoes (the chunk write is an
idempotent replace); a crash after it leaves one that `docflow.core.resume` proves finished from the
table and checkpoints. Never one that is skipped without its chunks."""

from __future__ import annotations

import logging
import os
import resource
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from docflow.core.models import (
    BatchResult,
    DocChunks,
    Destination,
    DocOutcome,
    DocRef,
    DocStatus,
    LedgerEntry,
    Stage,
    StageTimings,
    Target,
)
from docflow.core import caps
from docflow.core import resume
from docflow.core import versions
from docflow.core.chunk import Chunk, ChunkSettings, chunk_elements, embedded_texts
from docflow.core.discover import document_fingerprint
from docflow.core.elements import ocr_seconds
from docflow.core.errors import DocflowError, DocflowSystemError, ParseError, rules_for
from docflow.core.isolation import Limits
from docflow.core.retry import PolicyExhausted, RetryPolicies, call_with_policy
from docflow.core.snapshot import Snapshot, snapshot

if TYPE_CHECKING:  # the ports are implemented above the core; a batch only calls them
    from docflow.ports.embedder import Embedder
    from docflow.ports.parser import Parser
    from docflow.ports.source import Source

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BatchContext:
    """`source_for`, `parser_for` and `embedder`: adapters of the ports, chosen by the flow from
    its settings. They are settings themselves (small, picklable); what is costly to build, the
    model above all, each worker process builds on first use and keeps."""

    target: Target
    generation: str
    source_for: Callable[[str], Source]
    parser_for: Callable[[str], Parser]
    embedder: Embedder
    chunking: ChunkSettings
    policies: RetryPolicies
    run_id: str
    # Fingerprints are recomputed from the bytes the worker actually parses (docflow.core.snapshot).
    pipeline_fingerprint: str
    # --retry-failed reprocesses documents whose (final) failure is checkpointed.
    ignore_checkpoints: bool = False
    # Per-document parse caps (settings.parse_timeout_s / parse_memory_mb); 0 and 0 parse
    # in-process, as a context built without them always did.
    parse_timeout_s: float = 0.0
    parse_memory_mb: int = 0
    # docflow.core.caps: the time cap's growth per MB, text and chunks per document (0: off).
    parse_timeout_s_per_mb: float = 0.0
    max_text_chars: int = 0
    max_chunks: int = 0


@dataclass(frozen=True)
class _Prepared:
    doc: DocRef
    chunks: tuple[Chunk, ...]
    attempts: int
    parse_s: float
    chunk_s: float
    ocr_s: float = 0.0


def process_batch(
    docs: Sequence[DocRef],
    ctx: BatchContext,
    to: Destination,
    sleep: Callable[[float], None] = time.sleep,
    resumed: bool = False,
) -> BatchResult:
    """`resumed`: this batch ran before (a killed worker, a retry), so some of its documents may
    be finished without a checkpoint; only then is the ledger worth reading."""
    started = time.monotonic()
    if ctx.ignore_checkpoints:
        already = set()
    elif resumed:
        already = resume.finished(to.store, to.state, to.checkpoints, docs)
    else:
        already = to.checkpoints.finished(docs)
    todo = [d for d in docs if d.doc_id not in already]

    prepared: list[_Prepared] = []
    failed: dict[str, DocOutcome] = {}
    versions: list[DocRef] = []
    for doc in todo:
        version, outcome = _prepare(doc, ctx, sleep)
        versions.append(version)
        if isinstance(outcome, DocOutcome):
            failed[doc.doc_id] = outcome
        else:
            prepared.append(outcome)

    vectors, embed_s, embed_failure = _embed(prepared, ctx, sleep)
    if embed_failure is not None:
        failed.update({p.doc.doc_id: _failure(p.doc, embed_failure, p.attempts) for p in prepared})
        prepared = []

    outcomes = _write(todo, prepared, failed, vectors, embed_s, ctx, to, sleep)
    _record(versions, outcomes, ctx, to, sleep)
    return BatchResult(
        outcomes=tuple(outcomes[d.doc_id] for d in todo),
        skipped_doc_ids=tuple(sorted(already)),
        elapsed_s=time.monotonic() - started,
        worker=worker_label(),
        peak_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    )


def worker_label() -> str:
    """The process a batch ran in, as the summary keys its workers' memory: host and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _prepare(doc: DocRef, ctx: BatchContext, sleep) -> tuple[DocRef, _Prepared | DocOutcome]:
    """The version of `doc` that was parsed, which is not always the one discovery hashed (the
    file may have changed in between), and what became of it. A failure is recorded for that
    version too: a parse failure of new bytes must not be checkpointed as the old bytes'."""
    t0 = time.monotonic()
    timeout_s = caps.parse_timeout(ctx.parse_timeout_s, ctx.parse_timeout_s_per_mb, doc.size)
    limits = Limits(timeout_s, ctx.parse_memory_mb)
    version = doc

    def read_and_parse():
        nonlocal version
        parser = ctx.parser_for(doc.doc_type)
        with snapshot(doc.path, ctx.source_for(doc.path)) as copy:
            version = _as_parsed(doc, copy, ctx)
            return parser.parse(copy.path, doc.doc_type, limits)

    try:
        parsed = call_with_policy(read_and_parse, stage=Stage.PARSE, policies=ctx.policies, sleep=sleep)
    except PolicyExhausted as exhausted:
        _raise_if_system(exhausted.error)
        return version, _failure(version, exhausted.error, exhausted.attempts, parse_s=time.monotonic() - t0)
    t1 = time.monotonic()
    try:
        chunks = call_with_policy(
            lambda: _chunks_or_fail(parsed.value, ctx),
            stage=Stage.CHUNK,
            policies=ctx.policies,
            sleep=sleep,
        )
    except PolicyExhausted as exhausted:
        _raise_if_system(exhausted.error)
        return version, _failure(version, exhausted.error, parsed.attempts, parse_s=t1 - t0)
    ocr_s = ocr_seconds(parsed.value)
    return version, _Prepared(version, tuple(chunks.value), parsed.attempts, t1 - t0, time.monotonic() - t1, ocr_s)


def _as_parsed(doc: DocRef, copy: Snapshot, ctx: BatchContext) -> DocRef:
    """The ledger records the cheap version (stat, ETag) the worker saw around its own read,
    so the next run's quick check vouches for exactly the bytes that were parsed."""
    stamped = versions.stamped(doc, copy.stat, copy.observed_ns, copy.version)
    if copy.content_sha256 == doc.content_sha256:
        return stamped
    if doc.content_sha256:  # "" : a changed object that discovery left to this fetch
        log.warning("%s changed after discovery; recording the version that was parsed", doc.doc_id)
    fingerprint = document_fingerprint(copy.content_sha256, ctx.pipeline_fingerprint)
    return replace(stamped, content_sha256=copy.content_sha256, size=copy.size, fingerprint=fingerprint)


def _chunks_or_fail(elements, ctx: BatchContext) -> list[Chunk]:
    caps.check_text(elements, ctx.max_text_chars)
    chunks = chunk_elements(elements, ctx.chunking)
    if not chunks:
        raise ParseError("document produced no chunks", stage=Stage.CHUNK)
    caps.check_chunks(len(chunks), ctx.max_chunks)
    return chunks


def _embed(prepared: list[_Prepared], ctx: BatchContext, sleep):
    texts = [t for p in prepared for t in embedded_texts(p.chunks, ctx.chunking.carry_title)]
    if not texts:
        return None, 0.0, None
    t0 = time.monotonic()
    try:
        vectors = call_with_policy(
            lambda: ctx.embedder.encode(texts),
            stage=Stage.EMBED,
            policies=ctx.policies,
            sleep=sleep,
        ).value
    except PolicyExhausted as exhausted:
        _raise_if_system(exhausted.error)
        return None, time.monotonic() - t0, exhausted.error
    return vectors, time.monotonic() - t0, None


def _write(todo, prepared, failed, vectors, embed_s, ctx: BatchContext, to: Destination, sleep) -> dict:
    """Replace the chunks of every document in the batch in one commit. Failed documents lose
    their old chunks too: those belong to bytes or settings that are no longer current."""
    doc_ids = [d.doc_id for d in todo]
    if not doc_ids:
        return {}
    t0 = time.monotonic()
    payload = [DocChunks(p.doc.doc_id, p.doc.fingerprint, p.doc.path, p.doc.doc_type, p.chunks) for p in prepared]

    def commit() -> None:
        # Old checkpoints go first: a crash after this leaves documents to redo, never a
        # checkpoint that outlives the chunks it stood for.
        to.checkpoints.forget(doc_ids)
        to.store.replace_documents(doc_ids, payload, vectors, ctx.run_id)

    try:
        call_with_policy(commit, stage=Stage.WRITE, policies=ctx.policies, sleep=sleep)
    except PolicyExhausted as exhausted:
        _raise_if_system(exhausted.error)
        failed.update({p.doc.doc_id: _failure(p.doc, exhausted.error, p.attempts) for p in prepared})
        prepared = []
    write_s = time.monotonic() - t0

    total_chunks = sum(len(p.chunks) for p in prepared) or 1
    outcomes = dict(failed)
    for p in prepared:
        share = len(p.chunks) / total_chunks
        outcomes[p.doc.doc_id] = DocOutcome(
            doc_id=p.doc.doc_id,
            fingerprint=p.doc.fingerprint,
            status=DocStatus.DONE,
            chunk_count=len(p.chunks),
            attempts=p.attempts,
            stage=Stage.DONE,
            size=p.doc.size,
            timings=StageTimings(p.parse_s, p.chunk_s, embed_s * share, write_s * share, p.ocr_s),
        )
    return outcomes


def _record(versions, outcomes: dict, ctx: BatchContext, to: Destination, sleep) -> None:
    """`versions`: each document as it was parsed, so ledger rows and checkpoints name the
    bytes its chunks came from."""
    if not versions:
        return
    entries = [LedgerEntry(doc, outcomes[doc.doc_id]) for doc in versions]

    def write_ledger() -> None:
        to.state.upsert(entries, ctx.run_id)

    def write_checkpoints() -> None:
        for doc in versions:
            if outcomes[doc.doc_id].final:
                to.checkpoints.record(doc, outcomes[doc.doc_id], ctx.run_id)

    for stage, step in ((Stage.LEDGER, write_ledger), (Stage.CHECKPOINT, write_checkpoints)):
        try:
            call_with_policy(step, stage=stage, policies=ctx.policies, sleep=sleep)
        except PolicyExhausted as exhausted:
            raise DocflowSystemError(
                f"cannot record outcomes ({stage}): {exhausted.error}", stage=stage
            ) from exhausted.error


def _failure(doc: DocRef, error: DocflowError, attempts: int, parse_s: float = 0.0) -> DocOutcome:
    return DocOutcome(
        doc_id=doc.doc_id,
        fingerprint=doc.fingerprint,
        status=DocStatus.FAILED,
        attempts=attempts,
        stage=error.stage,
        error_class=error.error_class,
        error_message=error.message,
        size=doc.size,
        timings=StageTimings(parse_s=parse_s),
    )


def _raise_if_system(error: DocflowError) -> None:
    if rules_for(error.error_class).stops_run:
        raise error
