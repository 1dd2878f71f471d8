"""Every docflow deployment, in one list.

prefect.yaml is generated from it (`docflow deploy --write-yaml`), `docflow deploy` deploys it,
`python -m deployments.serve` serves it and `docflow trigger` looks names up in it, so a
deployment added or changed here is changed everywhere. Plain data: importing this module must
not import Prefect (the CLI builds its argument parser from it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

WORK_POOL = "docflow"


@dataclass(frozen=True)
class WorkQueueSpec:
    """A queue in the work pool. A worker polling the pool takes runs from the queue with
    the lowest priority number first, so a big scheduled backfill never holds up an ingest
    somebody is waiting for."""

    name: str
    priority: int
    description: str


WORK_QUEUES: tuple[WorkQueueSpec, ...] = (
    WorkQueueSpec("ingest", 1, "On-demand ingests: served first."),
    WorkQueueSpec("background", 2, "Scheduled syncs and exports: served when no ingest waits."),
)


@dataclass(frozen=True)
class CronSchedule:
    cron: str
    timezone: str
    # Off by default: nobody should find a new deployment syncing on its own; turn it on in
    # the UI (or `prefect deployment schedule resume`) once the parameters are right.
    active: bool = False


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    flow_name: str
    entrypoint: str
    description: str
    tags: tuple[str, ...]
    work_queue: str
    schedule: CronSchedule | None = None
    concurrency_limit: int | None = None
    collision_strategy: Literal["ENQUEUE", "CANCEL_NEW"] = "ENQUEUE"
    # (parameter, block parameter): the first is required unless the second names a block;
    # the server refuses a run that has neither (deployments/schema.py).
    required_unless: tuple[str, str] | None = None

    @property
    def full_name(self) -> str:
        """What the Prefect API, run_deployment and the UI call it."""
        return f"{self.flow_name}/{self.name}"


DEPLOYMENTS: tuple[DeploymentSpec, ...] = (
    DeploymentSpec(
        name="ingest",
        flow_name="docflow-ingest",
        entrypoint="flows.ingest:ingest",
        description="On-demand ingest of documents into a vector table; finished documents "
        "are skipped, so a rerun or a retried run resumes.",
        tags=("docflow", "ingest"),
        work_queue="ingest",
        required_unless=("paths", "source"),
    ),
    DeploymentSpec(
        name="sync",
        flow_name="docflow-sync",
        entrypoint="flows.sync:sync",
        description="Incremental sync of a table with its sources: new and changed documents "
        "are ingested, disappeared ones deleted.",
        tags=("docflow", "sync"),
        work_queue="background",
        schedule=CronSchedule(cron="0 * * * *", timezone="UTC"),
        # Two syncs writing one table would race on the same deletions; a tick that arrives
        # while the previous sync still runs is dropped (the next tick catches up), not queued.
        concurrency_limit=1,
        collision_strategy="CANCEL_NEW",
        required_unless=("paths", "source"),
    ),
    DeploymentSpec(
        name="export",
        flow_name="docflow-export",
        entrypoint="flows.export:export",
        description="Export a pinned-version snapshot of a chunk table (text, vectors, metadata) "
        "to a directory; an interrupted export resumes.",
        tags=("docflow", "export"),
        work_queue="background",
    ),
)


def get(name: str) -> DeploymentSpec:
    for spec in DEPLOYMENTS:
        if spec.name == name:
            return spec
    raise KeyError(f"no deployment {name!r}; known: {', '.join(names())}")


def names() -> list[str]:
    return [spec.name for spec in DEPLOYMENTS]
