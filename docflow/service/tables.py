"""What a person asks of an indexed table: status, verify (and repair), search, the export
history, an import, and the recent runs the Prefect API knows.

These read the tables directly, in this process. A storage fault (an unreadable manifest, an
unreachable bucket) becomes one StoreUnavailable with the classified reason and what to do,
never a traceback."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import TypeVar

from docflow.adapters.checkpoints.checkpoint import PrefectCheckpoints
from docflow.adapters.embedders import embedder_for_table
from docflow.adapters.sources import Sources
from docflow.adapters.stores import open_state, open_store, target_of
from docflow.core.discover import discover
from docflow.core.errors import DocflowError
from docflow.core.models import Stage
from docflow.core.search import search as search_table
from docflow.core.settings import DocflowSettings
from docflow.core.verify import ensure_readable, explain, repair, verify as verify_table
from docflow.ports.store import snapshots

T = TypeVar("T")


class StoreUnavailable(Exception):
    """The table cannot be read: the message is the classified reason."""


class NotFound(Exception):
    """Nothing is indexed under that name: the message says where it looked."""


def readable(settings: DocflowSettings, read: Callable[[], T]) -> T:
    store = open_store(target_of(settings))
    try:
        ensure_readable(store)
        return read()
    except NotFound:
        raise
    except Exception as exc:  # noqa: BLE001 - explained below
        error = explain(exc, store, Stage.FLOW)
        raise StoreUnavailable(f"{error.error_class.value} error: {error}") from exc


@dataclass(frozen=True)
class Status:
    """`report` is what `status --json` prints; `examples` one failed doc id per class."""

    report: dict
    examples: dict[str, str]


def status(settings: DocflowSettings, failed: bool) -> Status:
    return readable(settings, lambda: _status(settings, failed))


def _status(settings: DocflowSettings, with_failed: bool) -> Status:
    target = target_of(settings)
    state = open_state(target)
    if not state.exists():
        raise NotFound(f"nothing ingested into {settings.table!r} in {settings.db}")
    failures = state.failures()
    by_class: dict[str, list[str]] = {}
    for failure in failures:
        by_class.setdefault(failure["error_class"] or "unknown", []).append(failure["doc_id"])
    report = {
        "table": settings.table,
        "counts": state.status_counts(),
        "chunks": open_store(target).count(),
        "failures_by_class": {k: len(v) for k, v in sorted(by_class.items())},
        "runs": [
            {
                "run_id": r["run_id"],
                "started_at": r["started_at"].isoformat(),
                "duration_s": round((r["finished_at"] - r["started_at"]).total_seconds(), 1),
                "outcome": r["outcome"],
            }
            for r in state.recent_runs(5)
        ],
    }
    last = state.recent_runs(1)
    last_summary = json.loads(last[0]["summary_json"] or "{}") if last else {}
    report["last_run_ignored"] = {
        k: last_summary.get(k, 0 if k == "documents_ignored" else {})
        for k in ("documents_ignored", "ignored_by_reason", "ignored_by_extension")
    }
    if with_failed:
        report["failed"] = failures
    return Status(report, {k: v[0] for k, v in sorted(by_class.items())})


def verify(settings: DocflowSettings, sources: Sequence[str] | None, with_repair: bool) -> dict:
    """The verify report's payload (`consistent`, counts, examples, and with `with_repair`
    the re-queued documents)."""
    return readable(settings, lambda: _verify(settings, sources, with_repair))


def _verify(settings: DocflowSettings, sources: Sequence[str] | None, with_repair: bool) -> dict:
    from flows.pipeline import build_pipeline

    target = target_of(settings)
    store = open_store(target)
    info = store.info()
    if info is None:
        raise NotFound(f"no table {settings.table!r} in {settings.db}")
    checkpoints = PrefectCheckpoints.of(target, info.generation)
    source = None
    if sources:
        fingerprint = build_pipeline(settings).config.fingerprint()
        source = discover(sources, fingerprint, settings.include, settings.exclude,
                          source_for=Sources(settings.remote_timeout_s)).documents
    report = verify_table(store, open_state(target), checkpoints, source)
    payload = report.as_dict()
    if with_repair:
        payload["requeued"] = repair(store, checkpoints, report)
    return payload


def search(settings: DocflowSettings, query: str, k: int, backend: str | None) -> list[dict]:
    """Hits as plain dicts; a DocflowError's message is the refusal (another backend, no table)."""
    try:
        embedder_for = partial(embedder_for_table, device=settings.device, backend=backend,
                               cache_dir=settings.model_cache_dir)
        hits = search_table(open_store(target_of(settings)), query, embedder_for, k=k)
    except DocflowError as exc:
        raise StoreUnavailable(str(exc)) from exc
    return [asdict(h) for h in hits]


def exports(settings: DocflowSettings) -> list[dict]:
    return open_state(target_of(settings)).export_history()


def load_snapshot(settings: DocflowSettings, snapshot: str, force: bool) -> int:
    try:
        return snapshots(open_store(target_of(settings)), "import").import_snapshot(snapshot, force=force)
    except DocflowError as exc:
        raise StoreUnavailable(str(exc)) from exc


def recent_runs(n: int) -> list[dict]:
    """From the Prefect API the caller chose."""
    from flows.history import recent_ingest_runs

    return recent_ingest_runs(n)
