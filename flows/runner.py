"""The Dask task runner a run's batches go to, built per call from that call's settings.

A local cluster of process workers by default (one per core, one thread each, so the embedding
model's torch threads do not oversubscribe the cores); an existing `distributed` scheduler when
an address is given. Whoever calls a flow may hand it a runner
(`flow.with_options(task_runner=build_task_runner(settings))`); otherwise, as for the CLI and
deployment runs, one is built from the run's settings once the run knows it has work, so a run
with nothing to do starts no cluster. A run with only a few documents to process runs its
batches in the flow's own process instead: the first search hit of a small ingest should not
wait for a cluster to start and for each of its workers to load the model."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner

from docflow.core.settings import DocflowSettings
from docflow.core.errors import DocflowSystemError
from docflow.core.locations import is_remote, local_path
from docflow.core.models import Stage


def build_task_runner(settings: DocflowSettings) -> DaskTaskRunner:
    if settings.address:
        return DaskTaskRunner(address=settings.address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": settings.resolved_workers(),
            "threads_per_worker": 1,
            "processes": True,
            # A free port (never collide with another run), on loopback unless asked.
            "dashboard_address": settings.dashboard_address,
        }
    )


def runs_in_process(settings: DocflowSettings, documents: int) -> bool:
    """Only without an address: a named cluster is where the user wants the work done."""
    return not settings.address and documents <= settings.in_process_max_docs


@contextmanager
def batch_runner(settings: DocflowSettings, given: object, documents: int) -> Iterator[object]:
    """`given` (the flow run's task runner, already started by Prefect) when it is a Dask
    runner for the scheduler the run's settings name (None: a local cluster); for a run of a
    few `documents`, one thread of this process; otherwise a runner built for this call from
    the settings. A runner built here is closed when the batches are done."""
    if isinstance(given, DaskTaskRunner) and given.address == settings.address:
        yield given
        return
    runner = ThreadPoolTaskRunner(max_workers=1) if runs_in_process(settings, documents) else build_task_runner(settings)
    with runner:
        yield runner


def in_this_process(runner: object) -> bool:
    return isinstance(runner, ThreadPoolTaskRunner)


def remote_address(runner: object) -> str | None:
    """The scheduler of an existing cluster the batches go to; None for a local cluster or
    this process."""
    return runner.address if isinstance(runner, DaskTaskRunner) else None


def worker_count(runner: object) -> int:
    """An existing cluster's workers as its scheduler counts them; a local one's as asked;
    one for this process."""
    if in_this_process(runner):
        return 1
    if runner.address:
        return max(1, len(runner.client.scheduler_info().get("workers", {})))
    return runner.cluster_kwargs["n_workers"]


def torch_threads_per_worker(runner: object) -> int:
    """0 leaves a remote worker's default alone: we do not know its core count."""
    if remote_address(runner):
        return 0
    return max(1, (os.cpu_count() or 1) // worker_count(runner))


def _sees(path: str) -> bool:
    return os.path.exists(path)


def ensure_workers_see(client, paths: Sequence[str]) -> None:
    """On an existing cluster, workers may run on other hosts: a local LanceDB directory or
    checkpoint directory there would be a different, empty directory, and every run would
    silently redo (or lose) work. A probe file written here must be visible on every worker,
    so a path on a shared mount passes and a purely local one is refused."""
    local = [p for p in paths if not is_remote(p)]
    probes = []
    try:
        for path in local:
            directory = local_path(path)
            os.makedirs(directory, exist_ok=True)
            probe = os.path.join(directory, f".docflow-probe-{uuid.uuid4().hex}")
            with open(probe, "w"):
                pass
            probes.append((path, probe))
        blind = []
        for path, probe in probes:
            seen = client.run(_sees, probe)
            blind += [f"{worker} cannot see {path}" for worker, ok in sorted(seen.items()) if not ok]
    finally:
        for _, probe in probes:
            try:
                os.remove(probe)
            except OSError:
                pass
    if blind:
        raise DocflowSystemError(
            "storage is not shared with the Dask workers (" + "; ".join(blind) + "). Put the "
            "LanceDB URI and the checkpoint directory on storage every worker sees: a shared "
            "mount, or an object store URL such as s3://bucket/path",
            stage=Stage.CONFIG,
        )
