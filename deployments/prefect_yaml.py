"""prefect.yaml, generated from the registry.

The file is committed so plain `prefect deploy -n ingest` works from a clone, and generated so
it can never disagree with `serve` and `docflow deploy` (a test compares the two).

Code location: the build step records the directory `prefect deploy` runs in (the clone's root,
where prefect.yaml and the entrypoints are) and the pull step makes it the flow run's working
directory, so a process worker on the same machine runs the clone's code with the worker's
Python environment. Deploy again from another clone to point the deployments there."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import yaml

from deployments.registry import DEPLOYMENTS, WORK_POOL, DeploymentSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
PREFECT_YAML = REPO_ROOT / "prefect.yaml"

HEADER = """\
# Generated from deployments/registry.py by `docflow deploy --write-yaml`: edit the registry,
# then regenerate. Deploy from this directory with `docflow deploy` or
# `prefect deploy --no-prompt --all` (README: "Deployments").
"""


def render() -> str:
    document = {
        "name": "docflow",
        "prefect-version": version("prefect"),
        "build": [
            {
                "prefect.deployments.steps.run_shell_script": {
                    "id": "clone",
                    "script": "pwd",
                    "stream_output": False,
                }
            }
        ],
        "push": None,
        "pull": [
            {
                "prefect.deployments.steps.set_working_directory": {
                    "directory": "{{ clone.stdout }}",
                }
            }
        ],
        "deployments": [_deployment(spec) for spec in DEPLOYMENTS],
    }
    return HEADER + yaml.safe_dump(document, sort_keys=False, width=100)


def _deployment(spec: DeploymentSpec) -> dict:
    entry: dict = {
        "name": spec.name,
        "description": spec.description,
        "entrypoint": spec.entrypoint,
        "tags": list(spec.tags),
        "parameters": {},
        "work_pool": {"name": WORK_POOL, "work_queue_name": spec.work_queue, "job_variables": {}},
        "schedules": [],
    }
    if spec.schedule is not None:
        entry["schedules"] = [
            {
                "cron": spec.schedule.cron,
                "timezone": spec.schedule.timezone,
                "active": spec.schedule.active,
            }
        ]
    if spec.concurrency_limit is not None:
        entry["concurrency_limit"] = {
            "limit": spec.concurrency_limit,
            "collision_strategy": spec.collision_strategy,
        }
    return entry


def is_current() -> bool:
    return PREFECT_YAML.exists() and PREFECT_YAML.read_text() == render()


def write() -> None:
    PREFECT_YAML.write_text(render())
