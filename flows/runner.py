"""The Dask task runner a run's batches go to, built per call from that call's settings.

A local cluster of process workers by default (one per core, one thread each, so the embedding
model's torch threads do not oversubscribe the cores); an existing `distributed` scheduler when
an address is given. Whoever calls a flow may hand it a runner
(`flow.with_options(task_runner=build_task_runner(settings))`, as the service layer does for
the CLI); a deployment run, whose flow has no runner of its own, gets one built from its
worker's settings and its parameters."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

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


@contextmanager
def batch_runner(settings: DocflowSettings, given: object) -> Iterator[DaskTaskRunner]:
    """`given` (the flow run's task runner, already started by Prefect) when it is a Dask
    runner for the scheduler the run's settings name (None: a local cluster); otherwise a
    runner built for this call from the settings, closed when the batches are done."""
    if isinstance(given, DaskTaskRunner) and given.address == settings.address:
        yield given
        return
    with build_task_runner(settings) as runner:
        yield runner


def worker_count(runner: DaskTaskRunner) -> int:
    """An existing cluster's workers as its scheduler counts them; a local one's as asked."""
    if runner.address:
        return max(1, len(runner.client.scheduler_info().get("workers", {})))
    return runner.cluster_kwargs["n_workers"]


def torch_threads_per_worker(runner: DaskTaskRunner) -> int:
    """0 leaves a remote worker's default alone: we do not know its core count."""
    if runner.address:
        return 0
    return max(1, (os.cpu_count() or 1) // runner.cluster_kwargs["n_workers"])


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
