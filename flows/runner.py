"""The Dask task runner every docflow flow uses.

A local cluster of process workers by default (one per core, one thread each, so the embedding
model's torch threads do not oversubscribe the cores); an existing `distributed` scheduler when
an address is given."""

from __future__ import annotations

from prefect_dask import DaskTaskRunner

from docflow.settings import DocflowSettings


def build_task_runner(settings: DocflowSettings) -> DaskTaskRunner:
    if settings.address:
        return DaskTaskRunner(address=settings.address)
    return DaskTaskRunner(
        cluster_kwargs={
            "n_workers": settings.resolved_workers(),
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": ":0",  # a free port: never collide with another run
        }
    )


def torch_threads_per_worker(settings: DocflowSettings) -> int:
    """0 leaves a remote worker's default alone: we do not know its core count."""
    if settings.address:
        return 0
    import os

    return max(1, (os.cpu_count() or 1) // settings.resolved_workers())
