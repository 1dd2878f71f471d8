"""Flow runs a person starts from a terminal: ingest, sync and export, run in this process.

The caller's settings (built once, from its arguments over DOCFLOW_* variables) become the
flow's parameters; the flow starts a task runner only once it knows there is work, and which
(flows/runner.py). `on_progress` hears the run's progress events (a terminal's progress bar)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from docflow.core.locations import is_remote
from docflow.core.settings import DocflowSettings
from flows.observers import Observers, observing


@dataclass(frozen=True)
class RunResult:
    """`summary` is None when the run ended without one; `ended` then says how."""

    summary: dict | None
    ended: str


class LostApi(Exception):
    """The Prefect API went away during the run; `summary` is the run's own, if it got that far."""

    def __init__(self, cause: Exception, summary: dict | None) -> None:
        super().__init__(str(cause))
        self.summary = summary


def missing_sources(paths: Sequence[str]) -> list[str]:
    """Local paths that do not exist (globs and URLs are the flow's to check)."""
    return [p for p in paths if not is_remote(p) and not os.path.exists(p) and not set("*?[") & set(p)]


OnProgress = Callable[[object], None] | None


FLOW_MODULES = {"ingest": "flows.ingest", "sync": "flows.sync", "export": "flows.export"}


def prepare(settings: DocflowSettings, run: str) -> None:
    """Import what `run` (a key of FLOW_MODULES) loads before its first result: its flow and
    the store's client. Seconds of imports, worth doing while the Prefect server starts."""
    import importlib

    from docflow.adapters import stores

    for module in (FLOW_MODULES[run], *stores.adapter(settings.store).client_modules):
        importlib.import_module(module)


def ingest(settings: DocflowSettings, paths: Sequence[str], on_progress: OnProgress = None, *, include=None,
           exclude=None, retry_failed: bool = False, rehash: bool = False) -> RunResult:
    from flows.ingest import ingest as flow

    return _run(flow, settings, paths, on_progress, include, exclude, retry_failed=retry_failed, rehash=rehash)


def sync(settings: DocflowSettings, paths: Sequence[str], on_progress: OnProgress = None, *, include=None, exclude=None,
         dry_run: bool = False, allow_mass_delete: bool = False, max_delete_fraction: float | None = None,
         rehash: bool = False) -> RunResult:
    from flows.sync import sync as flow

    extra = {} if max_delete_fraction is None else {"max_delete_fraction": max_delete_fraction}
    return _run(flow, settings, paths, on_progress, include, exclude, dry_run=dry_run,
                allow_mass_delete=allow_mass_delete, rehash=rehash, **extra)


def _run(flow, settings: DocflowSettings, paths: Sequence[str], on_progress: OnProgress, include, exclude,
         **extra) -> RunResult:
    import httpx

    from flows.finish import summary_of

    delivered: list[dict] = []  # the summary, also when Prefect cannot deliver the final state
    try:
        with observing(Observers(progress=on_progress, summary=delivered.append)):
            state = flow(
                paths=[p if is_remote(p) else os.path.abspath(p) for p in paths],
                db=settings.db,
                table=settings.table,
                batch_size=settings.batch_size,
                include=include,
                exclude=exclude,
                model=settings.model,
                embed_backend=settings.embed_backend and settings.embed_backend.value,
                store=settings.store or None,
                address=settings.address,
                return_state=True,
                **extra,
            )
    except httpx.HTTPError as exc:
        raise LostApi(exc, delivered[-1] if delivered else None) from exc
    return RunResult(summary_of(state), f"{state.type.value}: {state.message}")


def export(settings: DocflowSettings, out: str, on_progress: OnProgress = None, *, format: str,
           version: int | None, with_reports: bool, part_rows: int) -> dict | str:
    """The export's summary, or why it failed."""
    import httpx

    from flows.export import export as flow

    try:
        with observing(Observers(progress=on_progress)):
            state = flow(out=os.path.abspath(out), db=settings.db, table=settings.table, format=format,
                         version=version, with_reports=with_reports, part_rows=part_rows,
                         store=settings.store or None, return_state=True)
    except httpx.HTTPError as exc:
        raise LostApi(exc, None) from exc
    summary = state.result(raise_on_failure=False)
    return summary if isinstance(summary, dict) else str(summary)
