"""What `docflow deploy` does, step by step, against the API in PREFECT_API_URL.

The deployments themselves are created by `prefect deploy` from prefect.yaml, exactly as a user
running the plain Prefect command would, so there is one way a deployment comes to exist. Around
it docflow adds what `prefect deploy` refuses to do on its own: create the process work pool and
register the block types, so the UI offers docflow's block forms before anyone saves a block."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence

from deployments.prefect_yaml import PREFECT_YAML, REPO_ROOT
from deployments.registry import WORK_QUEUES, DeploymentSpec


def ensure_work_pool(name: str) -> bool:
    """Create the process work pool unless it exists; True when it was created."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
            return False
        except ObjectNotFound:
            client.create_work_pool(
                WorkPoolCreate(
                    name=name,
                    type=ProcessWorker.type,
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                )
            )
            return True


def ensure_work_queues(pool: str) -> dict[str, int]:
    """The registry's queues in `pool` with their priorities; returns name -> priority as the
    server holds them (it renumbers other queues, e.g. "default", to keep priorities unique)."""
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        for queue in WORK_QUEUES:
            try:
                found = client.read_work_queue_by_name(queue.name, work_pool_name=pool)
                client.update_work_queue(found.id, priority=queue.priority, description=queue.description)
            except ObjectNotFound:
                client.create_work_queue(
                    queue.name, description=queue.description, priority=queue.priority, work_pool_name=pool
                )
        return {q.name: q.priority for q in client.read_work_queues(work_pool_name=pool)}


def register_block_types() -> list[str]:
    """The same as `prefect block register -m blocks`; returns the block type slugs."""
    from blocks import BLOCK_TYPES

    for block_type in BLOCK_TYPES:
        block_type.register_type_and_schema()
    return [block_type.get_block_type_slug() for block_type in BLOCK_TYPES]


def prefect_deploy(specs: Sequence[DeploymentSpec], pool: str) -> subprocess.CompletedProcess:
    """`prefect deploy` in the clone's root (entrypoints and the build step are relative to
    it), with this Python: `prefect deploy` imports every entrypoint, which needs the
    project's environment."""
    command = [
        sys.executable, "-m", "prefect", "deploy", "--no-prompt",
        "--prefect-file", str(PREFECT_YAML), "--pool", pool,
    ]
    for spec in specs:
        command += ["--name", spec.name]
    return subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
