"""The Dask task runner every docflow flow uses.

A local cluster of process workers by default (one per core, one thread each, so the embedding
model's torch threads do not oversubscribe the cores); an existing `distributed` scheduler when
an address is given."""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence

from prefect_dask import DaskTaskRunner

from docflow.core.settings import DocflowSettings
from docflow.core.errors import DocflowSystemError
from docflow.core.locations import is_remote, local_path


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


def use_address(runner: DaskTaskRunner, address: str) -> DaskTaskRunner:
    """Point the flow run's task runner at `address` when a flow parameter or block names a
    scheduler. The runner is bound when the flow is decorated, but prefect-dask creates its
    client and cluster lazily at the first submission, so until then it can still be sent
    to another scheduler instead of starting a local cluster."""
    if runner.address == address:
        return runner
    if runner._client is not None:  # noqa: SLF001 - the one state that makes this unsafe
        raise DocflowSystemError("the Dask task runner is already connected", stage="config")
    runner.address = address
    runner.cluster_kwargs = {}
    return runner


def torch_threads_per_worker(settings: DocflowSettings) -> int:
    """0 leaves a remote worker's default alone: we do not know its core count."""
    if settings.address:
        return 0
    return max(1, (os.cpu_count() or 1) // settings.resolved_workers())


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
            stage="config",
        )
